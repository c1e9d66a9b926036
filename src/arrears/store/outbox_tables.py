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

from arrears.core.contact.messages import KEY_LENGTH
from arrears.store.bulk import sqlite_text
from arrears.store.sealed import Sealed, sealing
from arrears.store.tables import metadata

outbox = Table(
    "outbox",
    metadata,
    Column("message_key", String(KEY_LENGTH), primary_key=True),
    Column("borrower_id", String(64), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),  # sms | email | call | visit | letter
    Column("party", String(32), nullable=False),  # debtor | emergency_contact | third_party
    # phone number or email address, sealed (store.sealed)
    Column("recipient", Sealed("outbox.recipient"), nullable=False),
    Column("template", String(64), nullable=False),
    Column("language", String(8), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("business_date", Date, nullable=False),
    # queued | sending | sent | failed | cancelled
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    # queued: not before this instant; sending: the claim's lease runs out at this instant.
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # not sent after this
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("provider_id", String(200), nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at", "message_key"),
    Index("ix_outbox_borrower", "borrower_id"),
)

mailbox = Table(
    "mailbox",
    metadata,
    Column("mailbox_id", Integer, primary_key=True, autoincrement=True),
    Column("message_key", String(KEY_LENGTH), nullable=False, unique=True),
    Column("borrower_id", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("recipient", Sealed("mailbox.recipient"), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def insert_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert ``rows``, skipping any whose ``message_key`` is already there; how many were new.

    ``INSERT ... ON CONFLICT DO NOTHING`` on both databases: no read-then-write race between two
    writers, and a row that exists is never touched. Bulk paths, since a close enqueues for the
    whole portfolio: SQLite runs one prepared statement over all rows (the driver's
    ``executemany``, whose row count is exact); PostgreSQL COPYs the rows into a temporary table
    and inserts from it in one statement (an ``executemany`` there reports no row count).
    Both run in the caller's transaction.
    """
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite_insert(conn, table, rows)
    if dialect != "postgresql":  # pragma: no cover - the two databases we support
        raise NotImplementedError(dialect)
    if len(rows) == 1:
        stmt: Any = pg_insert(table).on_conflict_do_nothing(index_elements=["message_key"])
        return len(conn.execute(stmt.returning(table.c.message_key), dict(rows[0])).all())
    return _copy_insert(conn, table, rows)


def _copy_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    names = [c.name for c in table.columns if c.name in rows[0]]
    staging = f"{table.name}_incoming"
    columns = ", ".join(f'"{n}"' for n in names)
    conn.exec_driver_sql(
        f'CREATE TEMPORARY TABLE "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS)'
    )
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sealed = sealing(table, names)  # COPY applies no column types
    with cursor.copy(f'COPY "{staging}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(sealed(tuple(row[n] for n in names)))
    # DISTINCT ON: two rows with one key inside a batch would make the INSERT fail, not skip.
    inserted = conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({columns}) SELECT DISTINCT ON (message_key) {columns} '
        f'FROM "{staging}" ORDER BY message_key ON CONFLICT (message_key) DO NOTHING'
    ).rowcount
    conn.exec_driver_sql(f'DROP TABLE "{staging}"')
    return int(inserted)


def _sqlite_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    columns = [c for c in table.columns if c.name in rows[0]]
    names = [c.name for c in columns]
    sql = (
        f'INSERT INTO "{table.name}" ({", ".join(names)}) '
        f"VALUES ({', '.join('?' * len(names))}) ON CONFLICT (message_key) DO NOTHING"
    )
    timed = [isinstance(c.type, Date | DateTime) for c in columns]
    values: list[list[Any]] = []
    for name, is_time in zip(names, timed, strict=True):
        column = [row[name] for row in rows]
        values.append(
            [None if v is None else sqlite_text(v) for v in column] if is_time else column
        )
    sealed = sealing(table, names)  # the driver's executemany applies no column types
    return int(conn.exec_driver_sql(sql, [sealed(r) for r in zip(*values, strict=True)]).rowcount)
