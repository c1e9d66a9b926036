"""Engines for SQLite (default, embedded) and PostgreSQL (production)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

DEFAULT_DB = "arrears.db"
ENV_DB = "ARREARS_DB"
# Connections kept open per engine: the API admits as many requests at once
# (``api.capacity``), each holding one; the overflow is for the few paths that open a second
# while the first is open (a page's read before its write) and for work beside the requests.
POOL_SIZE = 16
POOL_OVERFLOW = 4
SERVING_RECYCLE_SECONDS = 600


def database_url(db: str | None = None) -> str:
    """Resolve ``--db`` / ``ARREARS_DB`` / ``./arrears.db`` into a SQLAlchemy URL.

    A value with ``://`` is a URL (``postgresql://...``); anything else is a SQLite file path.
    """
    raw = db or os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in raw:
        if raw.startswith("postgresql://") or raw.startswith("postgres://"):
            # psycopg 3 is the driver we ship; make the plain URL select it.
            return "postgresql+psycopg://" + raw.split("://", 1)[1]
        return raw
    return f"sqlite:///{Path(raw)}"


def make_engine(db: str | None = None, *, read_only: bool = False, serving: bool = False) -> Engine:
    """``read_only``: for a process that only reads (the close's planning workers). On SQLite
    its transactions then begin DEFERRED, reading a snapshot without taking the write lock.
    ``serving``: for the API and the pages (short requests, the same few statements over and
    over): on PostgreSQL, server-side prepared statements (see below)."""
    url = database_url(db)
    if url.startswith("sqlite"):
        in_memory = url.endswith(":memory:")  # one connection (SQLAlchemy's own pool)
        pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin, so that a
            # BEGIN IMMEDIATE takes the write lock up front (serialises concurrent payments).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # Prepared statements (psycopg prepares a query from its fifth run) only when serving: a
    # borrower's summary cost 0.5 ms less CPU in the server and 0.55 ms less in PostgreSQL, of
    # 3.0 and 1.1 (BENCHMARKS.md). A request's lookups go by key, a plan cached on a connection
    # is made again when autovacuum analyzes the table, and connections are renewed every ten
    # minutes, so no plan outlives the statistics it was made with by long.
    # Elsewhere (the close, imports, the CLI) none. A prepared statement settles on a generic
    # plan made with the statistics of the moment: on the first close, contact_attempts was
    # empty when the plan was made, and the lookups by a list of keys stayed sequential scans
    # while the close filled the table (a minute a chunk at 100k loans), all inside one process
    # before any analyze. Planned on each run, a query sees the table as it is.
    plans: dict[str, Any] = (
        {"pool_recycle": SERVING_RECYCLE_SECONDS}
        if serving
        else {"connect_args": {"prepare_threshold": None}}
    )
    return create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, **plans
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
