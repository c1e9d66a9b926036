"""store/bulk writes rows that read back exactly as rows written through SQLAlchemy do."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select

from arrears.store import bulk
from arrears.store.case_tables import queue_items

SHANGHAI = timezone(timedelta(hours=8))


def row(key: str, due_at: datetime, claimed_at: datetime | None) -> dict[str, object]:
    return {
        "key": key,
        "borrower_id": "B1",
        "loan_id": "L1",
        "on_date": date(2026, 3, 9),
        "policy": "default",
        "step": "call_debtor",
        "party": "debtor",
        "number": "13800000000",
        "script": "s",
        "priority": 10,
        "dpd": 4,
        "amount": 123456,
        "due_at": due_at,
        "claimed_by": None,
        "claimed_at": claimed_at,
    }


def test_bulk_rows_read_back_as_sqlalchemy_rows(engine: Engine) -> None:
    at = datetime(2026, 3, 9, 14, 0, 0, 123456, tzinfo=SHANGHAI)
    orm = row("a", at.astimezone(UTC), None)
    fast = row("b", at, at + timedelta(minutes=5))  # an offset other than UTC: stored as UTC
    with engine.begin() as conn:
        # Through SQLAlchemy the services pass instants in UTC (collection_store.to_utc): its
        # SQLite type stores the wall time it is given. bulk converts any offset itself.
        utc = {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in fast.items()}
        conn.execute(insert(queue_items), [orm, {**utc, "key": "c"}])
        columns = tuple(fast)
        assert bulk.insert_rows(conn, queue_items, columns, [tuple(fast.values())]) == 1
    with engine.connect() as conn:
        got = {r.key: r for r in conn.execute(select(queue_items))}
    for name in columns:
        if name != "key":
            assert getattr(got["b"], name) == getattr(got["c"], name), name
    assert got["b"].due_at == got["a"].due_at  # the same instant, whatever offset it came in


def test_nothing_to_insert_is_no_statement(engine: Engine) -> None:
    with engine.begin() as conn:
        assert bulk.insert_rows(conn, queue_items, (), []) == 0
        assert bulk.insert_rows(conn, queue_items, ("key",), []) == 0
        with pytest.raises(ValueError, match="without column names"):
            bulk.insert_rows(conn, queue_items, (), [("x",)])
