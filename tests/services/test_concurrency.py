"""Payments to one loan at the same moment are serialized, with no lost update.

Issue 2, item 5. Two threads start together (a barrier); the ledger replay inside each
payment is wrapped to record when it runs and to linger, which widens the window in which an
unserialized implementation would interleave. Assertions are about order and amounts, never
about time. SQLite serializes writers with BEGIN IMMEDIATE; PostgreSQL locks the loan row.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from arrears.core.ledger.account import Allocation
from arrears.services import events as ev
from arrears.services.close import reference as close_mod
from arrears.services.close.reference import close_through
from arrears.store import tables as t
from factories import (
    assert_journal_consistent,
    counts,
    import_rows,
    is_postgres,
    loan_row,
    refused,
    stored_account,
    succeeded,
)

DUE1 = date(2024, 2, 15)


@pytest.fixture
def loans(engine: Engine, tmp_path: Path) -> Engine:
    import_rows(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    return engine


def _run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at once; results (or exceptions) in call order."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def worker(k: int) -> None:
        barrier.wait()
        try:
            out[k] = calls[k]()
        except Exception as exc:  # reported to the test, not swallowed
            out[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(calls))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


@pytest.fixture
def trace(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record enter/exit of the replay inside each payment, lingering in between."""
    log: list[tuple[str, str]] = []
    lock = threading.Lock()
    real = ev.replay

    def slow_replay(terms: Any, product: Any, events: Any, through: date, **extra: Any) -> Any:
        me = threading.current_thread().name
        with lock:
            log.append(("enter", me))
        time.sleep(0.2)  # widen the race window; nothing asserts on time
        try:
            return real(terms, product, events, through, **extra)
        finally:
            with lock:
                log.append(("exit", me))

    monkeypatch.setattr(ev, "replay", slow_replay)
    return log


def test_two_payments_to_one_loan_are_serialized(
    loans: Engine, trace: list[tuple[str, str]]
) -> None:
    a, b = 15000, 30000
    res = _run_together(
        lambda: ev.pay(loans, "L1", a, date(2024, 2, 20), "pa"),
        lambda: ev.pay(loans, "L1", b, date(2024, 2, 20), "pb"),
    )
    res = [succeeded(r) for r in res]
    assert not any(r.already_applied for r in res), res
    # the two allocations did not overlap: one replay ran to its end before the other began
    assert [step for step, _ in trace] == ["enter", "exit", "enter", "exit"]
    assert trace[0][1] == trace[1][1] and trace[2][1] == trace[3][1]
    allocs: list[Allocation] = [r.allocation for r in res]
    assert sum(x.total for x in allocs) == a + b
    with loans.connect() as conn:
        refs = set(
            conn.execute(select(t.loan_events.c.ref).where(t.loan_events.c.loan_id == "L1"))
            .scalars()
            .all()
        )
    assert refs == {"pa", "pb"}
    # no lost update: the stored state and journal equal a replay holding both payments
    assert_journal_consistent(loans)
    # 5 days' penalty at 21 fen (412.00 / 2000 = 20.6) is paid once, whichever came first
    assert sum(x.penalty for x in allocs) == 105
    assert sum(x.interest for x in allocs) == 1200
    assert sum(x.principal for x in allocs) == 40000
    # the rest repays principal early (with interest from 02-15 to 02-20 only)
    assert sum(x.prepaid_principal + x.prepaid_interest for x in allocs) == a + b - 41305


def test_same_ref_from_two_threads_applies_once(loans: Engine) -> None:
    res = _run_together(
        lambda: ev.pay(loans, "L1", 41200, DUE1, "same"),
        lambda: ev.pay(loans, "L1", 41200, DUE1, "same"),
    )
    res = [succeeded(r) for r in res]
    assert sorted(r.already_applied for r in res) == [False, True]
    assert counts(loans)["loan_events"] == 1
    assert_journal_consistent(loans)


def test_many_payments_to_one_loan_lose_nothing(loans: Engine) -> None:
    amounts = [1000, 2000, 3000, 4000, 5000, 6000]
    res = _run_together(
        *[
            (lambda k=k, x=x: ev.pay(loans, "L1", x, date(2024, 2, 1), f"m{k}"))
            for k, x in enumerate(amounts)
        ]
    )
    res = [succeeded(r) for r in res]
    assert sum(r.allocation.total for r in res) == sum(amounts)
    assert counts(loans)["loan_events"] == len(amounts)
    assert_journal_consistent(loans)


def test_same_ref_on_two_loans_at_once_is_refused_not_crashed(
    loans: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres(db_url):
        pytest.skip("SQLite serializes every writer; the race needs PostgreSQL")
    # hold both payments after their ref check until both have made it, so they overlap
    barrier = threading.Barrier(2)
    real = ev.replay

    def meet(*args: Any, **extra: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        return real(*args, **extra)

    monkeypatch.setattr(ev, "replay", meet)
    res = _run_together(
        lambda: ev.pay(loans, "L1", 41200, DUE1, "dup"),
        lambda: ev.pay(loans, "L2", 41200, DUE1, "dup"),
    )
    kinds = sorted("refused" if problems else "applied" for _, problems in res)
    assert kinds == ["applied", "refused"], res
    assert refused(next(r for r in res if r[1])).field == "ref"
    assert counts(loans)["loan_events"] == 1


def test_payment_during_the_close_is_not_lost(
    loans: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres(db_url):
        pytest.skip("SQLite's close holds the write lock; the race needs PostgreSQL")
    close_through(loans, date(2024, 2, 20))
    real = close_mod.accrue_loan_through
    paid: list[Any] = []
    threads: list[threading.Thread] = []

    def advance_with_payment(acct: Any, product: Any, through: date, *pauses: Any) -> Any:
        if not threads and acct.loan_id == "L1":
            # a payment arrives while this chunk is being aged (not yet saved); the close
            # holds the loan, so the payment must wait for it rather than be overwritten
            th = threading.Thread(
                target=lambda: paid.append(
                    ev.pay(loans, "L1", 41200, date(2024, 2, 20), "during-close")
                )
            )
            threads.append(th)
            th.start()
            th.join(timeout=2)
            assert not paid, "the payment went through while the close held the loan"
        return real(acct, product, through, *pauses)

    monkeypatch.setattr(close_mod, "accrue_loan_through", advance_with_payment)
    res = close_through(loans, date(2024, 2, 25))
    threads[0].join(timeout=30)
    assert res.loans_aged == 2
    assert paid, paid
    succeeded(paid[0])
    # The payment (dated 2024-02-20) is applied after the close and re-ages the loan: penalty
    # first, 5 days (02-16..02-20) x round(41,200 x 12%/360 x 1.5 = 20.6) = 105 fen, then the
    # installment's interest 1,200, then principal. The stored state must show all of it.
    acct = stored_account(loans, "L1")
    assert acct.as_of == date(2024, 2, 25)
    assert acct.installments[0].paid_interest == 1200
    assert acct.installments[0].paid_principal == 41200 - 105 - 1200
    assert_journal_consistent(loans)
