"""Bulk writers leave PostgreSQL with statistics for what they wrote (store/stats)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from arrears.core.evidence.chain import Entry
from arrears.core.sim.generate import generate
from arrears.services import evidence as log
from arrears.services.importer import import_file
from arrears.services.portfolio_files import write_table
from arrears.store.engine import make_engine
from arrears.store.stats import analyze_changed, stale_tables
from factories import succeeded


def _analyzed(engine: Engine, table: str) -> bool:
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(*) FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = :t"
            ),
            {"t": table},
        ).scalar_one()
    return int(n) > 0


def _all_visible(engine: Engine, table: str) -> float:
    """The share of the table's pages the visibility map marks all-visible (set by VACUUM)."""
    with engine.connect() as conn:
        pages, visible = conn.execute(
            text("SELECT relpages, relallvisible FROM pg_class WHERE relname = :t"), {"t": table}
        ).one()
    return visible / pages if pages else 0.0


def test_import_leaves_statistics_and_a_later_bulk_write_is_caught(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)  # a pool of its own: the import's connection is the one asked
    try:
        p = generate(300, 3, date(2026, 6, 30))
        write_table(p.loans, tmp_path / "loans.parquet")
        succeeded(import_file(engine, tmp_path / "loans.parquet"))
        if engine.dialect.name != "postgresql":
            assert analyze_changed(engine) == []  # SQLite: nothing to keep
            return
        assert _analyzed(engine, "loans") and _analyzed(engine, "installments")
        # ... and vacuumed: the visibility map covers the loaded pages (index-only scans).
        assert _all_visible(engine, "installments") > 0.9
        assert analyze_changed(engine) == []  # the import did it already
        assert not _analyzed(engine, "evidence_records")
        with engine.connect() as conn:  # left unanalyzed while empty (reltuples -1, not 0)
            reltuples = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = 'evidence_records'")
            ).scalar_one()
        assert reltuples < 0
        at = datetime(2026, 7, 1, 9, tzinfo=UTC)
        with engine.begin() as conn:
            log.append_many(conn, [Entry(f"B{k}", "note", {"k": k}, at) for k in range(400)])
        assert "evidence_records" in analyze_changed(engine)
        assert _analyzed(engine, "evidence_records")
        assert _all_visible(engine, "evidence_records") == 0  # the close only analyzes
        with engine.connect() as conn:
            assert "evidence_records" not in stale_tables(conn)
    finally:
        engine.dispose()
