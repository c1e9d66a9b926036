"""Re-ageing into an installment plan, on the pure ledger (core.ledger.plan)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from arrears.core.ledger.account import (
    Account,
    apply_payment,
    close_through,
    open_account,
    payoff_amount,
)
from arrears.core.ledger.journal import balances, receivable
from arrears.core.ledger.plan import Reschedule, plan_amounts, plan_due_dates, reschedule
from arrears.core.ledger.replay import replay
from arrears.core.loans.product import Component, Method, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate
from factories import refused, succeeded

PRODUCT = Product()
# 1,200.00 at 12% a year over 3 months, equal principal, drawn 15 January 2024: the first
# installment (400.00 and its interest) unpaid since 15 February.
TERMS = LoanTerms(
    "L", 120_000, Rate.parse("12%", "annual"), 3, Method.EQUAL_PRINCIPAL, date(2024, 1, 15)
)
ON = date(2024, 3, 1)


def overdue() -> Account:
    acct, _ = open_account(TERMS, PRODUCT)
    acct, _ = close_through(acct, PRODUCT, ON)
    return acct


def test_plan_amounts_are_equal_but_the_last() -> None:
    assert plan_amounts(100_000, 3) == (33_333, 33_333, 33_334)
    assert plan_amounts(5, 1) == (5,)
    assert plan_due_dates(date(2024, 1, 31), 3) == (
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
    )


@given(st.integers(0, 10**10), st.integers(1, 60))
def test_plan_amounts_conserve_money(total: int, months: int) -> None:
    amounts = plan_amounts(total, months)
    assert sum(amounts) == total and len(amounts) == months
    assert all(a == amounts[0] for a in amounts[:-1])
    assert 0 <= amounts[-1] - amounts[0] < months


def test_reschedule_capitalises_overdue_interest_and_penalty() -> None:
    acct = overdue()
    interest = sum(i.unpaid_interest for i in acct.installments if i.due_date <= ON)
    penalty = acct.penalty_owed + acct.penalty_unposted
    assert interest > 0 and penalty > 0
    step = succeeded(
        reschedule(acct, PRODUCT, Reschedule("r1", ON, 4, date(2024, 4, 1), waive_penalty=100))
    )
    after, entries = step
    total = 120_000 + interest + penalty - 100
    plan = [i for i in after.installments if i.n > 3]
    assert [i.principal for i in plan] == list(plan_amounts(total, 4))
    assert all(i.interest == 0 for i in plan)
    assert [i.due_date for i in plan] == list(plan_due_dates(date(2024, 4, 1), 4))
    assert all(i.unpaid == 0 for i in after.installments if i.n <= 3)
    assert after.penalty_owed == 0 and after.penalty_unposted == 0
    moved = balances(entries)
    assert moved[receivable("L", Component.PRINCIPAL)] == interest + penalty - 100
    assert moved["expense:waiver"] == 100
    # After the plan the loan owes exactly its plan, all of it principal, none overdue.
    assert payoff_amount(after, PRODUCT, ON) == total


def test_money_beyond_what_is_due_pays_the_next_plan_installments() -> None:
    acct = overdue()
    after, _ = succeeded(reschedule(acct, PRODUCT, Reschedule("r1", ON, 4, date(2024, 4, 1))))
    plan = [i for i in after.installments if i.n > 3]
    paid, _, alloc = succeeded(apply_payment(after, PRODUCT, "x", plan[0].principal + 10, ON))
    new = [i for i in paid.installments if i.n > 3]
    assert new[0].unpaid == 0 and new[1].paid_principal == 10
    assert alloc.prepaid_principal == plan[0].principal + 10 and alloc.prepaid_interest == 0
    over = refused(apply_payment(after, PRODUCT, "y", sum(i.principal for i in plan) + 1, ON))
    assert over.field == "amount"


def test_replay_with_a_reschedule_balances() -> None:
    ev = [Reschedule("r1", ON, 6, date(2024, 4, 1))]
    done = succeeded(replay(TERMS, PRODUCT, ev, date(2024, 6, 30)))
    assert sum(balances(done.entries).values()) == 0
    # Three plan installments fell due unpaid by 30 June: overdue since 1 April.
    overdue_plan = [
        i for i in done.account.installments if i.n > 3 and i.due_date <= date(2024, 6, 30)
    ]
    assert len(overdue_plan) == 3 and all(i.unpaid for i in overdue_plan)


def test_bad_reschedules_are_refused() -> None:
    acct = overdue()
    assert (
        refused(reschedule(acct, PRODUCT, Reschedule("r", ON, 0, date(2024, 4, 1)))).field
        == "months"
    )
    assert (
        refused(reschedule(acct, PRODUCT, Reschedule("r", ON, 61, date(2024, 4, 1)))).field
        == "months"
    )
    assert refused(reschedule(acct, PRODUCT, Reschedule("r", ON, 6, ON))).field == "first_due"
    assert refused(
        reschedule(acct, PRODUCT, Reschedule("r", ON, 6, date(2024, 4, 1), 10**9))
    ).field == ("waive_penalty")
