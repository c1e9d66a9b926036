"""Re-ageing a loan into an installment plan (个性化分期; in practice 停息挂账: interest stopped,
the debt frozen and repaid in equal monthly installments, at most 60 of them).

On the plan's day, after that day's close:

1. penalty accrued and not yet posted is posted;
2. the penalty the lender agreed to forgo is waived (``expense:waiver``);
3. the overdue interest and the penalty left are capitalised: one ``reschedule`` entry moves
   them from the interest and penalty receivables to the principal receivable, so income
   already recognised stays recognised and nothing is counted twice;
4. every installment keeps only what was paid of it; the contractual interest not yet due is
   not charged (the plan stops interest);
5. the plan's total (all unpaid principal + the capitalised amount) falls due in ``months``
   equal monthly installments from ``first_due``, in whole fen, the last absorbing the
   remainder (``total // months`` each, the last ``total - (months - 1) x that``). They carry
   principal only, so no interest falls due on them; a plan installment that is missed accrues
   penalty like any other once past its grace.

A payment applies to what is due first, as always; money beyond it pays the next plan
installments in order (no re-amortisation: the plan has no interest to re-compute). The plan's
installments are numbered after the loan's last one, so a loan's history keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from arrears.core.ledger.account import (
    Account,
    Inst,
    Status,
    Step,
    _penalty_entry,
    _refuse,
    _with,
)
from arrears.core.ledger.journal import EXPENSE_WAIVER, EntryKind, entry, receivable
from arrears.core.loans.calendar import add_months
from arrears.core.loans.product import Component, Method, Product
from arrears.core.loans.schedule import build_schedule
from arrears.core.money import Rate, RateBasis
from arrears.core.problem import Result, ok

MAX_MONTHS = 60  # credit-card Measures Art. 70: personalised installments at most 5 years


@dataclass(frozen=True, slots=True)
class Reschedule:
    """The event: loan re-aged on ``on`` into ``months`` installments from ``first_due``,
    ``waive_penalty`` fen of penalty and ``waive_interest`` fen of overdue interest forgone
    first. ``rate``: a restructuring's new rate on the debt (annuity installments at it,
    interest falling due with each); None: an installment plan, which stops interest."""

    ref: str
    on: date
    months: int
    first_due: date
    waive_penalty: int = 0
    waive_interest: int = 0
    rate: Rate | None = None


def reschedule_event(
    ref: str,
    on: date,
    months: int,
    first_due: date,
    waive_penalty: int,
    waive_interest: int | None,
    rate: str | None,
) -> Reschedule:
    """The event from its stored row (``loan_events``: the rate a yearly fraction's text, as
    the loans table stores rates)."""
    parsed = None if rate is None else Rate(Fraction(rate), RateBasis.ANNUAL)
    return Reschedule(ref, on, months, first_due, waive_penalty, waive_interest or 0, parsed)


def plan_amounts(total: int, months: int) -> tuple[int, ...]:
    """``total`` fen in ``months`` equal installments, the last absorbing the remainder."""
    assert total >= 0 and months >= 1
    each = total // months
    return (each,) * (months - 1) + (total - each * (months - 1),)


def plan_due_dates(first_due: date, months: int) -> tuple[date, ...]:
    """Monthly from ``first_due`` on its day of the month (the month's last day when shorter)."""
    return tuple(add_months(first_due, k, first_due.day) for k in range(months))


def in_plan(acct: Account) -> bool:
    """The loan has plan installments still owed (numbered after its contractual ones)."""
    return any(i.n > acct.terms.months and i.unpaid for i in acct.installments)


def reschedule(acct: Account, product: Product, ev: Reschedule) -> Result[Step]:
    """Re-age ``acct`` (closed through ``ev.on``) into the plan; refused: nothing changes."""
    ref, on = ev.ref, ev.on
    assert acct.as_of == on, (acct.loan_id, acct.as_of, on)
    if acct.status is not Status.ACTIVE:
        return _refuse(ref, "loan_id", f"loan {acct.loan_id} is {acct.status.value}")
    if not 1 <= ev.months <= MAX_MONTHS:
        return _refuse(ref, "months", f"must be 1 to {MAX_MONTHS}, got {ev.months}")
    if ev.first_due <= on:
        return _refuse(ref, "first_due", f"must be after the plan's day {on}")
    if ev.waive_penalty < 0:
        return _refuse(ref, "waive_penalty", "must not be negative")
    if ev.waive_interest < 0:
        return _refuse(ref, "waive_interest", "must not be negative")
    entries = []
    acct, e = _penalty_entry(acct, f"{acct.loan_id}:penalty:plan:{ref}", on)
    if e:
        entries.append(e)
    if ev.waive_penalty > acct.penalty_owed:
        return _refuse(
            ref,
            "waive_penalty",
            f"{ev.waive_penalty} fen exceeds the penalty owed, {acct.penalty_owed}",
        )
    loan = acct.loan_id
    if ev.waive_penalty:
        legs = {
            EXPENSE_WAIVER: ev.waive_penalty,
            receivable(loan, Component.PENALTY): -ev.waive_penalty,
        }
        w = entry(f"{loan}:waiver:plan:{ref}", loan, EntryKind.WAIVER, on, legs)
        assert w is not None
        entries.append(w)
    penalty = acct.penalty_owed - ev.waive_penalty
    interest = sum(i.unpaid_interest for i in acct.installments if i.due_date <= on)
    if ev.waive_interest > interest:
        return _refuse(
            ref, "waive_interest", f"{ev.waive_interest} fen exceeds the interest due, {interest}"
        )
    if ev.waive_interest:
        legs = {
            EXPENSE_WAIVER: ev.waive_interest,
            receivable(loan, Component.INTEREST): -ev.waive_interest,
        }
        w = entry(f"{loan}:waiver:interest:plan:{ref}", loan, EntryKind.WAIVER, on, legs)
        assert w is not None
        entries.append(w)
        interest -= ev.waive_interest
    principal = sum(i.unpaid_principal for i in acct.installments)
    total = principal + interest + penalty
    if total == 0:
        return _refuse(ref, "loan_id", f"loan {loan} owes nothing to put in a plan")
    capitalise = {
        receivable(loan, Component.PRINCIPAL): interest + penalty,
        receivable(loan, Component.INTEREST): -interest,
        receivable(loan, Component.PENALTY): -penalty,
    }
    c = entry(
        f"{loan}:reschedule:{ref}", loan, EntryKind.RESCHEDULE, on, capitalise, "re-aged into plan"
    )
    if c:
        entries.append(c)
    kept = tuple(
        Inst(
            i.n,
            i.start,
            i.due_date,
            i.paid_principal,
            i.paid_interest,
            i.paid_principal,
            i.paid_interest,
        )
        for i in acct.installments
    )
    first_n = max(i.n for i in acct.installments) + 1
    dues = plan_due_dates(ev.first_due, ev.months)
    starts = (on, *dues[:-1])
    if ev.rate is None:
        plan = tuple(
            Inst(first_n + k, starts[k], dues[k], amount, 0)
            for k, amount in enumerate(plan_amounts(total, ev.months))
        )
    else:
        sched = build_schedule(
            total, ev.rate, Method.ANNUITY, on, dues, product.days_per_year, first_n
        )
        plan = tuple(Inst(i.n, i.start, i.due_date, i.principal, i.interest) for i in sched)
    acct = _with(acct, installments=(*kept, *plan), penalty_owed=0)
    acct.check()
    return ok((acct, entries))
