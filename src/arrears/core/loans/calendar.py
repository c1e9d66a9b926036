"""Due-date arithmetic: monthly dates on a repayment day, clamped to short months."""

from __future__ import annotations

import calendar
from datetime import date


def month_day(year: int, month: int, day: int) -> date:
    """The given day of a month, or the month's last day when the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def add_months(d: date, months: int, day: int | None = None) -> date:
    """``d`` moved by whole months, landing on ``day`` (default: ``d.day``), clamped."""
    index = d.year * 12 + (d.month - 1) + months
    return month_day(index // 12, index % 12 + 1, d.day if day is None else day)


def due_dates(
    disbursed_on: date, count: int, due_day: int | None, min_first_period_days: int
) -> tuple[date, ...]:
    """The first ``count`` monthly due dates of a loan.

    Without a due day the loan falls due on its drawdown day each month. With one, the first
    installment is the next such day after the drawdown, moved a month later when fewer than
    ``min_first_period_days`` days away (Jiebei's rule, REFERENCES.md).
    """
    if count < 1:
        raise ValueError("a schedule needs at least one installment")
    if due_day is None:
        first = add_months(disbursed_on, 1)
        day = disbursed_on.day
    else:
        if not 1 <= due_day <= 31:
            raise ValueError(f"due_day {due_day} is not a day of the month (1-31)")
        day = due_day
        first = month_day(disbursed_on.year, disbursed_on.month, day)
        if first <= disbursed_on:
            first = add_months(first, 1, day)
        if (first - disbursed_on).days < min_first_period_days:
            first = add_months(first, 1, day)
    return tuple(add_months(first, k, day) for k in range(count))


def whole_months(start: date, end: date) -> int | None:
    """The number of whole calendar months from ``start`` to ``end``, or None if broken.

    A start clamped to a short month's end still begins a whole month: on repayment day 29,
    30 or 31, Feb 28 -> Mar 29 (or Mar 31) is one month, as Jan 31 -> Feb 28 is.
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    if months <= 0:
        return None
    if add_months(start, months) == end:
        return months
    start_is_month_end = month_day(start.year, start.month, 31) == start
    if start_is_month_end and end.day > start.day and add_months(start, months, end.day) == end:
        return months
    return None
