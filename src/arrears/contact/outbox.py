"""The transactional outbox: enqueue inside the caller's transaction; claim, mark and read.

``enqueue(conn, messages)`` runs in the transaction of the close that decided the messages, so
they exist exactly when that decision committed: a close that rolls back leaves nothing queued
and nothing can be sent. It is idempotent by key (a rerun of the same close adds nothing).

Row life: ``queued`` (due at ``next_attempt_at``) -> ``sending`` (claimed; the claim's lease ends
at ``next_attempt_at``) -> ``sent`` | back to ``queued`` with backoff | ``failed``. A claim adds
one to ``attempts``; a mark applies only if the row is still the one this claim took (status
``sending`` and the same ``attempts``), so a dispatcher that outlived its lease cannot overwrite
the work of the one that re-claimed the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Row, func, select, update

from arrears.contact.messages import OutboundMessage
from arrears.store.outbox_tables import insert_new, outbox

Status = Literal["queued", "sending", "sent", "failed"]
STATUSES: tuple[Status, ...] = get_args(Status)
_CHUNK = 50_000  # rows per bulk insert: bounds the memory of one statement's batch

T = outbox


def as_utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back the naive UTC text we stored (see outbox_tables)."""
    return value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    message: OutboundMessage
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    provider_id: str | None

    def as_dict(self, with_body: bool = True) -> dict[str, Any]:
        m = self.message
        out: dict[str, Any] = {
            "key": m.key,
            "borrower_id": m.borrower_id,
            "loan_id": m.loan_id,
            "channel": m.channel,
            "party": m.party,
            "recipient": m.recipient,
            "template": m.template,
            "language": m.language,
            "policy": m.policy,
            "step": m.step,
            "business_date": m.business_date.isoformat(),
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "expires_at": m.expires_at.isoformat() if m.expires_at else None,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "provider_id": self.provider_id,
            "subject": m.subject,
        }
        if with_body:
            out["body"] = m.body
        return out


def _to_row(message: OutboundMessage, now: datetime) -> dict[str, Any]:
    return {
        "message_key": message.key,
        "borrower_id": message.borrower_id,
        "loan_id": message.loan_id,
        "channel": message.channel,
        "party": message.party,
        "recipient": message.recipient,
        "template": message.template,
        "language": message.language,
        "subject": message.subject,
        "body": message.body,
        "policy": message.policy,
        "step": message.step,
        "business_date": message.business_date,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": as_utc(message.not_before or now),
        "expires_at": as_utc(message.expires_at) if message.expires_at else None,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
        "provider_id": None,
    }


def from_db(row: Row[Any] | Mapping[str, Any]) -> OutboxRow:
    r: Mapping[Any, Any] = row._mapping if isinstance(row, Row) else row
    business_date = r["business_date"]
    if isinstance(business_date, datetime):  # pragma: no cover - drivers return date
        business_date = business_date.date()
    assert isinstance(business_date, date)
    message = OutboundMessage(
        key=r["message_key"],
        borrower_id=r["borrower_id"],
        loan_id=r["loan_id"],
        channel=r["channel"],
        party=r["party"],
        recipient=r["recipient"],
        template=r["template"],
        language=r["language"],
        subject=r["subject"],
        body=r["body"],
        policy=r["policy"],
        step=r["step"],
        business_date=business_date,
        expires_at=as_utc(r["expires_at"]) if r["expires_at"] else None,
    )
    return OutboxRow(
        message=message,
        status=r["status"],
        attempts=r["attempts"],
        next_attempt_at=as_utc(r["next_attempt_at"]),
        last_error=r["last_error"],
        created_at=as_utc(r["created_at"]),
        sent_at=as_utc(r["sent_at"]) if r["sent_at"] else None,
        provider_id=r["provider_id"],
    )


def enqueue(
    conn: Connection, messages: Iterable[OutboundMessage], now: datetime | None = None
) -> int:
    """Queue ``messages`` inside the caller's transaction; the number of rows new to the outbox.

    A key already in the outbox (an earlier run of the same close) is left as it is, whatever
    its status. The same key twice in one call with different contents is a caller's bug and
    raises ``ValueError`` before anything is written.
    """
    return insert_rows(conn, rows_for(messages, now or datetime.now(UTC)))


def rows_for(messages: Iterable[OutboundMessage], now: datetime) -> list[dict[str, Any]]:
    """The outbox rows of ``messages`` (pure): what ``enqueue`` inserts, built ahead."""
    at = as_utc(now)
    unique: dict[str, OutboundMessage] = {}
    for m in messages:
        seen = unique.setdefault(m.key, m)
        if seen != m:
            raise ValueError(f"message {m.key}: enqueued twice with different contents")
    return [_to_row(m, at) for m in unique.values()]


def insert_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows from ``rows_for`` (keys already there are left as they are); how many new."""
    added = 0
    for i in range(0, len(rows), _CHUNK):
        added += insert_new(conn, outbox, rows[i : i + _CHUNK])
    return added


def get(conn: Connection, key: str) -> OutboxRow | None:
    row = conn.execute(select(T).where(T.c.message_key == key)).first()
    return None if row is None else from_db(row)


def list_rows(
    conn: Connection,
    status: Status | None = None,
    borrower_id: str | None = None,
    limit: int = 100,
) -> list[OutboxRow]:
    """Newest first."""
    query = select(T).order_by(T.c.created_at.desc(), T.c.message_key).limit(limit)
    if status is not None:
        query = query.where(T.c.status == status)
    if borrower_id is not None:
        query = query.where(T.c.borrower_id == borrower_id)
    return [from_db(r) for r in conn.execute(query)]


def counts(conn: Connection) -> dict[str, int]:
    """Rows by status (every status present, zero when none)."""
    query = select(T.c.status, func.count()).group_by(T.c.status)
    found: dict[str, int] = {status: int(n) for status, n in conn.execute(query)}
    return {s: found.get(s, 0) for s in STATUSES}


def claim(
    conn: Connection, channels: Sequence[str], now: datetime, limit: int, lease: timedelta
) -> list[OutboxRow]:
    """Take up to ``limit`` due rows for ``channels``: queued and due, or sending with a lease
    that ran out (its dispatcher died). Run in a transaction of its own and commit it at once.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent dispatchers take disjoint rows.
    SQLite: the transaction began with ``BEGIN IMMEDIATE`` and holds the one write lock.
    """
    at = as_utc(now)
    # One query per status, each read in index order (ix_outbox_due: status, next attempt,
    # key) and cut at ``limit``; then the first ``limit`` of both. A single query over both
    # statuses had to gather and sort every due row for each batch.
    found: list[tuple[datetime, str]] = []
    for status in ("queued", "sending"):
        due = (
            select(T.c.next_attempt_at, T.c.message_key)
            .where(
                T.c.status == status,
                T.c.next_attempt_at <= at,
                T.c.channel.in_(list(channels)),
            )
            .order_by(T.c.next_attempt_at, T.c.message_key)
            .limit(limit)
        )
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        found.extend((as_utc(when), key) for when, key in conn.execute(due))
    keys = [key for _, key in sorted(found)[:limit]]
    if not keys:
        return []
    conn.execute(
        update(T)
        .where(T.c.message_key.in_(keys))
        .values(status="sending", attempts=T.c.attempts + 1, next_attempt_at=at + lease)
    )
    rows = conn.execute(
        select(T).where(T.c.message_key.in_(keys)).order_by(T.c.next_attempt_at, T.c.message_key)
    )
    return [from_db(r) for r in rows]


def _mine(row: OutboxRow) -> Any:
    return (
        (T.c.message_key == row.message.key)
        & (T.c.status == "sending")
        & (T.c.attempts == row.attempts)
    )


def mark_sent(conn: Connection, row: OutboxRow, provider_id: str | None, now: datetime) -> bool:
    """False when the claim was lost (lease ran out and another dispatcher took the row)."""
    result = conn.execute(
        update(T)
        .where(_mine(row))
        .values(status="sent", sent_at=as_utc(now), provider_id=provider_id, last_error=None)
    )
    return result.rowcount == 1


def mark_retry(conn: Connection, row: OutboxRow, error: str, at: datetime) -> bool:
    result = conn.execute(
        update(T)
        .where(_mine(row))
        .values(status="queued", next_attempt_at=as_utc(at), last_error=error[:2000])
    )
    return result.rowcount == 1


def mark_failed(conn: Connection, row: OutboxRow, error: str) -> bool:
    result = conn.execute(
        update(T).where(_mine(row)).values(status="failed", last_error=error[:2000])
    )
    return result.rowcount == 1


def requeue(conn: Connection, key: str, now: datetime) -> bool:
    """Put a failed message back in the queue (an operator fixed the address or the gateway)."""
    result = conn.execute(
        update(T)
        .where(T.c.message_key == key, T.c.status == "failed")
        .values(status="queued", next_attempt_at=as_utc(now), attempts=0)
    )
    return result.rowcount == 1
