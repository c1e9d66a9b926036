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

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Row, func, select, text, tuple_, update

from arrears.core.contact.messages import OutboundMessage
from arrears.store.bulk import sqlite_text
from arrears.store.membership import batches, one_of
from arrears.store.outbox_tables import insert_new, mailbox, outbox

Status = Literal["queued", "sending", "sent", "failed", "cancelled"]
STATUSES: tuple[Status, ...] = get_args(Status)
_ROWS_PER_INSERT = 50_000  # rows per bulk insert: bounds the memory of one statement's batch

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
    for i in range(0, len(rows), _ROWS_PER_INSERT):
        added += insert_new(conn, outbox, rows[i : i + _ROWS_PER_INSERT])
    return added


def existing_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` that are in the outbox already (any status)."""
    found: set[str] = set()
    for batch in batches(conn, list(keys)):
        q = select(T.c.message_key).where(one_of(conn, T.c.message_key, batch))
        found.update(conn.execute(q).scalars())
    return found


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


def count_due(conn: Connection, channels: Iterable[str], now: datetime) -> int:
    """Messages on these channels that a dispatch at ``now`` would try (for its progress bar)."""
    query = select(func.count()).where(
        T.c.channel.in_(list(channels)),
        T.c.status.in_(("queued", "sending")),
        T.c.next_attempt_at <= now,
    )
    return int(conn.execute(query).scalar_one())


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message as the local mailbox received it."""

    mailbox_id: int
    message_key: str
    borrower_id: str
    channel: str
    recipient: str
    subject: str
    body: str
    received_at: datetime  # UTC

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox_id": self.mailbox_id,
            "message_key": self.message_key,
            "borrower_id": self.borrower_id,
            "channel": self.channel,
            "recipient": self.recipient,
            "subject": self.subject,
            "body": self.body,
            "received_at": self.received_at.isoformat(),
        }


def mailbox_entries(conn: Connection, borrower_id: str | None, limit: int) -> list[Delivered]:
    """What the local mailbox received, newest first."""
    query = select(mailbox).order_by(mailbox.c.mailbox_id.desc()).limit(limit)
    if borrower_id is not None:
        query = query.where(mailbox.c.borrower_id == borrower_id)
    return [
        Delivered(
            r.mailbox_id,
            r.message_key,
            r.borrower_id,
            r.channel,
            r.recipient,
            r.subject,
            r.body,
            as_utc(r.received_at),
        )
        for r in conn.execute(query)
    ]


@dataclass(slots=True)
class Cursor:
    """Where one pass's claims have read each status's due range up to: the (next attempt, key)
    of the last row taken from it.

    Why: on PostgreSQL a claimed row leaves a dead entry at the head of its old place in
    ix_outbox_due ('queued', due time, key), and nothing removes it while any transaction in the
    cluster is older than the claim (a close, a report; autovacuum and the scan's own clean-up
    both wait for it). A claim that reads from the head of the range then steps over every row
    claimed before it in the pass: each batch costs more than the last (25 ms per 50 rows after
    20k claimed on the 100k book; quadratic over a day's outbox). Starting after the cursor reads
    only the batch. Rows can become due behind the cursor (enqueued with an earlier time, or
    skipped while another dispatcher held them), so a batch that comes up short after the
    cursor is read again from the head: nothing due is left for the next pass that a pass from
    the head would have taken, and that full read happens about once per pass.
    """

    after: dict[str, tuple[datetime, str]] = field(default_factory=dict)


def claim(
    conn: Connection,
    channels: Sequence[str],
    now: datetime,
    limit: int,
    lease: timedelta,
    cursor: Cursor | None = None,
) -> list[OutboxRow]:
    """Take up to ``limit`` due rows for ``channels``: queued and due, or sending with a lease
    that ran out (its dispatcher died). Run in a transaction of its own and commit it at once.
    Rows come in (next attempt, key) order across both statuses. ``cursor``: one pass's
    position (see ``Cursor``), advanced past the rows taken.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent dispatchers take disjoint rows.
    SQLite: the transaction began with ``BEGIN IMMEDIATE`` and holds the one write lock.
    """
    at = as_utc(now)
    found = _due(conn, channels, at, limit, cursor.after if cursor else {})
    if cursor is not None and cursor.after and len(found) < limit:
        found = _due(conn, channels, at, limit, {})  # short after the cursor: from the head
    taken = sorted(found)[:limit]
    if not taken:
        return []
    keys = [key for _, key, _ in taken]
    claimed = conn.execute(
        update(T)
        .where(T.c.message_key.in_(keys))
        .values(status="sending", attempts=T.c.attempts + 1, next_attempt_at=at + lease)
        .returning(*T.c)
    )
    by_key = {r.message_key: from_db(r) for r in claimed}
    if cursor is not None:
        for when, key, status in taken:  # taken is in order: the last of each status wins
            cursor.after[status] = (when, key)
    return [by_key[key] for key in keys]


def _due(
    conn: Connection,
    channels: Sequence[str],
    at: datetime,
    limit: int,
    after: Mapping[str, tuple[datetime, str]],
) -> list[tuple[datetime, str, str]]:
    """The first ``limit`` due rows of each status, as (next attempt, key, status)."""
    # One query per status, each read in index order (ix_outbox_due: status, next attempt,
    # key) and cut at ``limit``; then the first ``limit`` of both. A single query over both
    # statuses had to gather and sort every due row for each batch.
    found: list[tuple[datetime, str, str]] = []
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
        if status in after:
            due = due.where(tuple_(T.c.next_attempt_at, T.c.message_key) > tuple_(*after[status]))
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        found.extend((as_utc(when), key, status) for when, key in conn.execute(due))
    return found


def _mine(row: OutboxRow) -> Any:
    return (
        (T.c.message_key == row.message.key)
        & (T.c.status == "sending")
        & (T.c.attempts == row.attempts)
    )


def mark_sent(conn: Connection, row: OutboxRow, provider_id: str | None, now: datetime) -> bool:
    """False when the claim was lost (lease ran out and another dispatcher took the row)."""
    return bool(mark_sent_many(conn, [(row, provider_id)], now))


def mark_retry(conn: Connection, row: OutboxRow, error: str, at: datetime) -> bool:
    return bool(mark_retry_many(conn, [(row, error, at)]))


def mark_failed(conn: Connection, row: OutboxRow, error: str) -> bool:
    return bool(mark_failed_many(conn, [(row, error)]))


_ROWS_PER_UPDATE = 5_000  # rows per UPDATE: bounds one statement's parameter document


def _update_mine(
    conn: Connection,
    rows: Sequence[OutboxRow],
    per_row: Mapping[str, tuple[str, Sequence[Any]]],
    fixed: Mapping[str, Any],
) -> set[str]:
    """One guarded UPDATE for many rows (per chunk): each row changes only if it is still the
    one its claim took (key, status ``sending``, the claim's ``attempts``), as ``_mine``. The
    keys that changed: a key missing is a claim lost to another dispatcher.

    ``per_row``: column -> (its PostgreSQL type, one value per row); ``fixed``: column -> one
    value for every row. The rows' values travel as whole arrays (PostgreSQL, ``unnest``) or
    one JSON document (SQLite, ``json_each``), so the statement's text, compiled and planned
    once, is the same for any number of rows (a VALUES list of 1,000 rows took SQLAlchemy half
    a second to compile, every batch)."""
    names = list(per_row)
    sets = ", ".join([*(f"{n} = :{n}" for n in fixed), *(f"{n} = mine.{n}" for n in names)])
    # ``coalesce`` on the status is a no-op (it is NOT NULL) that keeps PostgreSQL off
    # ix_outbox_due: its 'sending' range holds a dead entry for every row sent since the last
    # vacuum, which the planner cannot see (46 ms to find 3 rows on the 100k book). The
    # primary key finds each row at once.
    guard = (
        "outbox.message_key = mine.k AND coalesce(outbox.status, '') = 'sending' "
        "AND outbox.attempts = mine.a"
    )
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        arrays = ", ".join(f"CAST(:v_{n} AS {per_row[n][0]}[])" for n in names)
        source = (
            f"unnest(CAST(:keys AS varchar[]), CAST(:attempts AS integer[]), {arrays}) "
            f"AS mine(k, a, {', '.join(names)})"
        )
        sql = f"UPDATE outbox SET {sets} FROM {source} WHERE {guard} RETURNING outbox.message_key"
    else:
        picks = ", ".join(f"json_extract(value, '$[{2 + i}]')" for i in range(len(names)))
        sql = (
            f"WITH mine(k, a, {', '.join(names)}) AS (SELECT json_extract(value, '$[0]'), "
            f"json_extract(value, '$[1]'), {picks} FROM json_each(:doc)) "
            f"UPDATE outbox SET {sets} FROM mine WHERE {guard} RETURNING outbox.message_key"
        )
    statement = text(sql)
    plain = {n: _plain(v, postgres) for n, v in fixed.items()}
    done: set[str] = set()
    for i in range(0, len(rows), _ROWS_PER_UPDATE):
        part = rows[i : i + _ROWS_PER_UPDATE]
        cols = {
            n: [_plain(v, postgres) for v in per_row[n][1][i : i + _ROWS_PER_UPDATE]] for n in names
        }
        if postgres:
            params: dict[str, Any] = {
                "keys": [r.message.key for r in part],
                "attempts": [r.attempts for r in part],
                **{f"v_{n}": cols[n] for n in names},
            }
        else:
            doc = [
                [r.message.key, r.attempts, *(cols[n][j] for n in names)]
                for j, r in enumerate(part)
            ]
            params = {"doc": json.dumps(doc)}
        done.update(conn.execute(statement, {**plain, **params}).scalars())
    return done


def _plain(value: Any, postgres: bool) -> Any:
    """A value as the raw statement binds it: SQLite keeps instants as SQLAlchemy's UTC text."""
    if isinstance(value, datetime):
        return as_utc(value) if postgres else sqlite_text(as_utc(value))
    return value


def mark_sent_many(
    conn: Connection, done: Sequence[tuple[OutboxRow, str | None]], now: datetime
) -> set[str]:
    """Mark rows sent, each with its provider's id; the keys marked (see ``_update_mine``)."""
    return _update_mine(
        conn,
        [row for row, _ in done],
        {"provider_id": ("varchar", [pid for _, pid in done])},
        {"status": "sent", "sent_at": as_utc(now), "last_error": None},
    )


def mark_retry_many(conn: Connection, rows: Sequence[tuple[OutboxRow, str, datetime]]) -> set[str]:
    """Put rows back in the queue, each with its error and its next attempt; the keys marked."""
    return _update_mine(
        conn,
        [row for row, _, _ in rows],
        {
            "last_error": ("text", [error[:2000] for _, error, _ in rows]),
            "next_attempt_at": ("timestamptz", [at for _, _, at in rows]),
        },
        {"status": "queued"},
    )


def mark_failed_many(conn: Connection, rows: Sequence[tuple[OutboxRow, str]]) -> set[str]:
    """Mark rows failed, each with its error; the keys marked."""
    return _update_mine(
        conn,
        [row for row, _ in rows],
        {"last_error": ("text", [error[:2000] for _, error in rows])},
        {"status": "failed"},
    )


def requeue(conn: Connection, key: str, now: datetime) -> bool:
    """Put a failed message back in the queue (an operator fixed the address or the gateway)."""
    result = conn.execute(
        update(T)
        .where(T.c.message_key == key, T.c.status == "failed")
        .values(status="queued", next_attempt_at=as_utc(now), attempts=0)
    )
    return result.rowcount == 1
