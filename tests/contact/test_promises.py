"""Promises to pay: the pure check on both sides of the promised date, and the close's check
against real payments on both databases."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.core.contact.promises import PaymentMade, Promise, PromiseStatus, check_promise
from arrears.services import events as ev
from arrears.services import evidence as log
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.promises import PromiseReport, check_promises, list_promises
from arrears.services.collection.queue import enqueue_calls
from arrears.store.case_tables import queue_items
from factories import succeeded

from .test_cases_support import call_action, overdue_loans, sh

MADE = date(2024, 3, 1)
DUE = date(2024, 3, 10)
P = Promise("L1", MADE, 10000, DUE)


def paid(*items: tuple[date, int]) -> list[PaymentMade]:
    return [PaymentMade(d, a) for d, a in items]


@pytest.mark.parametrize(
    ("payments", "on", "status", "counted"),
    [
        # Nothing paid: open through the day before, broken at the end of the promised day.
        ((), date(2024, 3, 9), PromiseStatus.OPEN, 0),
        ((), date(2024, 3, 10), PromiseStatus.BROKEN, 0),
        # All paid on the promised date itself: kept (the date is inclusive).
        (((date(2024, 3, 10), 10000),), date(2024, 3, 10), PromiseStatus.KEPT, 10000),
        # All paid the day after: too late, the promise was broken.
        (((date(2024, 3, 11), 10000),), date(2024, 3, 11), PromiseStatus.BROKEN, 0),
        # Part paid: still open before the date, partly kept at its end.
        (((date(2024, 3, 5), 9999),), date(2024, 3, 9), PromiseStatus.OPEN, 9999),
        (((date(2024, 3, 5), 9999),), date(2024, 3, 10), PromiseStatus.PARTLY_KEPT, 9999),
        # Two payments adding up to exactly the amount before the date: kept at once.
        (
            ((date(2024, 3, 2), 4000), (date(2024, 3, 3), 6000)),
            date(2024, 3, 3),
            PromiseStatus.KEPT,
            10000,
        ),
        # More than promised is kept.
        (((date(2024, 3, 4), 20000),), date(2024, 3, 4), PromiseStatus.KEPT, 20000),
        # A payment from before the promise was made does not count towards it.
        (((date(2024, 2, 29), 10000),), date(2024, 3, 10), PromiseStatus.BROKEN, 0),
        # A payment made on the day of the promise counts.
        (((date(2024, 3, 1), 10000),), date(2024, 3, 1), PromiseStatus.KEPT, 10000),
    ],
)
def test_check_promise_both_sides_of_the_date(
    payments: tuple[tuple[date, int], ...], on: date, status: PromiseStatus, counted: int
) -> None:
    got = check_promise(P, paid(*payments), on)
    assert (got.status, got.paid) == (status, counted)


def test_promise_validation() -> None:
    with pytest.raises(ValueError):
        Promise("L1", MADE, 0, DUE)
    with pytest.raises(ValueError):
        Promise("L1", MADE, 100, date(2024, 2, 29))


def _promise(engine: Engine, loan_id: str, due: date, amount: int) -> None:
    with engine.begin() as conn:
        added, _ = enqueue_calls(conn, [call_action(loan_id)])
        assert added == 1
        item_id = conn.execute(
            select(queue_items.c.item_id).where(queue_items.c.loan_id == loan_id)
        ).scalar_one()
        succeeded(
            record_outcome(
                conn,
                item_id=item_id,
                outcome="promise_to_pay",
                at=sh("2024-03-01 10:00"),
                promise=(due, amount),
            )
        )


def test_check_promises_against_loan_payments(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["K", "P", "B", "R", "L"])
    for loan in ("K", "P", "B", "R", "L"):
        _promise(engine, loan, DUE, 10000)
    # K pays in full on the date; P pays half; B nothing; R pays in full but it is reversed;
    # L pays in full the day after the date.
    succeeded(ev.pay(engine, "K", 10000, date(2024, 3, 10), "K-1"))
    succeeded(ev.pay(engine, "P", 5000, date(2024, 3, 4), "P-1"))
    succeeded(ev.pay(engine, "R", 10000, date(2024, 3, 5), "R-1"))
    succeeded(ev.reverse(engine, "R-1", "R-REV", date(2024, 3, 6)))
    succeeded(ev.pay(engine, "L", 10000, date(2024, 3, 11), "L-1"))

    with engine.begin() as conn:
        before = check_promises(conn, date(2024, 3, 9))
    assert before == PromiseReport(due=0, kept=0, partly_kept=0, broken=0)
    with engine.begin() as conn:
        on_date = check_promises(conn, DUE)
    assert on_date == PromiseReport(due=5, kept=1, partly_kept=1, broken=3)
    with engine.begin() as conn:  # a rerun of the same date reports the same and writes nothing
        n = len(list(log.iter_records(conn)))
        assert check_promises(conn, DUE) == on_date
        assert len(list(log.iter_records(conn))) == n
        rows = {p["loan_id"]: p for p in list_promises(conn)}
        assert log.verify_db(conn) == []
        events = [r.payload["event"] for r in log.load_chain(conn, "B-K") if r.kind == "promise"]
    assert {k: (v["status"], v["paid"]) for k, v in rows.items()} == {
        "K": ("kept", 10000),
        "P": ("partly_kept", 5000),
        "B": ("broken", 0),
        "R": ("broken", 0),
        "L": ("broken", 0),
    }
    assert events == ["made", "kept"]
