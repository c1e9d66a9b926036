"""A loan's monthly credit status, derived from its ledger (PBOC style), and its read-out.

The reporting date of a month is the loan's repayment day in that month (clamped to a short
month's end), or the month's last day for a loan without a repayment day (``due_day`` not set).
A month's status reads the account at the end of its reporting date (``walk``):

* closed on or before the reporting date: ``C`` settled by payment, ``D`` when the payment that
  settled it was marked as by a guarantor, ``Z`` as settled with assets, ``G`` written off. The
  closing month is the account's last month.
* an installment due on or before the reporting date still unpaid: ``1``-``7`` by days past due
  of the oldest such installment (``codes.overdue_code``; at least ``1`` on the due date itself).
* otherwise, an installment that fell due in the month (after the previous reporting date, up to
  this one) and was not paid in full by the end of its due date: ``1`` (matters for month-end
  reporting, when it was paid late but before the month ended).
* otherwise ``N`` if an installment fell due in the month, ``*`` if none did.
* ``#`` when the ledger refused one of the loan's events on or before the date.

Amounts are fen. ``overdue_amount`` is the unpaid principal and interest of the installments due
on or before the reporting date (penalty excluded: it is a charge on the arrears, not an
installment). ``balance`` adds the principal not yet due and the unpaid penalty.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from arrears.core.ageing.status import classify
from arrears.core.credit.codes import CLOSING, SETTLEMENT_CODES, Code, overdue_code
from arrears.core.credit.walk import Reading, Snapshot, Unknown, contract_due_dates, walk
from arrears.core.ledger.account import Inst, Status
from arrears.core.ledger.replay import Event
from arrears.core.loans.calendar import month_day
from arrears.core.loans.product import Product
from arrears.core.loans.schedule import LoanTerms


@dataclass(frozen=True, slots=True)
class MonthStatus:
    month: str  # YYYY-MM
    reporting_date: date
    status: Code
    dpd: int  # days from the oldest unpaid due installment to the reporting date
    overdue_amount: int
    overdue_periods: int  # installments due and unpaid at the reporting date
    balance: int
    scheduled: int  # principal and interest of the installments falling due in the month
    last_payment_on: date | None
    first_delinquency: date | None  # due date of the oldest unpaid installment, if any
    closed_on: date | None
    corrected_from: Code | None = None  # set when a dispute corrected this month's status


@dataclass(frozen=True, slots=True)
class CreditHistory:
    loan_id: str
    as_of: date
    months: tuple[MonthStatus, ...]  # oldest first
    dpd: int  # on the as-of date, for the classification
    classification: str

    @property
    def status_string(self) -> str:
        return "".join(m.status for m in self.months)

    @property
    def overdue_periods(self) -> int:
        return self.months[-1].overdue_periods if self.months else 0

    @property
    def max_overdue_periods(self) -> int:
        return max((m.overdue_periods for m in self.months), default=0)

    @property
    def largest_overdue_amount(self) -> int:
        return max((m.overdue_amount for m in self.months), default=0)

    def last(self, n: int | None) -> CreditHistory:
        """The same history limited to its last ``n`` months (the 24- or 60-month window)."""
        return self if n is None else replace(self, months=self.months[-n:] if n else ())


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def reporting_date(terms: LoanTerms, year: int, month: int) -> date:
    if terms.due_day is None:
        return date(year, month, calendar.monthrange(year, month)[1])
    return month_day(year, month, terms.due_day)


def reporting_dates(terms: LoanTerms, start: date, through: date) -> list[date]:
    """Reporting dates on or after ``start`` (and the disbursement) and on or before ``through``."""
    return list(_reporting_dates(terms.due_day, max(start, terms.disbursed_on), through))


@functools.lru_cache(maxsize=65536)
def _reporting_dates(due_day: int | None, first: date, through: date) -> tuple[date, ...]:
    # Loans share repayment days and dates: the calendar arithmetic is worth caching.
    y, m = first.year, first.month
    out: list[date] = []
    while True:
        if due_day is None:
            r = date(y, m, calendar.monthrange(y, m)[1])
        else:
            r = month_day(y, m, due_day)
        if r > through:
            return tuple(out)
        if r >= first:
            out.append(r)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _unknown_month(r: date) -> MonthStatus:
    return MonthStatus(month_key(r), r, "#", 0, 0, 0, 0, 0, None, None, None)


def month_statuses(
    terms: LoanTerms,
    readings: Mapping[date, Reading],
    rep_dates: Sequence[date],
    settlements: Mapping[str, str],
    prev: date | None = None,
) -> list[MonthStatus]:
    """One status per reporting date, up to and including the month the account closed.

    ``readings`` must hold every reporting date and every installment due date up to the last
    reporting date; ``settlements`` maps a payment ref to ``guarantor`` or ``assets``.
    """
    out: list[MonthStatus] = []
    first = prev is None  # the first month also covers the disbursement day
    prev = terms.disbursed_on if prev is None else prev
    for k, r in enumerate(rep_dates):
        reading = readings[r]
        if isinstance(reading, Unknown):
            out.append(_unknown_month(r))
            prev = r
            continue
        acct = reading.account
        start = date.min if first and k == 0 else prev
        # One pass over the installments (they are in due-date order): what is due and unpaid,
        # what fell due in the month, and the balance.
        due_n = overdue_amount = principal_left = interest_due = scheduled = 0
        oldest: date | None = None
        in_month: list[Inst] = []
        for i in acct.installments:
            d = i.due_date
            unpaid_p = i.principal - i.paid_principal
            principal_left += unpaid_p
            if d <= r:
                unpaid_i = i.interest - i.paid_interest
                interest_due += unpaid_i
                if unpaid_p + unpaid_i > 0:
                    if oldest is None:
                        oldest = d
                    due_n += 1
                    overdue_amount += unpaid_p + unpaid_i
                if d > start:
                    in_month.append(i)
                    scheduled += i.principal + i.interest
        balance = principal_left + interest_due + acct.penalty_owed + acct.penalty_unposted
        dpd = 0 if oldest is None else (r - oldest).days
        status: Code
        if acct.status is Status.WRITTEN_OFF:
            status = "G"
        elif acct.status is Status.SETTLED:
            kind = settlements.get(reading.closed_by or "")
            status = SETTLEMENT_CODES.get(kind or "", "C")
        elif oldest is not None:
            status = overdue_code(dpd)
        elif any(_missed(readings, i.n, i.due_date) for i in in_month):
            status = "1"
        elif in_month:
            status = "N"
        else:
            status = "*"
        out.append(
            MonthStatus(
                month_key(r),
                r,
                status,
                dpd,
                overdue_amount,
                due_n,
                balance,
                scheduled,
                reading.last_payment_on,
                oldest,
                reading.closed_on,
            )
        )
        prev = r
        if acct.status is not Status.ACTIVE:
            break
    return out


def _missed(readings: Mapping[date, Reading], n: int, due: date) -> bool:
    """Was installment ``n`` still unpaid at the end of its due date?"""
    reading = readings.get(due)
    if not isinstance(reading, Snapshot):
        return False
    return any(
        i.n == n and (i.principal > i.paid_principal or i.interest > i.paid_interest)
        for i in reading.account.installments
    )


def wanted_dates(terms: LoanTerms, product: Product, rep_dates: Sequence[date]) -> list[date]:
    if not rep_dates:
        return []
    last = rep_dates[-1]
    return sorted({*rep_dates, *(d for d in contract_due_dates(terms, product) if d <= last)})


def credit_history(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    as_of: date,
    settlements: Mapping[str, str] | None = None,
    *,
    engine: str = "daily",
) -> CreditHistory:
    """Every month of the loan up to ``as_of``, from its terms and the events dated by then."""
    return history_and_reading(terms, product, events, as_of, settlements, engine=engine)[0]


def history_and_reading(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    as_of: date,
    settlements: Mapping[str, str] | None = None,
    *,
    engine: str = "daily",
    start: Snapshot | None = None,
    months_before: Sequence[MonthStatus] = (),
) -> tuple[CreditHistory, Reading | None]:
    """``credit_history`` and the account read on ``as_of``.

    With ``start`` (the account read on the last reporting date of ``months_before``, from the
    same events), only the months after it are derived: the result is the same history.
    """
    live = [e for e in events if e.on <= as_of]
    if start is None:
        reps = reporting_dates(terms, terms.disbursed_on, as_of)
        prev = None
    else:
        prev = start.account.as_of
        reps = reporting_dates(terms, prev + timedelta(days=1), as_of)
    closed = bool(months_before) and months_before[-1].status in CLOSING
    if closed:
        reps = []
    dates = [*wanted_dates(terms, product, reps), as_of]
    if start is not None:
        dates = [d for d in dates if d > start.account.as_of]
    readings = walk(terms, product, live, dates, engine=engine, start=start)
    if start is not None:
        readings[start.account.as_of] = start
    months = [*months_before, *month_statuses(terms, readings, reps, settlements or {}, prev)]
    now = readings.get(as_of)
    dpd = 0
    classification = "normal"
    if isinstance(now, Snapshot):
        acct = now.account
        overdue = [i for i in acct.installments if i.due_date < as_of and i.unpaid > 0]
        dpd = (as_of - overdue[0].due_date).days if overdue else 0
        if acct.status is Status.WRITTEN_OFF:
            classification = "loss"
        else:
            classification = classify(dpd, product.classification_thresholds)
    return CreditHistory(terms.loan_id, as_of, tuple(months), dpd, classification), now


def forecast(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    as_of: date,
    months: int,
    settlements: Mapping[str, str] | None = None,
    *,
    include_past: bool = False,
    start: Snapshot | None = None,
    months_before: Sequence[MonthStatus] = (),
) -> list[MonthStatus]:
    """What the next ``months`` reporting dates after ``as_of`` will read if nothing is paid
    (preceded by the months already read, with ``include_past``).

    With ``start`` (the account read on a reporting date on or before ``as_of``, from the same
    events) and ``months_before`` (the months through it), only the later months are derived:
    the result is the same.
    """
    live = [e for e in events if e.on <= as_of]
    y, m = as_of.year, as_of.month + months
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    horizon = reporting_date(terms, y, m)
    if start is None:
        prev = None
        reps = reporting_dates(terms, terms.disbursed_on, horizon)
    else:
        prev = start.account.as_of
        closed = bool(months_before) and months_before[-1].status in CLOSING
        reps = [] if closed else reporting_dates(terms, prev + timedelta(days=1), horizon)
    dates = wanted_dates(terms, product, reps)
    if prev is not None:
        dates = [d for d in dates if d > prev]
    readings = walk(terms, product, live, dates, engine="fast", start=start)
    if start is not None and prev is not None:
        readings[prev] = start
    coming = month_statuses(terms, readings, reps, settlements or {}, prev)
    return [s for s in (*months_before, *coming) if include_past or s.reporting_date > as_of]
