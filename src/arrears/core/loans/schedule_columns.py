"""Repayment schedules for many loans at once, in numpy, equal to the fen to
:func:`arrears.core.loans.schedule.schedule_for` (tests hold the two equal on generated portfolios).

Used where per-loan ``Fraction`` arithmetic is too slow: the synthetic generator (to emit
payments that match the schedule exactly) and the bulk importer (to write installments).

Exactness: period interest is ``balance x num x t / den`` in int64 (``num/den`` the reduced
rate; ``t`` days, or whole months over 12), rounded half-up with integer division, so no
float touches it. Only the annuity payment ``P x r(1+r)^n / ((1+r)^n - 1)`` is computed in
float64; a result within 1e-6 of a half fen is recomputed exactly with ``Fraction``, so the
half-up rounding never depends on float error (float error here is below 1e-8 fen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from arrears.core.loans.calendar import whole_months
from arrears.core.loans.schedule import annuity_payment
from arrears.core.money import round_half_up

I64 = npt.NDArray[np.int64]
EPOCH = date(1970, 1, 1)

# Method codes used in the integer arrays.
ANNUITY, EQUAL_PRINCIPAL, INTEREST_FIRST, BULLET = 0, 1, 2, 3
METHOD_CODES = {"annuity": 0, "equal-principal": 1, "interest-first": 2, "bullet": 3}


@dataclass(frozen=True, slots=True)
class LoanColumns:
    """The terms of many loans; dates are days since 1970-01-01, due_day 0 for none."""

    principal: I64  # fen
    rate_num: I64  # the rate as a reduced fraction num/den per day or per year
    rate_den: I64
    daily: npt.NDArray[np.bool_]
    months: I64
    method: I64  # METHOD_CODES
    disbursed: I64
    due_day: I64


@dataclass(frozen=True, slots=True)
class ScheduleColumns:
    """One row per installment, loans in input order, installments in order."""

    loan: I64  # index into the input
    n: I64
    start: I64  # days since epoch
    due: I64
    principal: I64
    interest: I64


def _ymd(days: I64) -> tuple[I64, I64]:
    """(month index since 1970-01, day of month) of epoch days."""
    d = days.astype("datetime64[D]")
    mi = d.astype("datetime64[M]")
    day = (d - mi.astype("datetime64[D]")).astype(np.int64) + 1
    return mi.astype(np.int64), day


def _month_day(mi: I64, day: I64) -> I64:
    """``calendar.month_day`` vectorised: the day in month ``mi``, clamped to its length."""
    first = mi.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (mi + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    out: I64 = first + np.minimum(day, nxt - first) - 1
    return out


def first_due(disbursed: I64, due_day: I64, min_first_period_days: int) -> tuple[I64, I64]:
    """(month index of the first due date, the repayment day) as ``calendar.due_dates``."""
    mi, dday = _ymd(disbursed)
    has = due_day > 0
    day = np.where(has, due_day, dday)
    m0 = np.where(has, mi, mi + 1)
    first = _month_day(m0, day)
    bump = has & (first <= disbursed)
    m0 = m0 + bump
    first = _month_day(m0, day)
    bump = has & ((first - disbursed) < min_first_period_days)
    m0 = m0 + bump
    return m0, day


def _rhu(num: I64, den: I64) -> I64:
    """Round half up num/den for num >= 0, den > 0, exactly."""
    return (2 * num + den) // (2 * den)


def _annuity(principal: I64, rnum: I64, rden: I64, daily: npt.NDArray[np.bool_], n: I64) -> I64:
    out = np.zeros(len(principal), dtype=np.int64)
    # One exact factor per distinct (rate, basis, n): few in any real portfolio.
    _, inum = np.unique(rnum, return_inverse=True)
    ud, iden = np.unique(rden, return_inverse=True)
    code = ((inum.reshape(-1) * len(ud) + iden.reshape(-1)) * 2 + daily) * 1024 + n
    uniq, inv = np.unique(code, return_inverse=True)
    inv = inv.reshape(-1)
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inv] = np.arange(len(code))
    factors: list[Fraction] = []
    for k in first.tolist():
        num, den, count = int(rnum[k]), int(rden[k]), int(n[k])
        r = Fraction(num, den) * 30 if daily[k] else Fraction(num, den * 12)
        factors.append(annuity_payment(1, r, count))
    fl = np.array([float(f) for f in factors])[inv]
    exact = principal * fl
    frac = exact - np.floor(exact)
    out = np.floor(exact + 0.5).astype(np.int64)
    near = np.nonzero(np.abs(frac - 0.5) < 1e-6)[0]
    for k in near.tolist():  # a near-tie: settle it exactly
        out[k] = round_half_up(int(principal[k]) * factors[int(inv[k])])
    result: I64 = out
    return result


def schedules(
    loans: LoanColumns, days_per_year: int, min_first_period_days: int
) -> ScheduleColumns:
    """Every loan's contractual schedule (``schedule_for``), as columns."""
    m0, day = first_due(loans.disbursed, loans.due_day, min_first_period_days)
    bullet = loans.method == BULLET
    count = np.where(bullet, 1, loans.months)
    # The bullet's one installment falls on the last of the ``months`` due dates.
    offset = np.where(bullet, loans.months - 1, 0)
    payment = _annuity(loans.principal, loans.rate_num, loans.rate_den, loans.daily, count)
    even = _rhu(loans.principal, count)
    # Whole months of the first period, 0 where broken (annual-rate loans only need this).
    first = _month_day(m0 + offset, day)
    span = first - loans.disbursed  # > 0: a due date is always after the drawdown
    pairs, inv = np.unique(loans.disbursed * 100_000 + span, return_inverse=True)
    base = EPOCH.toordinal()
    whole = np.array(
        [
            whole_months(
                date.fromordinal(base + p // 100_000),
                date.fromordinal(base + p // 100_000 + p % 100_000),
            )
            or 0
            for p in pairs.tolist()
        ],
        dtype=np.int64,
    )
    first_whole = whole[inv.reshape(-1)]
    parts: list[tuple[I64, ...]] = []
    idx_all = np.arange(len(loans.principal), dtype=np.int64)
    for c in np.unique(count).tolist():
        sel = idx_all[count == c]
        bal = loans.principal[sel].copy()
        num, den, daily = loans.rate_num[sel], loans.rate_den[sel], loans.daily[sel]
        meth, pay, ev = loans.method[sel], payment[sel], even[sel]
        start = loans.disbursed[sel]
        for k in range(c):
            due = _month_day(m0[sel] + offset[sel] + k, day[sel])
            days = due - start
            if k == 0:
                fw = first_whole[sel]
                months_t = fw
            else:
                # Consecutive due dates on one repayment day are always one whole month apart.
                months_t = np.ones(len(sel), dtype=np.int64)
            annual_whole = (~daily) & (months_t > 0)
            # interest = balance * num * t / (den * q): t days (q = 1 daily, days_per_year
            # annual broken) or whole months (q = 12).
            t = np.where(annual_whole, months_t, days)
            q = np.where(daily, 1, np.where(annual_whole, 12, days_per_year))
            interest = _rhu(bal * num * t, den * q)
            last = k == c - 1
            if last:
                part = bal
            else:
                part = np.where(
                    meth == ANNUITY, pay - interest, np.where(meth == EQUAL_PRINCIPAL, ev, 0)
                )
                part = np.maximum(0, np.minimum(part, bal))
            bal = bal - part
            parts.append((sel, np.full(len(sel), k + 1), start, due, part, interest))
            start = due
    # Place each installment directly: loan i's n-th sits at offset[i] + n - 1 (no sort).
    offset = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    total = int(count.sum())
    cols = [np.empty(total, dtype=np.int64) for _ in range(6)]
    for p in parts:
        pos = offset[p[0]] + p[1] - 1
        for i in range(6):
            cols[i][pos] = p[i]
    return ScheduleColumns(*cols)
