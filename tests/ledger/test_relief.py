"""Interest relief for days in force (Debt Respite Scheme Regulations 2020, reg. 7)."""

from __future__ import annotations

from datetime import date

from arrears.core.ledger.relief import days_in_force, interest_relief

FOREVER = date.max


def test_days_in_force_counts_each_day_once_and_only_inside_the_window() -> None:
    pauses = ((date(2026, 3, 5), date(2026, 3, 10)), (date(2026, 3, 8), date(2026, 3, 12)))
    assert days_in_force(pauses, date(2026, 3, 1), date(2026, 3, 31)) == 8  # 5th..12th
    assert days_in_force(pauses, date(2026, 3, 11), date(2026, 3, 11)) == 1
    assert days_in_force(((date(2026, 3, 20), FOREVER),), date(2026, 3, 1), date(2026, 3, 31)) == 12
    assert days_in_force(pauses, date(2026, 3, 31), date(2026, 3, 1)) == 0


def test_relief_is_the_period_interest_pro_rata_rounded_half_up() -> None:
    # 1,000 fen over a 30-day period, 3 days in force: 100.0 exactly; 1 day: 33.33 -> 33;
    # 45 fen, 1 day of 30: 1.5 -> 2 (half up).
    start, due = date(2026, 3, 1), date(2026, 3, 31)
    three = interest_relief("L", 1, start, due, 1000, ((date(2026, 3, 28), date(2026, 4, 5)),))
    assert three is not None and (three.amount, three.days_in_force) == (100, 3)
    one = interest_relief("L", 1, start, due, 1000, ((date(2026, 3, 30), date(2026, 3, 30)),))
    assert one is not None and one.amount == 33
    half = interest_relief("L", 1, start, due, 45, ((date(2026, 3, 1), date(2026, 3, 1)),))
    assert half is not None and half.amount == 2
    whole = interest_relief("L", 2, start, due, 1000, ((date(2026, 2, 1), FOREVER),))
    assert whole is not None and whole.amount == 1000 and whole.ref == "relief:L:2"


def test_no_relief_when_no_day_of_the_period_was_in_force() -> None:
    start, due = date(2026, 3, 1), date(2026, 3, 31)
    # The due date itself belongs to the next period: a pause starting on it relieves nothing.
    assert interest_relief("L", 1, start, due, 1000, ((due, FOREVER),)) is None
    assert interest_relief("L", 1, start, due, 1000, ()) is None
    assert interest_relief("L", 1, start, due, 0, ((start, due),)) is None
