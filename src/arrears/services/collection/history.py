"""Contact attempts in the database: the compliance gate's history, written and read in bulk.

* ``record_attempts``: the bulk insert of contacts made, idempotent by key, with evidence.
* ``history_for``: each borrower's contacts as the gate reads them.

Nothing here commits: writes append their evidence records in the caller's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    func,
    insert,
    or_,
    select,
    union_all,
)

from arrears.core.compliance.model import Contact
from arrears.core.evidence.chain import Entry, Kind
from arrears.services import evidence as log
from arrears.services.collection.common import (
    chunks,
    from_db,
    join_ids,
    maybe_from_db,
    split_ids,
    to_utc,
)
from arrears.services.references import recipient_ref
from arrears.store.case_tables import borrower_contacts, contact_attempts, queue_items
from arrears.store.insert_once import InsertOnce
from arrears.store.membership import batches, one_of
from arrears.store.outbox_tables import outbox


@dataclass(frozen=True, slots=True)
class Recording:
    location: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """A contact made (or an SMS sent) for ``borrower_id``; ``key`` applies once."""

    key: str
    borrower_id: str
    contact: Contact
    on_date: date
    policy: str | None = None
    step: str | None = None
    agent: str | None = None
    recording: Recording | None = None


def content_sha256(content: str) -> str | None:
    return hashlib.sha256(content.encode()).hexdigest() if content else None


def _attempt_row(a: Attempt) -> dict[str, Any]:
    c = a.contact
    return {
        "key": a.key,
        "borrower_id": a.borrower_id,
        "debt_id": c.debt_id,
        "at": to_utc(c.at),
        "on_date": a.on_date,
        "channel": c.channel,
        "party": c.party,
        "number": c.number,
        "connected": c.connected,
        "conversation": c.conversation,
        "consent_until": None if c.consent_until is None else to_utc(c.consent_until),
        "outcome": c.outcome,
        "content_sha256": content_sha256(c.content),
        "collectors": join_ids(c.collectors),
        "purpose": c.purpose,
        "policy": a.policy,
        "step": a.step,
        "agent": a.agent,
        "recording_location": a.recording.location if a.recording else None,
        "recording_sha256": a.recording.sha256 if a.recording else None,
    }


def attempt_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence record of an attempt: the number called as its keyed reference."""
    keep = (
        "key",
        "debt_id",
        "channel",
        "party",
        "connected",
        "conversation",
        "outcome",
        "content_sha256",
        "purpose",
        "policy",
        "step",
        "agent",
        "recording_location",
        "recording_sha256",
    )
    out = {k: row[k] for k in keep if row.get(k) is not None}
    if row.get("number"):
        out["number_ref"] = recipient_ref(str(row["number"]))
    out["collectors"] = list(split_ids(row.get("collectors", "")))
    out["on_date"] = row["on_date"].isoformat()
    return out


def record_attempts(conn: Connection, attempts: Sequence[Attempt]) -> int:
    """Insert the attempts whose key is new, with one evidence record each; return how many.

    Keys already recorded (a rerun close, a redelivered callback) are skipped, so the same
    attempt is recorded once. Keys repeated inside ``attempts`` are a caller's bug.
    """
    entries = insert_new_attempts(conn, attempts)
    log.append_many(conn, entries)
    return len(entries)


def insert_new_attempts(conn: Connection, attempts: Sequence[Attempt]) -> list[Entry]:
    """``record_attempts`` without the evidence: the new attempts inserted, and their records
    for the caller to append in the same transaction, with records of its own in one append
    (a call's outcome: the attempt and the outcome under one lock and one head read)."""
    if len(attempts) == 1:  # a call from the queue, a visit: one statement, not a read first
        row = _attempt_row(attempts[0])
        return attempt_entries([(attempts[0], row)] if _INSERT_ONCE(conn, row) else [])
    new = new_attempts(conn, attempts)
    if new:
        insert_attempts(conn, [row for _, row in new])
    return attempt_entries(new)


_INSERT_ONCE = InsertOnce(contact_attempts, ["key"])


def new_attempts(
    conn: Connection, attempts: Sequence[Attempt]
) -> list[tuple[Attempt, dict[str, Any]]]:
    """The attempts whose key is not on record yet, each with its row."""
    keys = [a.key for a in attempts]
    if len(set(keys)) != len(keys):
        raise ValueError("record_attempts: duplicate keys in one batch")
    seen: set[str] = set()
    for key_batch in batches(conn, keys):
        seen.update(
            conn.execute(
                select(contact_attempts.c.key).where(
                    one_of(conn, contact_attempts.c.key, key_batch)
                )
            ).scalars()
        )
    return [(a, _attempt_row(a)) for a in attempts if a.key not in seen]


def insert_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for row_batch in chunks(list(rows), 2000):
        conn.execute(insert(contact_attempts), row_batch)


def attempt_entries(new: Sequence[tuple[Attempt, dict[str, Any]]]) -> list[Entry]:
    """The evidence record of each attempt."""
    return [
        Entry(a.borrower_id, Kind.CONTACT_ATTEMPT, attempt_payload(row), a.contact.at)
        for a, row in new
    ]


def contact_from_row(r: Any) -> Contact:
    return Contact(
        at=from_db(r.at),
        debt_id=r.debt_id,
        channel=r.channel,
        party=r.party,
        number=r.number,
        connected=bool(r.connected),
        conversation=bool(r.conversation),
        consent_until=maybe_from_db(r.consent_until),
        outcome=r.outcome,
        collectors=split_ids(r.collectors or ""),
        purpose=r.purpose,
    )


_HISTORY_COLUMNS = (
    contact_attempts.c.borrower_id,
    contact_attempts.c.at,
    contact_attempts.c.debt_id,
    contact_attempts.c.channel,
    contact_attempts.c.party,
    contact_attempts.c.number,
    contact_attempts.c.connected,
    contact_attempts.c.conversation,
    contact_attempts.c.consent_until,
    contact_attempts.c.outcome,
    contact_attempts.c.collectors,
    contact_attempts.c.purpose,
)


def history_for(
    conn: Connection,
    borrower_ids: Iterable[str],
    since: datetime | None = None,
    *,
    planned_after: datetime | None = None,
) -> dict[str, list[Contact]]:
    """Each borrower's contacts (lender and agencies, every debt), oldest first.

    ``since`` trims the debtor's old contacts for speed: the caps look back at most 7 days,
    and refusals reach the gate through ``context_for`` (``Context.refused``). Contacts with
    third parties are kept whatever their age: Regulation F allows one location contact per
    person, ever, unless they ask for another, and only the whole history can show that.

    ``planned_after``: also the contacts planned and not yet made whose window ends after this
    instant (messages queued or being sent, calls on the agent queue not yet dialled), at the
    instant they are due, so that what is planned can never push a day past a cap once made.
    Without it, only what was made: what a borrower's record and the audit show.
    """
    ids = sorted(set(borrower_ids))
    out: dict[str, list[Contact]] = {b: [] for b in ids}
    for batch in batches(conn, ids):
        q = select(*_HISTORY_COLUMNS).where(one_of(conn, contact_attempts.c.borrower_id, batch))
        if since is not None:
            q = q.where(
                or_(contact_attempts.c.at >= to_utc(since), contact_attempts.c.party != "debtor")
            )
        rows = conn.execute(
            q.order_by(
                contact_attempts.c.borrower_id, contact_attempts.c.at, contact_attempts.c.attempt_id
            )
        ).all()
        # Positional unpacking: attribute access on 100k+ rows costs more than the query.
        for b, at, debt, channel, party, number, conn_, conv, consent, outcome, coll, purp in rows:
            out[b].append(
                Contact(
                    at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
                    debt_id=debt,
                    channel=channel,
                    party=party,
                    number=number,
                    connected=bool(conn_),
                    conversation=bool(conv),
                    consent_until=maybe_from_db(consent),
                    outcome=outcome,
                    collectors=tuple(coll.split(",")) if coll else (),
                    purpose=purp,
                )
            )
    if planned_after is not None:
        for b, contact in _planned(conn, ids, planned_after):
            out[b].append(contact)
        for contacts in out.values():
            contacts.sort(key=lambda c: c.at)  # stable: made before planned at one instant
    return out


def _planned(conn: Connection, ids: Sequence[str], after: datetime) -> list[tuple[str, Contact]]:
    """Contacts planned, not yet made, whose window ends after ``after``, by borrower."""
    o, q = outbox, queue_items
    found: list[tuple[str, Contact]] = []
    cut = to_utc(after)
    for batch in batches(conn, ids):
        messages = select(
            o.c.borrower_id, o.c.next_attempt_at, o.c.loan_id, o.c.channel, o.c.party, o.c.recipient
        ).where(
            one_of(conn, o.c.borrower_id, batch),
            o.c.status.in_(("queued", "sending")),
            or_(o.c.expires_at.is_(None), o.c.expires_at > cut),
        )
        calls = select(q.c.borrower_id, q.c.due_at, q.c.loan_id, q.c.party, q.c.number).where(
            one_of(conn, q.c.borrower_id, batch),
            q.c.done_at.is_(None),
            or_(q.c.expires_at.is_(None), q.c.expires_at > cut),
        )
        # A message due again later (a retry) or being sent counts at that instant: the day
        # it falls on is what the caps count.
        for b, at, loan, channel, party, recipient in conn.execute(messages).all():
            found.append((b, Contact(from_db(at), loan, channel, party, recipient)))
        for b, at, loan, party, number in conn.execute(calls).all():
            found.append((b, Contact(from_db(at), loan, "call", party, number)))
    return found


def last_reached(
    only: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None,
) -> Select[Any]:
    """Each borrower's last day the debtor was reached, ``(borrower_id, on_date)``: a
    conversation with them, or a message or callback request they sent us. From that day the
    debtor is reachable (third parties are off limits) and the unreachable days start again.

    ``only(column)``: the borrowers wanted (a batch), applied inside both branches so each
    reads its borrower index rather than the whole table grouped."""
    talks = select(
        contact_attempts.c.borrower_id.label("borrower_id"),
        contact_attempts.c.on_date.label("on_date"),
    ).where(contact_attempts.c.party == "debtor", contact_attempts.c.conversation.is_(True))
    own = select(
        borrower_contacts.c.borrower_id.label("borrower_id"),
        borrower_contacts.c.on_date.label("on_date"),
    )
    if only is not None:
        talks = talks.where(only(contact_attempts.c.borrower_id))
        own = own.where(only(borrower_contacts.c.borrower_id))
    reached = union_all(talks, own).subquery("reached")
    return select(reached.c.borrower_id, func.max(reached.c.on_date)).group_by(
        reached.c.borrower_id
    )
