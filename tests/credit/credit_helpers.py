"""Ledger scenarios for the credit tests: loans built from terms, events built as a borrower
would make them (pay what is due on a date, pay nothing, pay off, get written off)."""

from __future__ import annotations

from datetime import date

from arrears.core.ledger.replay import Event, replay
from arrears.core.loans.product import DEFAULT_PRODUCT, Method
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.core.problem import expect

P = DEFAULT_PRODUCT


def terms(
    loan_id: str = "L1",
    *,
    principal: int = 300000,
    months: int = 6,
    method: Method = Method.EQUAL_PRINCIPAL,
    disbursed: date = date(2024, 12, 15),
    due_day: int | None = 10,
) -> LoanTerms:
    return LoanTerms(
        loan_id, principal, Rate.parse("12%", RateBasis.ANNUAL), months, method, disbursed, due_day
    )


def due_on(t: LoanTerms, events: list[Event], day: date) -> int:
    """Everything due on ``day`` (installments due by then and all penalty), per the ledger."""
    a = expect(replay(t, P, events, day)).account
    return (
        sum(i.unpaid for i in a.installments if i.due_date <= day)
        + a.penalty_owed
        + a.penalty_unposted
    )


def payoff_on(t: LoanTerms, events: list[Event], day: date) -> int:
    from arrears.core.ledger.account import payoff_amount

    return payoff_amount(expect(replay(t, P, events, day)).account, P, day)
