"""The audit log of personal data shown unmasked to staff: a number an agent dials, an address
a field collector visits. Written in the same transaction as the read it records, so a read
that is answered is always on the log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from arrears.core.jsonable import jsonable
from arrears.store.api_tables import pii_reads
from arrears.store.instants import from_db, to_utc

R = pii_reads


@dataclass(frozen=True, slots=True)
class PiiRead:
    read_id: int
    at: datetime
    username: str
    role: str
    route: str
    borrower_id: str
    fields: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def record_reads(
    conn: Connection,
    *,
    username: str,
    role: str,
    route: str,
    borrower_ids: Iterable[str],
    fields: Sequence[str],
    at: datetime,
) -> int:
    """One line per borrower whose ``fields`` were shown to ``username``; the number written."""
    rows = [
        {
            "at": to_utc(at),
            "username": username,
            "role": role,
            "route": route,
            "borrower_id": b,
            "fields": ",".join(fields),
        }
        for b in sorted(set(borrower_ids))
    ]
    if rows:
        conn.execute(insert(R), rows)
    return len(rows)


def list_reads(
    conn: Connection,
    *,
    borrower_id: str | None = None,
    username: str | None = None,
    latest: int | None = None,
) -> list[PiiRead]:
    """The reads by id; ``latest``: only the newest that many, newest first (a page of the log,
    which only grows)."""
    q = select(R)
    if borrower_id is not None:
        q = q.where(R.c.borrower_id == borrower_id)
    if username is not None:
        q = q.where(R.c.username == username)
    newest = q.order_by(R.c.read_id.desc()).limit(latest)
    q = q.order_by(R.c.read_id) if latest is None else newest
    return [
        PiiRead(
            r.read_id,
            from_db(r.at),
            r.username,
            r.role,
            r.route,
            r.borrower_id,
            tuple(f for f in r.fields.split(",") if f),
        )
        for r in conn.execute(q)
    ]


def count_reads(
    conn: Connection, *, borrower_id: str | None = None, username: str | None = None
) -> int:
    q = select(func.count()).select_from(R)
    if borrower_id is not None:
        q = q.where(R.c.borrower_id == borrower_id)
    if username is not None:
        q = q.where(R.c.username == username)
    return int(conn.execute(q).scalar_one())
