"""Rows rewritten every business day (every active loan's state, every open case's priority): on
PostgreSQL each update must stay on its page (a heap-only tuple, no index entry), which needs
room on the page and no indexed column changed (migrations 0010 and 0011)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, insert, text

from arrears.store.case_tables import cases
from factories import import_rows, loan_row


def _one_days_update(engine: Engine, table: str, update: str) -> tuple[int, int]:
    """(rows updated, of which heap-only) by ``update`` in one transaction, as a day's close.

    One day's update only. The days after it find room again once pruning has removed the old
    row versions, which it may do only when no transaction in the whole cluster is older than
    them (a snapshot's horizon counts every database's running transactions): that depends on
    the server's other work, so it is not tested here. (The counters run on until the backend
    reports them: the update's own are the difference.)
    """
    counts = text(
        f"SELECT pg_stat_get_xact_tuples_updated('{table}'::regclass), "
        f"pg_stat_get_xact_tuples_hot_updated('{table}'::regclass)"
    )
    with engine.begin() as conn:
        updated_before, hot_before = conn.execute(counts).one()
        conn.execute(text(update))
        updated, hot = conn.execute(counts).one()
    return updated - updated_before, hot - hot_before


def test_a_days_update_of_every_row_is_heap_only(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        return
    import_rows(engine, tmp_path, [loan_row(f"L{k:04d}") for k in range(300)])
    change = "UPDATE loan_state SET as_of = as_of + 1, dpd = dpd + 1"
    assert _one_days_update(engine, "loan_state", change) == (300, 300)


def test_a_days_priority_update_of_every_open_case_is_heap_only(
    engine: Engine, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        return
    import_rows(engine, tmp_path, [loan_row(f"L{k:04d}") for k in range(300)])
    with engine.begin() as conn:
        conn.execute(
            insert(cases),
            [
                {"borrower_id": f"B-L{k:04d}", "opened_on": date(2024, 3, 1), "priority": 1}
                for k in range(300)
            ],
        )
    change = "UPDATE cases SET priority = priority + 1 WHERE closed_on IS NULL"
    assert _one_days_update(engine, "cases", change) == (300, 300)
