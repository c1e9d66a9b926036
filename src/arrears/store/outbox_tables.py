"""The transactional outbox and the local mailbox, on the shared metadata. Migration 0004.

``outbox`` holds every message the close decided to send, written in the close's own transaction
(so a message exists exactly when the decision that made it committed). The dispatcher moves a
row queued -> sending -> sent | failed; a row in ``sending`` whose lease (``next_attempt_at``) has
passed was claimed by a dispatcher that died, and is claimed again.

``mailbox`` is the destination of the default ``outbox`` adapter: a visible local inbox for demo
and local use, keyed by message key so a re-sent message lands once.

Instants are stored in UTC. SQLite keeps ``DateTime`` as text without an offset, so every writer
converts to UTC first and every reader treats a naive value as UTC (``outbox.as_utc``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Date, DateTime, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from arrears.store.tables import metadata

KEY_LENGTH = 200

outbox = Table(
    "outbox",
    metadata,
    Column("message_key", String(KEY_LENGTH), primary_key=True),
    Column("borrower_id", String(64), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # sms | email | call | visit | letter
    Column("party", String(32), nullable=False),  # debtor | emergency_contact | third_party
    Column("recipient", String(320), nullable=False),  # phone number or email address
    Column("template", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("status", String(8), nullable=False),  # queued | sending | sent | failed
    Column("attempts", Integer, nullable=False),
    # queued: not before this instant; sending: the claim's lease runs out at this instant.
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # not sent after this
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("provider_id", String(200), nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_borrower", "borrower_id"),
)

mailbox = Table(
    "mailbox",
    metadata,
    Column("mailbox_id", Integer, primary_key=True, autoincrement=True),
    Column("message_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("borrower_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def insert_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Insert ``rows``, skipping any whose ``message_key`` is already there; the keys inserted.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (batched by SQLAlchemy's
    insertmanyvalues) on both SQLite and PostgreSQL: no read-then-write race between two
    writers, and a row that exists is never touched.
    """
    if not rows:
        return []
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=["message_key"])
    elif dialect == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["message_key"])
    else:  # pragma: no cover - the two databases we support
        raise NotImplementedError(dialect)
    result = conn.execute(stmt.returning(table.c.message_key), list(rows))
    return [key for (key,) in result]
