"""Payments, reversals, waivers and write-offs through the service layer.

The loan throughout: 1,200.00 lent on 2024-01-15 over 3 months, equal principal, 12% a year,
due on the drawdown day (15th). By hand:

* installments: 400.00 principal each; interest 1% a month of the opening balance, so
  12.00, 8.00 and 4.00, due 2024-02-15, 03-15 and 04-15;
* penalty per overdue day = base x 12%/360 x 1.5 = base / 2000, rounded half-up per day,
  starting the day after the due date; a payment dated D is applied after D's penalty;
* early repayment on day D of a period pays interest on the principal repaid up to D only:
  annual rate / 360 per day for a broken period.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.core.ledger.account import Allocation, Status
from arrears.core.loans.product import Component
from arrears.core.problem import Problem, Result
from arrears.services import events as ev
from arrears.services.close.reference import close_through
from arrears.store import tables as t
from factories import (
    assert_journal_consistent,
    counts,
    entry_kinds,
    import_rows,
    loan_row,
    refused,
    state_row,
    stored_account,
    succeeded,
)

DRAWN = date(2024, 1, 15)
DUE1, DUE2, DUE3 = date(2024, 2, 15), date(2024, 3, 15), date(2024, 4, 15)
PENALTY_RATE = Fraction(12, 100) / 360 * Fraction(3, 2)  # per overdue day
assert Fraction(1, 2000) == PENALTY_RATE


def half_up(x: Fraction) -> int:
    return int(x + Fraction(1, 2)) if x >= 0 else -half_up(-x)


def penalty(base: int, days: int) -> int:
    """Penalty on a constant base for ``days`` days, rounded to the fen each day."""
    return days * half_up(base * PENALTY_RATE)


@pytest.fixture
def loan(engine: Engine, tmp_path: Path) -> Engine:
    import_rows(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    return engine


def applied(res: Result[ev.Applied]) -> ev.Applied:
    return succeeded(res)


def problem(res: Result[ev.Applied], field: str) -> Problem:
    found = refused(res)
    assert found.field == field, str(found)
    assert found.reason
    return found


def test_on_time_payment_has_no_penalty(loan: Engine) -> None:
    res = applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    assert res.allocation == Allocation(penalty=0, interest=1200, principal=40000)
    assert (res.aged.dpd, res.aged.bucket, res.aged.status) == (0, "C", "active")
    assert res.aged.next_due is not None
    assert (res.aged.next_due.due_date, res.aged.next_due.amount) == (DUE2, 40800)
    assert_journal_consistent(loan)


def test_late_payments_follow_the_waterfall_with_per_day_rounded_penalty(loan: Engine) -> None:
    close_through(loan, date(2024, 2, 19))
    # Paid on 02-20: 5 days late (16th..20th). Base 412.00 -> 20.6 fen a day -> 21 fen.
    pen1 = penalty(41200, 5)
    assert pen1 == 105  # one rounding over the 5 days would give 103
    res = applied(ev.pay(loan, "L1", 1000, date(2024, 2, 20), "p1"))
    # penalty first, then the oldest installment's interest, then its principal
    assert res.allocation == Allocation(penalty=pen1, interest=1000 - pen1, principal=0)
    interest_left = 1200 - (1000 - pen1)
    assert interest_left == 305
    assert res.aged.dpd == 5 and res.aged.bucket == "M1"
    assert res.aged.overdue.principal == 40000 and res.aged.overdue.interest == interest_left
    assert res.aged.overdue.penalty == 0
    # 02-21 and 02-22 accrue on 400.00 + 3.05 = 403.05 -> 20.1525 fen -> 20 fen a day
    pen2 = penalty(40000 + interest_left, 2)
    assert pen2 == 40
    rest = pen2 + interest_left + 40000
    res = applied(ev.pay(loan, "L1", rest, date(2024, 2, 22), "p2"))
    assert res.allocation == Allocation(penalty=pen2, interest=interest_left, principal=40000)
    assert (res.aged.dpd, res.aged.bucket, res.aged.overdue.total) == (0, "C", 0)
    row = state_row(loan, "L1")
    assert (row.dpd, row.outstanding_principal, row.outstanding_penalty) == (0, 80000, 0)
    assert_journal_consistent(loan)


def test_penalty_for_a_later_installment_uses_the_installment_base(loan: Engine) -> None:
    # Nothing paid until 03-17: installment 1 is 31 days late (02-16..03-17), installment 2
    # 2 days (03-16, 03-17). Base per day: 412.00 until 03-15, then 412.00 + 408.00.
    days_only_first = (DUE2 - DUE1).days  # 02-16 .. 03-15
    assert days_only_first == 29
    expected = penalty(41200, 29) + penalty(41200 + 40800, 2)
    res = applied(ev.pay(loan, "L1", expected, date(2024, 3, 17), "p1"))
    assert res.allocation == Allocation(penalty=expected)
    assert res.aged.dpd == (date(2024, 3, 17) - DUE1).days == 31
    assert res.aged.bucket == "M2" and res.aged.consecutive_overdue == 2
    assert_journal_consistent(loan)


def test_same_ref_twice_applies_once(loan: Engine) -> None:
    applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    before = counts(loan)
    again = applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    assert again.already_applied and again.allocation is None
    assert counts(loan) == before
    assert_journal_consistent(loan)


@pytest.mark.parametrize(
    ("loan_id", "amount", "on"),
    [
        ("L1", 41201, DUE1),  # another amount
        ("L1", 41200, date(2024, 2, 16)),  # another date
        ("L2", 41200, DUE1),  # another loan
    ],
)
def test_ref_reused_for_another_payment_is_refused(
    loan: Engine, loan_id: str, amount: int, on: date
) -> None:
    applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    before = counts(loan)
    problem(ev.pay(loan, loan_id, amount, on, "p1"), "ref")
    assert counts(loan) == before
    assert_journal_consistent(loan)


@pytest.mark.parametrize(
    ("loan_id", "amount", "on", "field"),
    [
        ("NOPE", 1000, DUE1, "loan_id"),
        ("L1", 0, DUE1, "amount"),
        ("L1", -1000, DUE1, "amount"),
        ("L1", 1000, date(2024, 1, 14), "on"),  # the day before disbursement
    ],
)
def test_bad_payment_is_refused_and_writes_nothing(
    loan: Engine, loan_id: str, amount: int, on: date, field: str
) -> None:
    before = counts(loan)
    problem(ev.pay(loan, loan_id, amount, on, "bad"), field)
    assert counts(loan) == before
    # the ref was not consumed
    applied(ev.pay(loan, "L1", 1000, DUE1, "bad"))


def test_payment_on_the_disbursement_day_is_accepted(loan: Engine) -> None:
    # on the drawdown day no interest has run: the payoff is the principal
    problem(ev.pay(loan, "L1", 120001, DRAWN, "p0"), "amount")
    res = applied(ev.pay(loan, "L1", 120000, DRAWN, "p1"))
    assert res.allocation == Allocation(prepaid_principal=120000)
    assert res.aged.status == "settled"


def test_early_repayment_charges_interest_to_the_payment_day_only(loan: Engine) -> None:
    on = date(2024, 2, 5)  # 21 days into the first period (01-15 .. 02-15)
    interest = half_up(Fraction(120000) * Fraction(12, 100) * 21 / 360)
    assert interest == 840  # not the 12.00 of the whole month
    payoff = 120000 + interest
    before = counts(loan)
    problem(ev.pay(loan, "L1", payoff + 1, on, "over"), "amount")
    assert counts(loan) == before
    res = applied(ev.pay(loan, "L1", payoff, on, "p1"))
    assert res.allocation == Allocation(prepaid_interest=interest, prepaid_principal=120000)
    assert res.aged.status == "settled" and res.aged.outstanding.total == 0
    acct = stored_account(loan, "L1")
    assert acct.status is Status.SETTLED and acct.prepaid_principal == 120000
    assert sum(i.unpaid for i in acct.installments) == 0
    # a settled loan takes no more money, and the close leaves it alone
    problem(ev.pay(loan, "L1", 100, date(2024, 2, 6), "late"), "loan_id")
    close_through(loan, date(2024, 3, 1))
    assert state_row(loan, "L1").as_of == on
    assert_journal_consistent(loan)


def test_partial_early_repayment_reamortizes_the_rest(loan: Engine) -> None:
    on = date(2024, 1, 25)  # 10 days in: factor f = 10 x 12%/360 = 1/300
    f = Fraction(10) * Fraction(12, 100) / 360
    amount = 50000
    repaid = half_up(amount / (1 + f))
    assert (repaid, amount - repaid) == (49834, 166)
    res = applied(ev.pay(loan, "L1", amount, on, "p1"))
    assert res.allocation == Allocation(prepaid_interest=166, prepaid_principal=49834)
    # the remaining 701.66 over the same three dates, equal principal, 1% a month
    left = 120000 - 49834
    part = half_up(Fraction(left, 3))
    expected = [
        (DUE1, part, half_up(Fraction(left, 100))),
        (DUE2, part, half_up(Fraction(left - part, 100))),
        (DUE3, left - 2 * part, half_up(Fraction(left - 2 * part, 100))),
    ]
    acct = stored_account(loan, "L1")
    assert [(i.due_date, i.principal, i.interest) for i in acct.installments] == expected
    assert acct.prepaid_principal == 49834
    assert_journal_consistent(loan)


def test_overpayment_of_an_overdue_loan_is_refused(loan: Engine) -> None:
    on = date(2024, 2, 20)
    # payoff: installment 1 (412.00) + 5 days' penalty + 800.00 principal not yet due
    # + interest on it from 02-15 to 02-20 (5 days at 12%/360)
    accrued = half_up(Fraction(80000) * Fraction(12, 100) * 5 / 360)
    payoff = 41200 + penalty(41200, 5) + 80000 + accrued
    before = counts(loan)
    problem(ev.pay(loan, "L1", payoff + 1, on, "over"), "amount")
    assert counts(loan) == before
    res = applied(ev.pay(loan, "L1", payoff, on, "p1"))
    assert res.aged.status == "settled"
    assert res.allocation == Allocation(
        penalty=penalty(41200, 5),
        interest=1200,
        principal=40000,
        prepaid_interest=accrued,
        prepaid_principal=80000,
    )
    assert_journal_consistent(loan)


def test_reversal_writes_a_new_entry_and_reages_the_loan(loan: Engine) -> None:
    applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    close_through(loan, date(2024, 2, 20))
    assert state_row(loan, "L1").dpd == 0
    kinds_before = entry_kinds(loan, "L1")
    res = applied(ev.reverse(loan, "p1", "r1", date(2024, 2, 20)))
    assert res.kind == "reversal" and not res.already_applied
    # the loan is 5 days past due again, with the penalty it would have run up
    assert res.aged.dpd == 5 and res.aged.bucket == "M1"
    assert res.aged.overdue.principal == 40000 and res.aged.overdue.interest == 1200
    assert res.aged.overdue.penalty == penalty(41200, 5)
    row = state_row(loan, "L1")
    assert (row.dpd, row.bucket, row.classification) == (5, "M1", "special_mention")
    kinds_after = entry_kinds(loan, "L1")
    assert kinds_after[: len(kinds_before)] == kinds_before  # nothing rewritten
    assert "reversal" in kinds_after[len(kinds_before) :]
    with loan.connect() as conn:
        legs = conn.execute(
            select(t.postings.c.account, t.postings.c.amount)
            .join(t.journal_entries, t.journal_entries.c.entry_id == t.postings.c.entry_id)
            .where(t.journal_entries.c.kind == "reversal")
        ).all()
    # the payment's entry, negated
    assert sorted(legs) == [
        ("assets:cash", -41200),
        ("loan:L1:interest", 1200),
        ("loan:L1:principal", 40000),
    ]
    assert_journal_consistent(loan)
    # the same reversal again applies once; reversing the payment again is refused
    before = counts(loan)
    assert applied(ev.reverse(loan, "p1", "r1", date(2024, 2, 20))).already_applied
    problem(ev.reverse(loan, "p1", "r2", date(2024, 2, 20)), "reverses")
    assert counts(loan) == before


@pytest.mark.parametrize("target", ["nope", "r1"])
def test_reversing_an_unknown_ref_or_a_reversal_is_refused(loan: Engine, target: str) -> None:
    applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    applied(ev.reverse(loan, "p1", "r1", DUE1))
    before = counts(loan)
    problem(ev.reverse(loan, target, "r9", DUE1), "reverses")
    assert counts(loan) == before
    assert_journal_consistent(loan)


def test_reversal_dated_before_disbursement_is_refused(loan: Engine) -> None:
    applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))
    before = counts(loan)
    problem(ev.reverse(loan, "p1", "r1", date(2024, 1, 1)), "on")  # before disbursement
    assert counts(loan) == before


def test_backdated_payment_after_the_close_reages(loan: Engine) -> None:
    close_through(loan, date(2024, 3, 5))  # past the month end: February's penalty posted
    assert state_row(loan, "L1").dpd == (date(2024, 3, 5) - DUE1).days
    assert "penalty" in entry_kinds(loan, "L1")
    res = applied(ev.pay(loan, "L1", 41200, DUE1, "p1"))  # paid on the due date after all
    assert res.aged.as_of == date(2024, 3, 5)
    assert res.aged.dpd == 0 and res.aged.overdue.total == 0
    assert res.aged.outstanding.penalty == 0
    assert_journal_consistent(loan)


def test_payment_after_reversal_and_more_closes_stays_consistent(loan: Engine) -> None:
    applied(ev.pay(loan, "L1", 20000, date(2024, 2, 10), "p1"))
    close_through(loan, date(2024, 2, 29))
    applied(ev.pay(loan, "L1", 30000, date(2024, 2, 20), "p2"))  # back-dated
    applied(ev.reverse(loan, "p1", "r1", date(2024, 3, 1)))
    close_through(loan, date(2024, 3, 20))
    applied(ev.pay(loan, "L1", 10000, date(2024, 3, 20), "p3"))
    assert_journal_consistent(loan)
    assert_journal_consistent(loan, ["L2"])


def test_waivers_and_write_off(loan: Engine) -> None:
    close_through(loan, date(2024, 2, 20))
    owed = penalty(41200, 5)
    before = counts(loan)
    problem(ev.waive(loan, "L1", Component.PENALTY, owed + 1, date(2024, 2, 20), "w0"), "amount")
    problem(ev.waive(loan, "L1", Component.PRINCIPAL, 100, date(2024, 2, 20), "w0"), "component")
    problem(ev.waive(loan, "L1", Component.INTEREST, 1201, date(2024, 2, 20), "w0"), "amount")
    problem(ev.waive(loan, "L1", Component.INTEREST, 0, date(2024, 2, 20), "w0"), "amount")
    assert counts(loan) == before
    res = applied(ev.waive(loan, "L1", Component.PENALTY, owed, date(2024, 2, 20), "w1"))
    assert res.aged.outstanding.penalty == 0 and res.aged.dpd == 5
    res = applied(ev.waive(loan, "L1", Component.INTEREST, 1200, date(2024, 2, 20), "w2"))
    assert res.aged.overdue.interest == 0
    assert_journal_consistent(loan)
    res = applied(ev.write_off(loan, "L1", date(2024, 2, 21), "wo1"))
    assert res.aged.status == "written_off" and res.aged.classification == "loss"
    acct = stored_account(loan, "L1")
    assert acct.status is Status.WRITTEN_OFF
    problem(ev.pay(loan, "L1", 100, date(2024, 2, 22), "late"), "loan_id")
    assert_journal_consistent(loan)


def test_overlong_ref_is_refused_on_every_backend(loan: Engine) -> None:
    before = counts(loan)
    res = ev.pay(loan, "L1", 1000, DUE1, "r" * 129)
    problem(res, "ref")
    assert counts(loan) == before
