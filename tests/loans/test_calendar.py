"""Due dates: month-end clamping, leap years, the Jiebei first-period rule, explicit due days.

Rules under test (REFERENCES.md "Loan math conventions" and issue 2 item 3):
- without a due day, a loan falls due on its drawdown day each month, clamped to short months
  and back to the drawdown day afterwards (Jan 31 -> Feb 28/29 -> Mar 31);
- with a due day (Jiebei), a drawdown fewer than 15 days before the due day moves the first
  installment a month.
Every expected date below is written out by hand from a calendar.
"""

from __future__ import annotations

from datetime import date

import pytest

from arrears.core.loans.calendar import add_months, due_dates, month_day, whole_months

JIEBEI_MIN_DAYS = 15  # REFERENCES.md / issue 2: "fewer than 15 days before the due day"


# --- add_months / month_day ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "day", "expected"),
    [
        (date(2023, 1, 31), 1, None, date(2023, 2, 28)),  # clamp, common year
        (date(2024, 1, 31), 1, None, date(2024, 2, 29)),  # clamp, leap year
        (date(2023, 1, 31), 2, None, date(2023, 3, 31)),  # back to 31 after February
        (date(2023, 3, 31), 1, None, date(2023, 4, 30)),  # 30-day month
        (date(2023, 1, 30), 1, None, date(2023, 2, 28)),
        (date(2024, 1, 29), 1, None, date(2024, 2, 29)),  # 29 exists in a leap February
        (date(2023, 1, 29), 1, None, date(2023, 2, 28)),
        (date(2023, 12, 15), 1, None, date(2024, 1, 15)),  # across the year end
        (date(2023, 11, 30), 3, None, date(2024, 2, 29)),
        (date(2024, 3, 31), -1, None, date(2024, 2, 29)),  # backwards
        (date(2024, 1, 15), 0, None, date(2024, 1, 15)),
        (date(2023, 2, 28), 1, 31, date(2023, 3, 31)),  # explicit day restores the 31st
        (date(2023, 2, 28), 2, 31, date(2023, 4, 30)),
        (date(2024, 2, 29), 12, None, date(2025, 2, 28)),  # leap day a year on
        (date(2024, 2, 29), 48, None, date(2028, 2, 29)),
        (date(2024, 1, 15), 360, None, date(2054, 1, 15)),  # a 30-year term
    ],
)
def test_add_months(start: date, months: int, day: int | None, expected: date) -> None:
    assert add_months(start, months, day) == expected


def test_month_day_clamps_to_last_day() -> None:
    assert month_day(2023, 2, 31) == date(2023, 2, 28)
    assert month_day(2024, 2, 31) == date(2024, 2, 29)
    assert month_day(2023, 4, 31) == date(2023, 4, 30)
    assert month_day(2023, 4, 15) == date(2023, 4, 15)
    assert month_day(2100, 2, 29) == date(2100, 2, 28)  # 2100 is not a leap year
    assert month_day(2000, 2, 29) == date(2000, 2, 29)  # 2000 is


# --- due dates without a due day: the drawdown day ----------------------------------------


def test_drawdown_on_31st_clamps_then_returns_to_31st_common_year() -> None:
    assert due_dates(date(2023, 1, 31), 6, None, JIEBEI_MIN_DAYS) == (
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
        date(2023, 6, 30),
        date(2023, 7, 31),
    )


def test_drawdown_on_31st_clamps_to_leap_day() -> None:
    assert due_dates(date(2024, 1, 31), 3, None, JIEBEI_MIN_DAYS) == (
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    )


def test_drawdown_on_29th_across_common_and_leap_februaries() -> None:
    dates = due_dates(date(2023, 1, 29), 14, None, JIEBEI_MIN_DAYS)
    assert dates[0] == date(2023, 2, 28)
    assert dates[1] == date(2023, 3, 29)
    assert dates[12] == date(2024, 2, 29)
    assert dates[13] == date(2024, 3, 29)


def test_drawdown_day_due_dates_ignore_the_jiebei_rule() -> None:
    # Without a due day the first period is always a whole month, never shorter than 28 days.
    assert due_dates(date(2024, 1, 15), 3, None, JIEBEI_MIN_DAYS) == (
        date(2024, 2, 15),
        date(2024, 3, 15),
        date(2024, 4, 15),
    )


def test_twelve_monthly_dates_across_year_end() -> None:
    dates = due_dates(date(2023, 11, 20), 12, None, JIEBEI_MIN_DAYS)
    assert dates[0] == date(2023, 12, 20)
    assert dates[1] == date(2024, 1, 20)
    assert dates[-1] == date(2024, 11, 20)
    assert len(dates) == 12


# --- explicit due day and the Jiebei 15-day rule ------------------------------------------


@pytest.mark.parametrize(
    ("drawdown", "due_day", "first"),
    [
        # due day 10: 2023-12-26 is 15 days before 2024-01-10 -> stays (limit not reached)
        (date(2023, 12, 26), 10, date(2024, 1, 10)),
        # 2023-12-27 is 14 days before -> fewer than 15 -> moves a month
        (date(2023, 12, 27), 10, date(2024, 2, 10)),
        (date(2024, 1, 1), 10, date(2024, 2, 10)),  # 9 days before
        (date(2024, 1, 9), 10, date(2024, 2, 10)),  # 1 day before
        # drawdown on the due day itself: the next due day is a month on (31 days)
        (date(2024, 1, 10), 10, date(2024, 2, 10)),
        (date(2024, 1, 11), 10, date(2024, 2, 10)),  # 30 days
        (date(2024, 1, 25), 10, date(2024, 2, 10)),  # exactly 16 days
        (date(2024, 1, 26), 10, date(2024, 2, 10)),  # exactly 15 days: stays
        (date(2024, 1, 27), 10, date(2024, 3, 10)),  # 14 days: moves
        # the due day later in the same month
        (date(2024, 3, 1), 20, date(2024, 3, 20)),  # 19 days
        (date(2024, 3, 5), 20, date(2024, 3, 20)),  # 15 days: stays
        (date(2024, 3, 6), 20, date(2024, 4, 20)),  # 14 days: moves
    ],
)
def test_jiebei_first_installment(drawdown: date, due_day: int, first: date) -> None:
    assert due_dates(drawdown, 1, due_day, JIEBEI_MIN_DAYS) == (first,)


def test_jiebei_rule_with_short_february_common_year() -> None:
    # Due day 31 clamps to Feb 28 in 2023. 2023-02-13 is 15 days before -> stays;
    # 2023-02-14 is 14 days before -> moves to 31 March.
    assert due_dates(date(2023, 2, 13), 3, 31, JIEBEI_MIN_DAYS) == (
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
    )
    assert due_dates(date(2023, 2, 14), 3, 31, JIEBEI_MIN_DAYS) == (
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
    )


def test_jiebei_rule_with_leap_february() -> None:
    # Due day 31 clamps to Feb 29 in 2024. 2024-02-14 is 15 days before -> stays;
    # 2024-02-15 is 14 days before -> moves.
    assert due_dates(date(2024, 2, 14), 2, 31, JIEBEI_MIN_DAYS) == (
        date(2024, 2, 29),
        date(2024, 3, 31),
    )
    assert due_dates(date(2024, 2, 15), 2, 31, JIEBEI_MIN_DAYS) == (
        date(2024, 3, 31),
        date(2024, 4, 30),
    )


def test_explicit_due_day_differs_from_drawdown_day() -> None:
    # Drawn down on the 3rd, repayable on the 20th: every installment on the 20th.
    dates = due_dates(date(2024, 5, 3), 4, 20, JIEBEI_MIN_DAYS)
    assert dates == (date(2024, 5, 20), date(2024, 6, 20), date(2024, 7, 20), date(2024, 8, 20))
    # The same drawdown without a due day falls due on the 3rd.
    assert due_dates(date(2024, 5, 3), 2, None, JIEBEI_MIN_DAYS) == (
        date(2024, 6, 3),
        date(2024, 7, 3),
    )


def test_explicit_due_day_31_keeps_month_ends() -> None:
    dates = due_dates(date(2024, 1, 5), 5, 31, JIEBEI_MIN_DAYS)
    assert dates == (
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    )


def test_min_first_period_zero_disables_the_move() -> None:
    assert due_dates(date(2024, 1, 9), 2, 10, 0) == (date(2024, 1, 10), date(2024, 2, 10))


@pytest.mark.parametrize("bad_day", [0, 32, -1])
def test_due_day_outside_1_31_is_refused(bad_day: int) -> None:
    with pytest.raises(ValueError):
        due_dates(date(2024, 1, 9), 2, bad_day, JIEBEI_MIN_DAYS)


def test_schedule_needs_an_installment() -> None:
    with pytest.raises(ValueError):
        due_dates(date(2024, 1, 9), 0, None, JIEBEI_MIN_DAYS)


# --- whole_months -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2024, 1, 15), date(2024, 2, 15), 1),
        (date(2024, 1, 15), date(2024, 4, 15), 3),
        (date(2023, 1, 31), date(2023, 2, 28), 1),  # clamped
        (date(2023, 2, 28), date(2023, 3, 31), 1),  # month end to month end
        (date(2024, 2, 29), date(2024, 3, 31), 1),
        (date(2023, 4, 30), date(2023, 5, 31), 1),
        (date(2023, 12, 15), date(2024, 1, 15), 1),
        (date(2024, 1, 15), date(2024, 1, 20), None),  # part of a month
        (date(2024, 1, 15), date(2024, 2, 20), None),  # a month and some days
        (date(2024, 1, 15), date(2024, 1, 15), None),  # empty
        (date(2024, 2, 15), date(2024, 1, 15), None),  # backwards
    ],
)
def test_whole_months(start: date, end: date, months: int | None) -> None:
    assert whole_months(start, end) == months
