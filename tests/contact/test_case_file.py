"""The case file: one read of a borrower's cases, contacts, promises and visits."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select

from arrears.services.collection.case_file import case_file
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.queue import enqueue_calls
from arrears.store.case_tables import queue_items

from .test_cases_support import CLOSE_AT, call_action, overdue_loans, sh


def test_a_case_file_holds_what_was_recorded_and_nothing_of_another_borrower(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
        added, problems = enqueue_calls(conn, [call_action("L1")])  # type: ignore[list-item]
        assert (added, problems) == (1, [])
        item = int(conn.execute(select(func.max(queue_items.c.item_id))).scalar_one())
        got = record_outcome(
            conn,
            item_id=item,
            outcome="promise_to_pay",
            at=sh("2024-03-01 10:05"),
            promise=(date(2024, 3, 5), 12_345),
        )
        assert not hasattr(got, "reason"), got
    with engine.connect() as conn:
        found, problems = case_file(conn, "B-L1")
        other, _ = case_file(conn, "B-L2")
    assert problems == () and found is not None and other is not None
    shown = found.as_dict()
    assert [c["borrower_id"] for c in shown["cases"]] == ["B-L1"]
    assert [(c["outcome"], c["channel"]) for c in shown["contacts"]] == [("promise_to_pay", "call")]
    assert set(shown["contacts"][0]) == {
        "at", "debt_id", "channel", "party", "number", "connected", "conversation", "outcome",
        "collectors",
    }  # fmt: skip
    assert [(p["amount"], p["due_on"]) for p in shown["promises"]] == [("123.45", "2024-03-05")]
    assert other.as_dict()["contacts"] == [] and other.as_dict()["promises"] == []


def test_no_case_is_not_found(engine: Engine) -> None:
    found, problems = case_file(engine.connect(), "NOBODY")
    assert found is None
    assert [(p.record, p.field, p.code) for p in problems] == [
        ("borrower NOBODY", "borrower_id", "not_found")
    ]
