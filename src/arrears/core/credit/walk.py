"""The loan's account read at chosen dates: one pass over the ledger's own step functions.

``walk`` returns the account at the end of each wanted date (that day's close done and the
events dated that day applied), exactly as ``arrears.core.ledger.replay.replay`` would build it for
``through=date``, but in one pass instead of one replay per date.

Two engines, one contract:

* ``daily`` closes the account one day at a time with ``ledger.account.accrue_loan_day``: the same
  loop as ``replay``. It is the reference.
* ``fast`` jumps between the dates where something can change. Between two events the penalty
  base (overdue principal, plus interest for installment-based products) only changes on the day
  after an installment's grace period ends, so the penalty over a span of days with one base is
  ``days x round_half_up(base x daily penalty rate)``: the same per-day rounding the close makes,
  summed. Interest falling due and month-end penalty posting move journal amounts, not the
  account's paid/unpaid state, so they need no step of their own. The fast engine keeps all
  penalty in ``penalty_unposted`` (the close moves it to ``penalty_owed`` at month end); every
  event posts the unposted penalty before allocating, so the split never changes an allocation.
  Tests hold the two engines equal (installments, status, total penalty) on random portfolios.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction

from arrears.core.ledger.account import (
    ONE_DAY,
    Account,
    Inst,
    Status,
    accrue_loan_day,
    open_account,
    penalty_rate,
)
from arrears.core.ledger.replay import Event, Payment, apply_event
from arrears.core.loans.calendar import due_dates, whole_months
from arrears.core.loans.product import Component, Method, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import RateBasis


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The account at the end of ``account.as_of``, and what the bureau record needs besides."""

    account: Account
    last_payment_on: date | None  # the latest payment applied so far
    closed_on: date | None  # the day the loan was settled or written off
    closed_by: str | None  # the ref of the event that closed it


@dataclass(frozen=True, slots=True)
class Unknown:
    """The ledger refused an event dated ``on``: the account cannot be read from then on."""

    on: date
    ref: str
    field: str
    reason: str


Reading = Snapshot | Unknown


@functools.lru_cache(maxsize=65536)
def _due_dates(
    disbursed_on: date, months: int, due_day: int | None, min_first: int, bullet: bool
) -> tuple[date, ...]:
    # Loans share drawdown days and terms, and a loan is read several times (export, notices):
    # the calendar arithmetic is worth caching.
    dates = due_dates(disbursed_on, months, due_day, min_first)
    return dates[-1:] if bullet else dates


def contract_due_dates(terms: LoanTerms, product: Product) -> tuple[date, ...]:
    """The loan's due dates at disbursement (bullet: the last only), as ``schedule_for``."""
    return _due_dates(
        terms.disbursed_on,
        terms.months,
        terms.due_day,
        product.min_first_period_days,
        terms.method is Method.BULLET,
    )


def _half_up(num: int, den: int) -> int:
    """``round_half_up(num / den)`` for ``num >= 0 < den``, in integers."""
    return (2 * num + den) // (2 * den)


def open_fast(terms: LoanTerms, product: Product) -> Account:
    """``ledger.account.open_account``'s account, from integer arithmetic.

    The schedule is ``loans.schedule.schedule_for``'s: the annuity payment rounded once, each
    period's interest on its opening balance rounded half-up, the last period taking the rest.
    With the rate ``a/b`` every exact quantity is one integer fraction, so each rounding is one
    integer division instead of a chain of ``Fraction`` operations. Tests hold it equal to the
    ledger's on generated terms.
    """
    if terms.months < 1:
        return open_account(terms, product)[0]  # the ledger raises its own error
    dates = contract_due_dates(terms, product)
    rate = terms.rate
    a, b = rate.value.numerator, rate.value.denominator
    daily = rate.basis is RateBasis.DAILY
    dpy = product.days_per_year
    principal = terms.principal
    n = len(dates)
    method = terms.method
    payment = 0
    if method is Method.ANNUITY:
        # monthly rate m = a/(12b) (annual) or 30a/b (daily); P m g^n / (g^n - 1), g = 1 + m.
        mn, md = (30 * a, b) if daily else (a, 12 * b)
        if mn == 0:
            payment = _half_up(principal, n)
        else:
            grown, base = (md + mn) ** n, md**n
            payment = _half_up(principal * mn * grown, md * (grown - base))
    even = _half_up(principal, n)
    insts: list[Inst] = []
    balance = principal
    start = terms.disbursed_on
    for k, due in enumerate(dates):
        if daily:
            interest = _half_up(balance * a * (due - start).days, b)
        else:
            months = whole_months(start, due)
            if months is not None:
                interest = _half_up(balance * a * months, 12 * b)
            else:
                interest = _half_up(balance * a * (due - start).days, b * dpy)
        if k == n - 1:
            part = balance
        elif method is Method.ANNUITY:
            part = payment - interest
        elif method is Method.EQUAL_PRINCIPAL:
            part = even
        else:  # interest-first and bullet repay principal only at the end
            part = 0
        part = max(0, min(part, balance))
        balance -= part
        insts.append(Inst(k + 1, start, due, part, interest))
        start = due
    return Account(terms, terms.disbursed_on, tuple(insts))


def _penalty_steps(acct: Account, product: Product) -> list[tuple[int, int]]:
    """(first day counted, amount) per installment with something unpaid, by day ordinal.

    Day ``d`` counts an installment in the penalty base (``ledger.account.penalty_base``) from
    ``due + grace + 1`` on.
    """
    lag = product.grace_days + 1
    with_interest = product.penalty_base is PenaltyBase.INSTALLMENT
    steps: list[tuple[int, int]] = []
    for i in acct.installments:
        owed = i.principal - i.paid_principal
        if with_interest:
            owed += i.interest - i.paid_interest
        if owed:
            steps.append((i.due_date.toordinal() + lag, owed))
    steps.sort()
    return steps


def _advance_fast(
    acct: Account, through: date, rate: Fraction, steps: list[tuple[int, int]]
) -> Account:
    """The account closed through ``through`` (no events in between), by spans of one base.

    ``steps`` are the account's ``_penalty_steps``. Between two of them the base is constant, so
    a span adds ``days x round_half_up(base x rate)``, the close's own daily rounding summed.
    Integer arithmetic: ``round_half_up(b x n / m)`` for ``b >= 0`` is ``(2bn + m) // 2m``.
    """
    if through <= acct.as_of:
        return acct
    if acct.status is not Status.ACTIVE:
        return _at(acct, through, acct.penalty_unposted)
    num, den = rate.numerator, rate.denominator
    last = through.toordinal()
    accrued = 0
    base = 0
    day = acct.as_of.toordinal() + 1
    for starts, owed in steps:
        if starts > last:
            break
        if starts > day:
            if base:
                accrued += (starts - day) * ((2 * base * num + den) // (2 * den))
            day = starts
        base += owed
    if base:
        accrued += (last - day + 1) * ((2 * base * num + den) // (2 * den))
    return _at(acct, through, acct.penalty_unposted + accrued)


def _at(acct: Account, as_of: date, unposted: int) -> Account:
    # Positional construction: several times cheaper than dataclasses.replace in this loop.
    return Account(
        acct.terms,
        as_of,
        acct.installments,
        unposted,
        acct.penalty_owed,
        acct.prepaid_principal,
        acct.status,
    )


def pay_within_due(acct: Account, product: Product, amount: int, on: date) -> Account | None:
    """``ledger.account.apply_payment``'s account for a payment of at most what is due.

    A payment no larger than the due installments plus all penalty can neither be refused
    (the payoff is at least that) nor repay anything early, so it needs none of the ledger's
    exact prepayment arithmetic: the penalty is posted, the waterfall pays penalty (first or
    last, as the product says) and the due installments oldest first, each component in the
    product's order. None when the payment is larger (or the account not active, or the amount
    not positive): the caller takes the ledger's own path. Tests hold the two equal.
    """
    if amount <= 0 or acct.status is not Status.ACTIVE or acct.as_of != on:
        return None
    owed = acct.penalty_owed + acct.penalty_unposted
    due = 0
    for i in acct.installments:
        if i.due_date <= on:
            due += i.principal - i.paid_principal + i.interest - i.paid_interest
    if amount > due + owed:
        return None
    left = amount
    penalty_first = product.waterfall[0] is Component.PENALTY
    others = [c for c in product.waterfall if c is not Component.PENALTY]
    interest_first = others[0] is Component.INTEREST
    pen = 0
    if penalty_first:
        pen = min(left, owed)
        left -= pen
    insts: list[Inst] = []
    for i in acct.installments:
        if left > 0 and i.due_date <= on:
            pp, pi = i.paid_principal, i.paid_interest
            if interest_first:
                take = min(left, i.interest - pi)
                pi += take
                left -= take
                take = min(left, i.principal - pp)
                pp += take
                left -= take
            else:
                take = min(left, i.principal - pp)
                pp += take
                left -= take
                take = min(left, i.interest - pi)
                pi += take
                left -= take
            if pp != i.paid_principal or pi != i.paid_interest:
                i = Inst(i.n, i.start, i.due_date, i.principal, i.interest, pp, pi)
        insts.append(i)
    if not penalty_first:
        pen = min(left, owed)
        left -= pen
    assert left == 0, (acct.loan_id, amount)
    owed -= pen
    status = Status.ACTIVE
    if not owed and all(i.principal == i.paid_principal and i.interest == i.paid_interest
                        for i in insts):  # fmt: skip
        status = Status.SETTLED
    return Account(acct.terms, on, tuple(insts), 0, owed, acct.prepaid_principal, status)


def _advance_daily(acct: Account, product: Product, through: date) -> Account:
    while acct.as_of < through:
        acct, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
    return acct


def walk(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    dates: Sequence[date],
    *,
    engine: str = "fast",
    start: Snapshot | None = None,
) -> dict[date, Reading]:
    """The account at the end of each of ``dates`` on or after disbursement.

    Events dated after the last wanted date are ignored; events apply in date order, and in the
    given order within a date (as ``replay`` does). Dates before disbursement are left out.
    With ``start`` (a reading made earlier from the same events), the walk resumes from it: only
    dates and events after its day are taken.
    """
    fast = engine == "fast"
    steps_of: tuple[tuple[Inst, ...] | None, list[tuple[int, int]]] = (None, [])

    def accrue_through(acct: Account, through: date) -> Account:
        nonlocal steps_of
        if not fast:
            return _advance_daily(acct, product, through)
        if steps_of[0] is not acct.installments:  # they change only when an event applies
            steps_of = (acct.installments, _penalty_steps(acct, product))
        return _advance_fast(acct, through, rate, steps_of[1])

    rate = penalty_rate(terms, product)  # constant for the loan: computed once
    first = terms.disbursed_on if start is None else start.account.as_of + ONE_DAY
    wanted = sorted({d for d in dates if d >= first})
    out: dict[date, Reading] = {}
    if not wanted:
        return out
    last = wanted[-1]
    after = date.min if start is None else start.account.as_of
    pending = sorted((ev for ev in events if after < ev.on <= last), key=lambda ev: ev.on)
    early = next((ev for ev in pending if ev.on < terms.disbursed_on), None)
    if early is not None:
        unknown = Unknown(early.on, early.ref, "on", f"{early.on} is before disbursement")
        return dict.fromkeys(wanted, unknown)
    if start is None:
        opened = open_fast(terms, product) if fast else open_account(terms, product)[0]
        start = Snapshot(opened, None, None, None)
    state = start
    k = 0
    for day in wanted:
        while k < len(pending) and pending[k].on <= day:
            ev = pending[k]
            applied = _apply(state, accrue_through(state.account, ev.on), product, ev, fast)
            if isinstance(applied, Unknown):
                out.update((d, applied) for d in wanted if d >= ev.on)
                return out
            state = applied
            k += 1
        state = replace(state, account=accrue_through(state.account, day))
        out[day] = state
    return out


def _apply(
    state: Snapshot, acct: Account, product: Product, ev: Event, fast: bool
) -> Snapshot | Unknown:
    """``ev`` applied to ``acct`` (the account aged to the event's day), ``state``'s marks
    carried forward: the last payment, and when and by what the loan closed."""
    was_active = acct.status is Status.ACTIVE
    paid = None
    if fast and isinstance(ev, Payment):
        paid = pay_within_due(acct, product, ev.amount, ev.on)
    if paid is not None:
        acct = paid
    else:
        res, problems = apply_event(acct, product, ev)
        if res is None:
            return Unknown(ev.on, ev.ref, problems[0].field, problems[0].reason)
        acct = res[0]
    last_paid = ev.on if isinstance(ev, Payment) else state.last_payment_on
    closed_on, closed_by = state.closed_on, state.closed_by
    if was_active and acct.status is not Status.ACTIVE:
        closed_on, closed_by = ev.on, ev.ref
    return Snapshot(acct, last_paid, closed_on, closed_by)
