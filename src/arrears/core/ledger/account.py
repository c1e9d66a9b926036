"""A loan's account: its schedule, what has been paid, and the penalty it has accrued.

The account is advanced one business day at a time (:func:`accrue_loan_day`), or over many days at
once with exactly the same result (:func:`close_through`, which the replay uses between
events), and changed by events (payments, waivers, write-offs). Each step returns the new
account and the journal entries it posts. Interest falls due on the due date; penalty accrues
daily into the account and is posted at month end and before any payment, waiver or
write-off, so the journal grows by events, not by one row per loan per day.

Conventions (REFERENCES.md, issue 2):

* Penalty for day D accrues on the overdue base at the start of D (after payments dated before
  D), for every D after ``due_date + grace_days``. A payment dated D is applied after D's close.
  So a loan due on the 10th and paid on the 12th pays two days of penalty.
* Penalty per day = base x daily rate x multiplier, rounded half-up to the fen per loan per day.
  Base ``installment`` = overdue principal + overdue interest; ``principal`` = principal only.
* The penalty accrues per loan (one daily rounding), so it is paid either before or after the
  installments: waterfall ``penalty, interest, principal`` (the default) pays all penalty first,
  then installments oldest first, each interest before principal.
* Money beyond everything due repays principal early. The borrower pays interest on the
  principal repaid only up to the payment day: with ``f`` the period's interest factor from
  its start to the payment day, the principal repaid is ``Q = round(X / (1 + f))`` and the
  rest of ``X`` is that interest. The remaining installments are re-amortized over the same
  due dates (term kept, payment reduced). Paying more than the payoff is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from typing import Any

from arrears.core.ledger.journal import (
    CASH,
    EXPENSE_WAIVER,
    EXPENSE_WRITE_OFF,
    INCOME_INTEREST,
    INCOME_PENALTY,
    Entry,
    EntryKind,
    Posting,
    entry,
    receivable,
)
from arrears.core.loans.product import Component, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms, build_schedule, period_interest, schedule_for
from arrears.core.money import Rate, round_half_up
from arrears.core.problem import Problem, Result, fail, ok

ONE_DAY = timedelta(days=1)

# Days on which no penalty accrues, as inclusive (first, last) ranges: the days a moratorium
# is in force on the loan (UK Breathing Space: no interest, fees or charges added, Debt Respite
# Scheme Regulations 2020 reg. 7). Scheduled interest still falls due on its date; the close
# waives the part that accrued on days in force (core.ledger.relief).
Pauses = tuple[tuple[date, date], ...]
NO_PAUSES: Pauses = ()


def paused_on(pauses: Pauses, day: date) -> bool:
    return any(first <= day <= last for first, last in pauses)


def accruing_days(pauses: Pauses, first: date, last: date) -> int:
    """Days in ``[first, last]`` on which penalty accrues (not in any pause)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    if not pauses:
        return days
    covered: set[date] = set()
    for lo, hi in pauses:
        lo, hi = max(lo, first), min(hi, last)
        covered.update(lo + timedelta(days=k) for k in range((hi - lo).days + 1))
    return days - len(covered)


class Status(StrEnum):
    ACTIVE = "active"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"


@dataclass(frozen=True, slots=True)
class Inst:
    n: int
    start: date
    due_date: date
    principal: int
    interest: int
    paid_principal: int = 0  # settled by payment or waiver
    paid_interest: int = 0

    @property
    def unpaid_principal(self) -> int:
        return self.principal - self.paid_principal

    @property
    def unpaid_interest(self) -> int:
        return self.interest - self.paid_interest

    @property
    def unpaid(self) -> int:
        return self.unpaid_principal + self.unpaid_interest


@dataclass(frozen=True, slots=True)
class Account:
    terms: LoanTerms
    as_of: date  # the last day this account has been closed through
    installments: tuple[Inst, ...]
    penalty_unposted: int = 0  # accrued since the last penalty posting
    penalty_owed: int = 0  # posted and not yet paid or waived
    prepaid_principal: int = 0  # repaid early, taken off the installments not yet due
    status: Status = Status.ACTIVE

    @property
    def loan_id(self) -> str:
        return self.terms.loan_id

    def check(self) -> None:
        """Invariants that hold after every step; a failure is a bug, not bad input."""
        for i in self.installments:
            assert 0 <= i.paid_principal <= i.principal, (self.loan_id, i)
            assert 0 <= i.paid_interest <= i.interest, (self.loan_id, i)
        assert self.penalty_unposted >= 0 and self.penalty_owed >= 0, self.loan_id
        scheduled = sum(i.principal for i in self.installments) + self.prepaid_principal
        if any(i.n > self.terms.months for i in self.installments):
            # a plan's installments carry the interest and penalty it capitalised too
            assert scheduled >= self.terms.principal, self.loan_id
        else:
            assert scheduled == self.terms.principal, self.loan_id


@dataclass(frozen=True, slots=True)
class Allocation:
    """How one payment was split. ``prepaid_*`` is early repayment beyond what was due."""

    penalty: int = 0
    interest: int = 0
    principal: int = 0
    prepaid_interest: int = 0
    prepaid_principal: int = 0

    @property
    def total(self) -> int:
        return (
            self.penalty
            + self.interest
            + self.principal
            + self.prepaid_interest
            + self.prepaid_principal
        )


Step = tuple[Account, list[Entry]]


def _refuse(ref: str, field: str, reason: str) -> Result[Any]:
    """The event ``ref`` cannot be applied to the account; nothing was changed."""
    return fail(Problem(f"ref {ref}", field, reason))


def penalty_rate(terms: LoanTerms, product: Product) -> Fraction:
    return _penalty_rate(terms.rate, product.days_per_year, product.penalty_multiplier)


@lru_cache(maxsize=4096)
def _penalty_rate(rate: Rate, days_per_year: int, multiplier: Fraction) -> Fraction:
    # Few distinct rates in a book, and Fraction arithmetic is dear: computed once each.
    return rate.daily(days_per_year) * multiplier


def open_account(terms: LoanTerms, product: Product) -> Step:
    sched = schedule_for(terms, product)
    return opened(
        terms, tuple(Inst(i.n, i.start, i.due_date, i.principal, i.interest) for i in sched)
    )


def opened(terms: LoanTerms, insts: tuple[Inst, ...]) -> Step:
    """An account on the day of disbursement, with its installments, and the disbursement."""
    acct = Account(terms, terms.disbursed_on, insts)
    legs = {receivable(terms.loan_id, Component.PRINCIPAL): terms.principal, CASH: -terms.principal}
    e = entry(
        f"{terms.loan_id}:disbursement",
        terms.loan_id,
        EntryKind.DISBURSEMENT,
        terms.disbursed_on,
        legs,
    )
    return acct, [e] if e else []


def _is_month_end(day: date) -> bool:
    return (day + ONE_DAY).month != day.month


def _penalty_entry(acct: Account, key: str, on: date) -> tuple[Account, Entry | None]:
    if acct.penalty_unposted == 0:
        return acct, None
    amount = acct.penalty_unposted
    legs = {receivable(acct.loan_id, Component.PENALTY): amount, INCOME_PENALTY: -amount}
    e = entry(key, acct.loan_id, EntryKind.PENALTY, on, legs)
    return _with(acct, penalty_unposted=0, penalty_owed=acct.penalty_owed + amount), e


def penalty_base(acct: Account, product: Product, day: date) -> int:
    """The overdue amount that accrues penalty on ``day``."""
    last_free_day = day - timedelta(days=product.grace_days)
    base = 0
    for i in acct.installments:
        if i.due_date < last_free_day:
            base += i.unpaid_principal
            if product.penalty_base is PenaltyBase.INSTALLMENT:
                base += i.unpaid_interest
    return base


def accrue_loan_day(acct: Account, product: Product, day: date, accrues: bool = True) -> Step:
    """Age the account through ``day``: interest falling due, the day's penalty, month end.

    ``accrues`` False: the day is under a moratorium and adds no penalty (see ``Pauses``).
    """
    assert day == acct.as_of + ONE_DAY, (acct.loan_id, acct.as_of, day)
    if acct.status is not Status.ACTIVE:
        return _with(acct, as_of=day), []
    entries: list[Entry] = []
    for i in acct.installments:
        if i.due_date == day:
            legs = {
                receivable(acct.loan_id, Component.INTEREST): i.interest,
                INCOME_INTEREST: -i.interest,
            }
            e = entry(
                f"{acct.loan_id}:interest:{i.n}", acct.loan_id, EntryKind.INTEREST_DUE, day, legs
            )
            if e:
                entries.append(e)
    base = penalty_base(acct, product, day)
    accrued = round_half_up(base * penalty_rate(acct.terms, product)) if base and accrues else 0
    acct = _with(acct, as_of=day, penalty_unposted=acct.penalty_unposted + accrued)
    if _is_month_end(day):
        acct, e = _penalty_entry(acct, f"{acct.loan_id}:penalty:{day.isoformat()}", day)
        if e:
            entries.append(e)
    return acct, entries


def close_through(
    acct: Account, product: Product, through: date, pauses: Pauses = NO_PAUSES
) -> Step:
    """Age the account through ``through``: the same account and entries as one
    :func:`accrue_loan_day` per day from ``acct.as_of + 1`` to ``through`` (``accrues`` False on the
    days in ``pauses``), without the days between.

    Between events nothing about the installments changes, so the day's penalty can change
    only on the day an installment starts to count in the base (the day after its due date +
    grace), and a day posts an entry only if an installment falls due on it (interest) or it
    is a month end (the penalty accrued). Only those days are visited; the penalty of the
    ``k`` days since the last one is ``k x`` the day's penalty, rounded half-up per day as the
    daily close rounds it, in integers: ``round_half_up(base x p/q) = (2 base p + q) // 2q``.
    """
    start = acct.as_of
    if through <= start:
        return acct, []
    if acct.status is not Status.ACTIVE:
        return _with(acct, as_of=through), []
    base, counts, dues = _penalty_base_and_dues(acct, product, through)
    month_ends = _month_ends(start, through)
    rate = penalty_rate(acct.terms, product)
    num, den = rate.numerator, rate.denominator
    daily = _daily_penalty(base, num, den)
    unposted, owed_penalty = acct.penalty_unposted, acct.penalty_owed
    loan_id = acct.loan_id
    interest_account = receivable(loan_id, Component.INTEREST)
    penalty_account = receivable(loan_id, Component.PENALTY)
    entries: list[Entry] = []
    last = start
    for day in sorted(counts.keys() | dues.keys() | month_ends):
        if day <= start:
            continue
        unposted += accruing_days(pauses, last + ONE_DAY, day - ONE_DAY) * daily  # in between
        for inst in dues.get(day, ()):
            entries.append(_interest_due(loan_id, interest_account, inst, day))
        if day in counts:
            base += counts[day]
            daily = _daily_penalty(base, num, den)
        if not paused_on(pauses, day):
            unposted += daily
        if unposted and day in month_ends:
            entries.append(_penalty_posted(loan_id, penalty_account, unposted, day))
            owed_penalty += unposted
            unposted = 0
        last = day
    unposted += accruing_days(pauses, last + ONE_DAY, through) * daily
    return _with(acct, as_of=through, penalty_unposted=unposted, penalty_owed=owed_penalty), entries


def _daily_penalty(base: int, num: int, den: int) -> int:
    """``round_half_up(base x num/den)`` in integers, as the daily close rounds the day."""
    return (2 * base * num + den) // (2 * den)


def _penalty_base_and_dues(
    acct: Account, product: Product, through: date
) -> tuple[int, dict[date, int], dict[date, list[Inst]]]:
    """The penalty base on ``acct.as_of``; by day up to ``through``, what starts to count in
    the base that day; and the installments whose interest falls due that day."""
    start = acct.as_of
    grace = timedelta(days=product.grace_days)
    interest_base = product.penalty_base is PenaltyBase.INSTALLMENT
    base = 0
    counts: dict[date, int] = {}
    dues: dict[date, list[Inst]] = {}
    for i in acct.installments:
        if start < i.due_date <= through and i.interest:
            dues.setdefault(i.due_date, []).append(i)
        owed = i.unpaid_principal + (i.unpaid_interest if interest_base else 0)
        if owed:
            counts_from = i.due_date + grace + ONE_DAY
            if counts_from <= start:
                base += owed
            elif counts_from <= through:
                counts[counts_from] = counts.get(counts_from, 0) + owed
    return base, counts, dues


def _month_ends(start: date, through: date) -> set[date]:
    """The month ends after ``start``'s month began, up to ``through``."""
    month_ends = set[date]()
    month = date(start.year, start.month, 1)
    while True:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        end = month - ONE_DAY
        if end > through:
            return month_ends
        month_ends.add(end)


def _interest_due(loan_id: str, account: str, inst: Inst, day: date) -> Entry:
    return Entry(
        f"{loan_id}:interest:{inst.n}",
        loan_id,
        EntryKind.INTEREST_DUE,
        day,
        (Posting(account, inst.interest), Posting(INCOME_INTEREST, -inst.interest)),
    )


def _penalty_posted(loan_id: str, account: str, amount: int, day: date) -> Entry:
    return Entry(
        f"{loan_id}:penalty:{day.isoformat()}",
        loan_id,
        EntryKind.PENALTY,
        day,
        (Posting(account, amount), Posting(INCOME_PENALTY, -amount)),
    )


def _with(
    acct: Account,
    *,
    as_of: date | None = None,
    installments: tuple[Inst, ...] | None = None,
    penalty_unposted: int | None = None,
    penalty_owed: int | None = None,
    prepaid_principal: int | None = None,
    status: Status | None = None,
) -> Account:
    """``dataclasses.replace`` for the account, without its cost (it is called per event)."""
    return Account(
        acct.terms,
        acct.as_of if as_of is None else as_of,
        acct.installments if installments is None else installments,
        acct.penalty_unposted if penalty_unposted is None else penalty_unposted,
        acct.penalty_owed if penalty_owed is None else penalty_owed,
        acct.prepaid_principal if prepaid_principal is None else prepaid_principal,
        acct.status if status is None else status,
    )


def _settle_if_done(acct: Account) -> Account:
    if acct.penalty_owed or acct.penalty_unposted:
        return acct
    if any(i.unpaid for i in acct.installments):
        return acct
    return _with(acct, status=Status.SETTLED)


def _pay_installments(
    insts: tuple[Inst, ...], on: date, amount: int, order: tuple[Component, ...]
) -> tuple[tuple[Inst, ...], int, int, int]:
    """Pay due installments oldest first, each component in ``order``.

    Returns the installments, the interest and principal paid, and what is left over.
    """
    paid_int = paid_prin = 0
    out: list[Inst] = []
    for i in insts:
        if (
            i.due_date <= on
            and amount > 0
            and (i.paid_interest < i.interest or i.paid_principal < i.principal)
        ):
            p_int, p_prin = i.paid_interest, i.paid_principal
            for comp in order:
                if comp is Component.INTEREST:
                    take = min(amount, i.interest - p_int)
                    p_int += take
                    paid_int += take
                else:
                    take = min(amount, i.principal - p_prin)
                    p_prin += take
                    paid_prin += take
                amount -= take
            i = Inst(i.n, i.start, i.due_date, i.principal, i.interest, p_prin, p_int)
        out.append(i)
    return tuple(out), paid_int, paid_prin, amount


def _accrual_factor(acct: Account, product: Product, on: date) -> Fraction:
    """Interest per fen of principal from the current period's start to ``on``."""
    future = [i for i in acct.installments if i.due_date > on]
    if not future or on <= future[0].start:
        return Fraction(0)
    return period_interest(1, acct.terms.rate, future[0].start, on, product.days_per_year)


def _planned(acct: Account) -> bool:
    """Installments numbered after the contract's are a plan's (``core.ledger.plan``)."""
    return any(i.n > acct.terms.months and i.unpaid for i in acct.installments)


def payoff_amount(acct: Account, product: Product, on: date) -> int:
    """What settles the loan on ``on``, after that day's close.

    Everything due, all penalty, the principal not yet due, and interest on that principal
    from the current period's start to ``on`` (none in a plan: a plan stops interest).
    """
    due = sum(i.unpaid for i in acct.installments if i.due_date <= on)
    principal = sum(i.unpaid_principal for i in acct.installments if i.due_date > on)
    planned = _planned(acct)
    accrued = 0 if planned else round_half_up(principal * _accrual_factor(acct, product, on))
    return due + acct.penalty_owed + acct.penalty_unposted + principal + accrued


def apply_payment(
    acct: Account, product: Product, ref: str, amount: int, on: date
) -> Result[tuple[Account, list[Entry], Allocation]]:
    """Apply a payment dated ``on`` to an account already closed through ``on``."""
    assert acct.as_of == on, (acct.loan_id, acct.as_of, on)
    if amount <= 0:
        return _refuse(ref, "amount", f"must be positive, got {amount}")
    if acct.status is not Status.ACTIVE:
        return _refuse(ref, "loan_id", f"loan {acct.loan_id} is {acct.status.value}")
    # The payoff is at least what is due, the penalty and the principal not yet due (the
    # accrued interest on top is never negative): only an amount above that needs it exactly.
    due = principal = 0
    for i in acct.installments:
        if i.due_date <= on:
            due += i.interest - i.paid_interest + i.principal - i.paid_principal
        else:
            principal += i.principal - i.paid_principal
    payoff = due + acct.penalty_owed + acct.penalty_unposted + principal
    if amount > payoff:
        payoff = payoff_amount(acct, product, on)
    if amount > payoff:
        return fail(
            Problem(
                f"ref {ref}",
                "amount",
                f"{amount} fen exceeds the payoff of {payoff} fen on {on.isoformat()}",
            )
        )
    entries: list[Entry] = []
    acct, e = _penalty_entry(acct, f"{acct.loan_id}:penalty:payment:{ref}", on)
    if e:
        entries.append(e)
    left = amount
    penalty_first = product.waterfall[0] is Component.PENALTY
    order = tuple(c for c in product.waterfall if c is not Component.PENALTY)
    pen = 0
    if penalty_first:
        pen = min(left, acct.penalty_owed)
        left -= pen
    insts, paid_int, paid_prin, left = _pay_installments(acct.installments, on, left, order)
    if not penalty_first:
        pen = min(left, acct.penalty_owed)
        left -= pen
    acct = _with(acct, installments=insts, penalty_owed=acct.penalty_owed - pen)
    pre_int = pre_prin = 0
    if left > 0:
        acct, pre_int, pre_prin, accrued_entry = _prepay(acct, product, ref, left, on)
        if accrued_entry:
            entries.append(accrued_entry)
    alloc = Allocation(pen, paid_int, paid_prin, pre_int, pre_prin)
    assert alloc.total == amount, (alloc, amount)
    legs = {
        CASH: amount,
        receivable(acct.loan_id, Component.PENALTY): -pen,
        receivable(acct.loan_id, Component.INTEREST): -(paid_int + pre_int),
        receivable(acct.loan_id, Component.PRINCIPAL): -(paid_prin + pre_prin),
    }
    e = entry(f"{acct.loan_id}:payment:{ref}", acct.loan_id, EntryKind.PAYMENT, on, legs)
    assert e is not None
    entries.append(e)
    acct = _settle_if_done(acct)
    acct.check()
    return ok((acct, entries, alloc))


def _prepay(
    acct: Account, product: Product, ref: str, amount: int, on: date
) -> tuple[Account, int, int, Entry | None]:
    """Repay principal early with ``amount``; re-amortize the installments not yet due (in a
    plan: pay its next installments in order, which carry no interest)."""
    if _planned(acct):
        return _prepay_plan(acct, amount, on)
    done = tuple(i for i in acct.installments if i.due_date <= on)
    future = tuple(i for i in acct.installments if i.due_date > on)
    assert future and all(i.paid_principal == 0 == i.paid_interest for i in future)
    balance = sum(i.principal for i in future)
    start = future[0].start
    factor = (
        period_interest(1, acct.terms.rate, start, on, product.days_per_year)
        if on > start
        else Fraction(0)
    )
    payoff = balance + round_half_up(balance * factor)
    repaid = balance if amount == payoff else min(balance, round_half_up(amount / (1 + factor)))
    interest = amount - repaid
    remaining = balance - repaid
    if remaining == 0:
        new_future: tuple[Inst, ...] = ()
    else:
        sched = build_schedule(
            remaining,
            acct.terms.rate,
            acct.terms.method,
            start,
            tuple(i.due_date for i in future),
            product.days_per_year,
            first_n=future[0].n,
        )
        new_future = tuple(Inst(s.n, s.start, s.due_date, s.principal, s.interest) for s in sched)
    legs = {receivable(acct.loan_id, Component.INTEREST): interest, INCOME_INTEREST: -interest}
    e = entry(
        f"{acct.loan_id}:interest:prepay:{ref}", acct.loan_id, EntryKind.INTEREST_DUE, on, legs
    )
    acct = _with(
        acct,
        installments=(*done, *new_future),
        prepaid_principal=acct.prepaid_principal + repaid,
    )
    return acct, interest, repaid, e


def _prepay_plan(acct: Account, amount: int, on: date) -> tuple[Account, int, int, Entry | None]:
    """Money beyond what is due on a plan (or a restructured loan): all the principal not yet
    due settles the loan, and the interest of the installments not yet due is not charged;
    less pays the next installments in order, each its interest and then its principal."""
    future = sum(i.unpaid_principal for i in acct.installments if i.due_date > on)
    if amount == future:
        insts = tuple(
            i
            if i.due_date <= on
            else Inst(
                i.n, i.start, i.due_date, i.principal, i.paid_interest, i.principal, i.paid_interest
            )
            for i in acct.installments
        )
        return _with(acct, installments=insts), 0, amount, None
    insts, paid_int, paid_prin, left = _pay_installments(
        acct.installments, date.max, amount, (Component.INTEREST, Component.PRINCIPAL)
    )
    assert left == 0, (acct.loan_id, amount, left)
    return _with(acct, installments=insts), paid_int, paid_prin, None


def waive(acct: Account, ref: str, component: Component, amount: int, on: date) -> Result[Step]:
    """Forgive penalty or due interest (oldest first). Principal is restructured, not waived."""
    assert acct.as_of == on, (acct.loan_id, acct.as_of, on)
    if amount <= 0:
        return _refuse(ref, "amount", f"must be positive, got {amount}")
    if acct.status is not Status.ACTIVE:
        return _refuse(ref, "loan_id", f"loan {acct.loan_id} is {acct.status.value}")
    entries: list[Entry] = []
    acct, e = _penalty_entry(acct, f"{acct.loan_id}:penalty:waiver:{ref}", on)
    if component is Component.PENALTY:
        if amount > acct.penalty_owed:
            return fail(
                Problem(
                    f"ref {ref}",
                    "amount",
                    f"{amount} fen exceeds the penalty owed, {acct.penalty_owed} fen",
                )
            )
        acct = _with(acct, penalty_owed=acct.penalty_owed - amount)
    elif component is Component.INTEREST:
        due = sum(i.unpaid_interest for i in acct.installments if i.due_date <= on)
        if amount > due:
            return fail(
                Problem(f"ref {ref}", "amount", f"{amount} fen exceeds the interest due, {due} fen")
            )
        insts, paid, _, left = _pay_installments(
            acct.installments, on, amount, (Component.INTEREST,)
        )
        assert paid == amount and left == 0
        acct = _with(acct, installments=insts)
    else:
        return fail(
            Problem(
                f"ref {ref}", "component", "principal is not waived; restructure the loan instead"
            )
        )
    if e:
        entries.append(e)
    legs = {EXPENSE_WAIVER: amount, receivable(acct.loan_id, component): -amount}
    w = entry(f"{acct.loan_id}:waiver:{ref}", acct.loan_id, EntryKind.WAIVER, on, legs)
    assert w is not None
    entries.append(w)
    acct = _settle_if_done(acct)
    acct.check()
    return ok((acct, entries))


def write_off(acct: Account, ref: str, on: date) -> Result[Step]:
    """Charge off everything owed; the loan stops ageing and reads ``written_off``."""
    assert acct.as_of == on, (acct.loan_id, acct.as_of, on)
    if acct.status is not Status.ACTIVE:
        return _refuse(ref, "loan_id", f"loan {acct.loan_id} is {acct.status.value}")
    entries: list[Entry] = []
    acct, e = _penalty_entry(acct, f"{acct.loan_id}:penalty:write-off:{ref}", on)
    if e:
        entries.append(e)
    owed = receivable_balances(acct)
    legs = {EXPENSE_WRITE_OFF: sum(owed.values())} | {a: -v for a, v in owed.items()}
    w = entry(f"{acct.loan_id}:write-off:{ref}", acct.loan_id, EntryKind.WRITE_OFF, on, legs)
    if w:
        entries.append(w)
    return ok((_with(acct, status=Status.WRITTEN_OFF), entries))


def receivable_balances(acct: Account) -> dict[str, int]:
    """What the journal's receivable accounts must hold for this account, from its state."""
    if acct.status is Status.WRITTEN_OFF:
        return {}
    principal = sum(i.unpaid_principal for i in acct.installments)
    interest = sum(i.unpaid_interest for i in acct.installments if i.due_date <= acct.as_of)
    out = {
        receivable(acct.loan_id, Component.PRINCIPAL): principal,
        receivable(acct.loan_id, Component.INTEREST): interest,
        receivable(acct.loan_id, Component.PENALTY): acct.penalty_owed,
    }
    return {a: v for a, v in out.items() if v}
