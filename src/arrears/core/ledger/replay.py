"""Rebuild a loan's account and journal from its terms and events: the reference truth.

Stored state (the ``loan_state`` and installment rows, the journal) is a cache of this replay;
tests hold them equal, and re-ageing after a reversal or a back-dated payment posts whatever
difference the replay shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from arrears.core.ledger.account import (
    NO_PAUSES,
    Account,
    Allocation,
    Pauses,
    Step,
    apply_payment,
    close_through,
    open_account,
    waive,
    write_off,
)
from arrears.core.ledger.journal import Entry
from arrears.core.ledger.plan import Reschedule, reschedule
from arrears.core.loans.product import Component, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.problem import Problem, Result, fail, ok


@dataclass(frozen=True, slots=True)
class Payment:
    ref: str
    amount: int
    on: date


@dataclass(frozen=True, slots=True)
class Waiver:
    ref: str
    component: Component
    amount: int
    on: date


@dataclass(frozen=True, slots=True)
class WriteOff:
    ref: str
    on: date


Event = Payment | Waiver | WriteOff | Reschedule


@dataclass(frozen=True, slots=True)
class Replayed:
    account: Account
    entries: list[Entry]
    allocations: dict[str, Allocation]


def apply_event(
    acct: Account, product: Product, ev: Event
) -> Result[tuple[Account, list[Entry], Allocation | None]]:
    """One event on an account closed through its date; refused events change nothing."""
    if isinstance(ev, Payment):
        paid, problems = apply_payment(acct, product, ev.ref, ev.amount, ev.on)
        return (None, problems) if paid is None else ok(paid)
    if isinstance(ev, Waiver):
        step, problems = waive(acct, ev.ref, ev.component, ev.amount, ev.on)
    elif isinstance(ev, Reschedule):
        step, problems = reschedule(acct, product, ev)
    else:
        step, problems = write_off(acct, ev.ref, ev.on)
    return (None, problems) if step is None else ok((step[0], step[1], None))


def replay(
    terms: LoanTerms,
    product: Product,
    events: list[Event],
    through: date,
    *,
    opened: Step | None = None,
    pauses: Pauses = NO_PAUSES,
) -> Result[Replayed]:
    """The account closed through ``through`` with every event dated on or before it applied.

    Events apply in date order, and in the order given within a date. ``opened`` is what
    ``open_account(terms, product)`` returns, for a caller that has built it already (in bulk).
    ``pauses``: the days the loan accrues no penalty (its moratoria), as the close saw them.
    """
    acct, first = open_account(terms, product) if opened is None else opened
    entries = list(first)
    allocations: dict[str, Allocation] = {}
    pending = sorted(
        (ev for ev in events if ev.on <= through), key=lambda ev: ev.on
    )  # sorted() is stable: the given order holds within a date
    for ev in pending:
        if ev.on < terms.disbursed_on:
            return fail(
                Problem(
                    f"ref {ev.ref}", "on", f"{ev.on} is before disbursement {terms.disbursed_on}"
                )
            )
    # Close from event date to event date in one step each (close_through equals one
    # accrue_loan_day per day), applying each date's events after its close.
    for ev in pending:
        acct, new = close_through(acct, product, ev.on, pauses)
        entries.extend(new)
        res, problems = apply_event(acct, product, ev)
        if res is None:
            return None, problems
        acct, new, alloc = res
        entries.extend(new)
        if alloc is not None:
            allocations[ev.ref] = alloc
    acct, new = close_through(acct, product, through, pauses)
    entries.extend(new)
    return ok(Replayed(acct, entries, allocations))
