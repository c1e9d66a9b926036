"""The erasure rule against hand-worked dates: exactly N years, the day before, a leap day,
whose period governs, and every reason a borrower is not yet due."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.packs import get_pack
from arrears.core.people.erasure import Horizon, Reason, Standing, horizon, verdict

FIVE = Horizon(5, "settings")
DONE = Standing(loan_statuses=("settled", "written_off"), last_activity=date(2020, 3, 15))


def test_due_on_the_anniversary_itself_not_the_day_before() -> None:
    # 2020-03-15 + 5 calendar years = 2025-03-15 (2020 and 2024 are leap years: no matter).
    before = verdict(DONE, date(2025, 3, 14), FIVE)
    assert (before.due, before.reason, before.due_from) == (
        False,
        Reason.RETENTION_RUNNING,
        date(2025, 3, 15),
    )
    assert "until 2025-03-15" in before.words and "5 years (settings)" in before.words
    on = verdict(DONE, date(2025, 3, 15), FIVE)
    assert (on.due, on.reason) == (True, Reason.DUE)
    assert verdict(DONE, date(2031, 1, 1), FIVE).due


def test_a_leap_day_rolls_forward_to_the_first_of_march() -> None:
    leap = replace(DONE, last_activity=date(2024, 2, 29))
    # 2029 has no 29 February: the period ends on 1 March, never on 28 February (early).
    assert not verdict(leap, date(2029, 2, 28), FIVE).due
    assert verdict(leap, date(2029, 3, 1), FIVE).due_from == date(2029, 3, 1)
    assert verdict(leap, date(2029, 3, 1), FIVE).due
    # Four years lands on a leap year again: 29 February itself.
    four = Horizon(4, "settings")
    assert verdict(leap, date(2028, 2, 28), four).reason is Reason.RETENTION_RUNNING
    assert verdict(leap, date(2028, 2, 29), four).due


def test_the_longer_period_governs_the_pack_when_the_law_keeps_records_longer() -> None:
    us = get_pack("us-reg-f")
    cn = get_pack("cn")
    assert us is not None and cn is not None
    assert us.limits.record_retention_years == 3
    # The lender keeps 5 years, Reg F asks for 3: the lender's setting governs.
    assert horizon(5, us.limits) == Horizon(5, "settings")
    # A lender that keeps 2 years may not erase a US borrower before Reg F's 3.
    assert horizon(2, us.limits) == Horizon(3, "pack")
    two = horizon(2, us.limits)
    assert not verdict(replace(DONE, last_activity=date(2022, 6, 1)), date(2024, 6, 1), two).due
    assert verdict(replace(DONE, last_activity=date(2022, 6, 1)), date(2025, 6, 1), two).due
    # China keeps recordings 2 years: a 1-year setting is raised to 2; a tie names settings.
    assert horizon(1, cn.limits) == Horizon(2, "pack")
    assert horizon(2, cn.limits) == Horizon(2, "settings")
    # A pack with no retention (or none known) leaves the setting.
    assert horizon(1, Limits()) == Horizon(1, "settings")
    assert horizon(1, None) == Horizon(1, "settings")
    assert horizon(1, Limits(record_retention_years=4, recording_retention_years=6)).years == 6


def test_a_setting_below_a_year_is_a_bug_not_a_horizon() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        horizon(0, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"loan_statuses": ("settled", "active")}, Reason.LOAN_OPEN),
        ({"open_cases": 1}, Reason.CASE_OPEN),
        ({"open_complaints": 1}, Reason.COMPLAINT_OPEN),
        ({"open_disputes": 2}, Reason.DISPUTE_OPEN),
        ({"plans_under_way": 1}, Reason.PLAN_UNDER_WAY),
        ({"moratoria_in_force": 1}, Reason.MORATORIUM_IN_FORCE),
        ({"visits_under_way": 1}, Reason.VISIT_UNDER_WAY),
        ({"last_activity": None}, Reason.NO_ACTIVITY),
        ({"erased_on": date(2026, 1, 1)}, Reason.ALREADY_ERASED),
    ],
)
def test_anything_under_way_keeps_the_data_however_long_ago(
    change: dict[str, object], reason: Reason
) -> None:
    found = verdict(replace(DONE, **change), date(2040, 1, 1), FIVE)  # type: ignore[arg-type]
    assert (found.due, found.reason) == (False, reason)
    assert found.words  # every reason has words for the refusal


def test_the_first_reason_is_given_an_erased_borrower_before_all_else() -> None:
    busy = replace(DONE, loan_statuses=("active",), open_cases=1, erased_on=date(2026, 1, 1))
    assert verdict(busy, date(2040, 1, 1), FIVE).reason is Reason.ALREADY_ERASED
    busy = replace(busy, erased_on=None)
    assert verdict(busy, date(2040, 1, 1), FIVE).reason is Reason.LOAN_OPEN
    # Under way and in retention: what is under way is the reason (it must end first).
    assert verdict(busy, date(2021, 1, 1), FIVE).reason is Reason.LOAN_OPEN


def test_a_borrower_with_no_loans_is_due_by_their_last_activity() -> None:
    none = Standing(loan_statuses=(), last_activity=date(2019, 12, 31))
    assert verdict(none, date(2024, 12, 31), FIVE).due
    assert not verdict(none, date(2024, 12, 30), FIVE).due
