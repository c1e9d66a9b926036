"""Planner statistics kept fresh after bulk writes, as autovacuum's analyze rule would.

PostgreSQL plans a read by a list of ids (``borrower_id = ANY(...)``) as an index scan only when
its statistics say the list picks a small part of the table. A table bulk-loaded since its last
``ANALYZE`` has none (or stale ones), and the planner then scans it whole for every chunk of the
close: at 100k loans the gate's evidence-heads read took 230 ms a chunk, a parallel scan of
the whole table.
Autovacuum analyzes such tables in time on most servers, but it may be off or behind (it is
off on our test server), and a nightly close must not depend on it. So the bulk writers
(the importers, the close) end with ``analyze_changed``: every table never analyzed and not
empty, or whose rows changed by more than autovacuum's default threshold since its last
analyze, is analyzed now. On a server where
autovacuum has kept up this finds nothing to do. SQLite plans these reads by index without
statistics: nothing to do there.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

# autovacuum_analyze_threshold and autovacuum_analyze_scale_factor's defaults.
THRESHOLD = 50
SCALE = 0.1


def stale_tables(conn: Connection) -> list[str]:
    """Tables of the current schema whose statistics are missing or older than their rows:
    never analyzed (a table restored or copied from a template keeps no activity counters,
    so only this shows it), or changed past autovacuum's threshold since."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(
        text(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "WHERE s.schemaname = current_schema() "
            # never analyzed (or vacuumed), and not empty: a copied or restored table. An empty
            # one is left alone: analyzed empty, the plans cached while it is still small (the
            # evidence log's link trigger) would stay table scans as it grows.
            "AND ((c.reltuples < 0 AND pg_relation_size(c.oid) > 0) "
            "OR s.n_mod_since_analyze > :threshold + :scale * greatest(c.reltuples, 0)) "
            "ORDER BY s.relname"
        ),
        {"threshold": THRESHOLD, "scale": SCALE},
    )
    return [str(name) for name in rows.scalars()]


def analyze_changed(engine: Engine, *, vacuum: bool = False) -> list[str]:
    """ANALYZE each stale table, each in its own short transaction; the tables analyzed.

    ``vacuum``: ``VACUUM (ANALYZE)`` them instead, for the importers. A bulk-loaded table has
    no visibility map until it is vacuumed, and without one an index-only scan still visits
    the table's pages: the close's quiet-day check (the installments due in two days, all in
    the index on (due_date, loan_id)) read 10,000 heap pages a chunk, 0.85 s, against 6 ms
    once the table had been vacuumed (1M loans, cold cache). The close itself only analyzes:
    its tables change every day, and vacuuming them is autovacuum's work in the background.

    The activity counters are per server process and published to the shared statistics at
    most once a second; so the writes of the connection at hand are published first
    (PostgreSQL 15's ``pg_stat_force_next_flush``, done when that transaction ends). Other
    connections' writes are published within a second or when they disconnect; a table they
    changed a moment ago is analyzed by the next call.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        if (conn.dialect.server_version_info or (0,)) >= (15,):
            conn.execute(text("SELECT pg_stat_force_next_flush()"))
            conn.commit()
        tables = stale_tables(conn)
        conn.commit()
        if vacuum:  # VACUUM runs outside a transaction block
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for name in tables:
            conn.execute(text(f'{"VACUUM (ANALYZE)" if vacuum else "ANALYZE"} "{name}"'))
            conn.commit()
    return tables
