"""What a borrower adds to their own evidence chain, as the seed's lawyers advise: write down
every call and visit (the time, the caller's name, what was said) and keep screenshots and
recordings.

A note's words are kept in ``borrower_records`` and its chain record holds their SHA-256, so
an evidence pack can show the words and prove they are the ones written on that day. A file
is not uploaded: the borrower keeps it, the chain keeps its name, size and SHA-256, and
anyone holding the file can show it is the one recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from arrears.core.evidence.chain import Kind, sha256_hex
from arrears.core.jsonable import jsonable
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.core.requests import request_problems
from arrears.services import evidence as log
from arrears.store import tables
from arrears.store.case_tables import borrower_records
from arrears.store.instants import from_db, maybe_from_db, to_utc

BR = borrower_records
CHANNELS = ("call", "visit", "message", "other")
FILE_KINDS = ("screenshot", "recording", "document")
MAX_TEXT = 4000
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class OwnRecord:
    key: str
    borrower_id: str
    kind: str  # note | screenshot | recording | document
    seq: int  # its record in the borrower's chain
    received_at: datetime
    sha256: str
    channel: str | None = None
    happened_at: datetime | None = None
    caller_name: str | None = None
    text: str = ""
    file_name: str | None = None
    file_size: int | None = None
    already_recorded: bool = False

    def as_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def _own(row: Any, already: bool = False) -> OwnRecord:
    return OwnRecord(
        row.key,
        row.borrower_id,
        row.kind,
        row.seq,
        from_db(row.received_at),
        row.sha256,
        row.channel,
        maybe_from_db(row.happened_at),
        row.caller_name,
        row.text,
        row.file_name,
        row.file_size,
        already,
    )


def _save(
    conn: Connection, record: str, values: dict[str, Any], kind: Kind, payload: dict[str, Any]
) -> Result[OwnRecord]:
    """Insert the row and its chain record, or return the earlier one for the same key."""
    prior = conn.execute(select(BR).where(BR.c.key == values["key"])).first()
    if prior is not None:
        same = all(
            (maybe_from_db(getattr(prior, k)) if isinstance(v, datetime) else getattr(prior, k))
            == v
            for k, v in values.items()
            if k != "received_at"
        )
        if not same:
            return fail(Problem(record, "key", "already used for another record", "conflict"))
        return ok(_own(prior, already=True))
    known = conn.execute(
        select(tables.borrowers.c.borrower_id).where(
            tables.borrowers.c.borrower_id == values["borrower_id"]
        )
    ).first()
    if known is None:
        return fail(not_found(record, f"no borrower {values['borrower_id']}", "borrower_id"))
    chained = log.append(conn, values["borrower_id"], kind, payload, values["received_at"])
    conn.execute(insert(BR).values(**values, seq=chained.seq))
    return ok(_own(conn.execute(select(BR).where(BR.c.key == values["key"])).one()))


def add_note(
    conn: Connection,
    *,
    key: str,
    borrower_id: str,
    at: datetime,
    happened_at: datetime,
    channel: str,
    caller_name: str,
    said: str,
) -> Result[OwnRecord]:
    """The borrower's note of a call, visit or message: when, who, what was said."""
    record = f"note {key}"
    problems = request_problems(record, key, at)
    if channel not in CHANNELS:
        problems.append(Problem(record, "channel", f"must be one of {', '.join(CHANNELS)}"))
    if happened_at.utcoffset() is None:
        problems.append(Problem(record, "happened_at", "must carry a time-zone offset"))
    elif at.utcoffset() is not None and happened_at > at:
        problems.append(Problem(record, "happened_at", "must not be after the note is written"))
    if len(caller_name) > MAX_NAME:
        problems.append(Problem(record, "caller_name", f"must be at most {MAX_NAME} characters"))
    if not said.strip():
        problems.append(Problem(record, "said", "must say what was said or done"))
    elif len(said) > MAX_TEXT:
        problems.append(Problem(record, "said", f"must be at most {MAX_TEXT} characters"))
    if problems:
        return fail(*problems)
    digest = hashlib.sha256(said.encode("utf-8")).hexdigest()
    values = {
        "key": key,
        "borrower_id": borrower_id,
        "kind": "note",
        "channel": channel,
        "happened_at": to_utc(happened_at),
        "caller_name": caller_name,
        "text": said,
        "sha256": digest,
        "received_at": to_utc(at),
    }
    payload = {
        "key": key,
        "channel": channel,
        "happened_at": to_utc(happened_at).isoformat(),
        # The chain outlives erasure (it is append-only): a name goes in as its SHA-256.
        "caller_name_sha256": sha256_hex(caller_name),
        "text_sha256": digest,
    }
    return _save(conn, record, values, Kind.BORROWER_NOTE, payload)


def add_file(
    conn: Connection,
    *,
    key: str,
    borrower_id: str,
    at: datetime,
    kind: str,
    name: str,
    data: bytes,
) -> Result[OwnRecord]:
    """A screenshot, recording or document the borrower keeps, recorded by its SHA-256."""
    record = f"file {key}"
    problems = request_problems(record, key, at)
    if kind not in FILE_KINDS:
        problems.append(Problem(record, "kind", f"must be one of {', '.join(FILE_KINDS)}"))
    if not name.strip() or len(name) > 255 or "/" in name or "\\" in name:
        problems.append(Problem(record, "name", "must be a file name of 1-255 characters"))
    if not data:
        problems.append(Problem(record, "data", "the file is empty"))
    if problems:
        return fail(*problems)
    digest = hashlib.sha256(data).hexdigest()
    values = {
        "key": key,
        "borrower_id": borrower_id,
        "kind": kind,
        "file_name": name,
        "file_size": len(data),
        "sha256": digest,
        "received_at": to_utc(at),
    }
    # A file's name may name a person; the chain keeps its SHA-256 (it outlives erasure).
    payload = {
        "key": key,
        "kind": kind,
        "name_sha256": sha256_hex(name),
        "size": len(data),
        "sha256": digest,
    }
    return _save(conn, record, values, Kind.BORROWER_FILE, payload)


def own_records(conn: Connection, borrower_id: str) -> list[OwnRecord]:
    """The borrower's own records, in chain order."""
    q = select(BR).where(BR.c.borrower_id == borrower_id).order_by(BR.c.seq)
    return [_own(r) for r in conn.execute(q)]
