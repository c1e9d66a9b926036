"""Local-time helpers. Conservative by construction: a check passes only if it passes in
every zone the borrower may be in."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import TypeVar

Day = TypeVar("Day", date, datetime)


def zone_name(zone: tzinfo) -> str:
    return str(zone)


def local_date(at: datetime, zone: tzinfo) -> date:
    return at.astimezone(zone).date()


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the target month's last day: "12 months after 29 Feb" is
    28 Feb, so a validity period (training) never ends later than the calendar says."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_first = date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def add_years(at: Day, years: int) -> Day:
    """Calendar years; 29 Feb rolls forward to 1 Mar (a retention period never ends early)."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, month=3, day=1)


def days_between(earlier: date, later: date) -> int:
    return (later - earlier) // timedelta(days=1)
