"""The notice before negative reporting (issue 15): the date it names is never in the past and
always the lead time ahead, one notice per negative item however long dispatch is down, and
the report waits for the date the notice named. Pure parts here; the close in
tests/engine/test_credit_notice_close.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from credit_helpers import P, terms

from arrears.core.credit.history import forecast
from arrears.core.credit.notices import LoanOutlook, due_notices
from arrears.core.credit.report import LoanFacts, Reported, Withheld, month_record
from arrears.core.credit.rules import CREDIT_RULES, rules_for
from arrears.core.credit.view import loan_view

CN = rules_for("cn")


def d(s: str) -> date:
    return date.fromisoformat(s)


def outlook(as_of: date, rules: object = CN) -> LoanOutlook:
    # First installment due 2025-01-10 (the repayment day is the 10th), nothing ever paid.
    t = terms()
    coming = forecast(t, P, [], as_of, 2, include_past=True)
    return LoanOutlook("L1", "B1", rules, tuple(coming), due_day=t.due_day)  # type: ignore[arg-type]


def test_every_pack_has_a_lead_time_with_its_source() -> None:
    for pack, rules in CREDIT_RULES.items():
        assert rules.notice_days >= 1, pack
        assert rules.notice_source, pack
    assert "Art. 15" in CN.notice_source and "7 days" in CN.notice_source


@pytest.mark.parametrize(
    ("sent_on", "named", "late"),
    [
        # On its due day, 7 days before the item's reporting date: it names that date.
        ("2025-01-03", "2025-01-10", False),
        # Late, inside the lead time: the next reporting date 7 days on (2025-01-12 -> 02-10).
        ("2025-01-05", "2025-02-10", True),
        # The loan one day overdue at the close: never the missed due date itself.
        ("2025-01-11", "2025-02-10", True),
    ],
)
def test_the_notice_names_a_future_date_the_lead_time_ahead(
    sent_on: str, named: str, late: bool
) -> None:
    day = d(sent_on)
    (notice,) = due_notices([outlook(day)], {}, day)
    assert notice.report_on == d(named)
    assert notice.report_on >= day + timedelta(days=CN.notice_days)
    assert notice.late is late
    assert notice.item_on == d("2025-01-10")  # the missed due date: the negative item


def test_a_back_book_notice_names_the_next_reporting_day_after_the_lead_time() -> None:
    # Months behind, sent 2025-04-05: the lead time runs to 04-12, after April's reporting
    # day (the 10th); the loan's next reporting date is 2025-05-10.
    (notice,) = due_notices([outlook(d("2025-04-05"))], {}, d("2025-04-05"))
    assert notice.report_on == d("2025-05-10")


def test_one_notice_per_item_while_one_waits_and_a_new_attempt_after_a_failure() -> None:
    day = d("2025-01-20")
    (first,) = due_notices([outlook(day)], {}, day)
    assert first.key == "credit_notice:L1:2025-01-10:1"
    for later in range(1, 6):  # dispatch down: the notice waits in the outbox
        on = day + timedelta(days=later)
        assert due_notices([outlook(on)], {}, on, pending={"L1"}) == []
    (second,) = due_notices([outlook(day)], {}, day, failed={"L1": 1})
    assert second.key == "credit_notice:L1:2025-01-10:2"
    sent = {"L1": datetime(2025, 1, 20, 2, tzinfo=UTC)}
    assert due_notices([outlook(day)], sent, day) == []


def facts(notice_on: date | None) -> LoanFacts:
    at = (
        None
        if notice_on is None
        else datetime(notice_on.year, notice_on.month, notice_on.day, 2, tzinfo=UTC)
    )
    return LoanFacts(terms(), P, "B1", "CNY", CN, (), notice_at=at, notice_on=notice_on)


def test_the_report_waits_for_the_date_the_notice_named() -> None:
    # Told 2025-01-07, three days before January's reporting date: January's item is held
    # back (the notice gave until 01-14); February's record, which carries it, is reported.
    told_late = facts(d("2025-01-07"))
    january = month_record(told_late, "2025-01")
    assert isinstance(january, Withheld)
    assert any("reported from 2025-01-14" in r for r in january.reasons), january.reasons
    february = month_record(told_late, "2025-02")
    assert isinstance(february, Reported)
    assert february.history.status_string.startswith("12")
    # Told on the due day, the full 7 days ahead: January's item is reported on its date.
    assert isinstance(month_record(facts(d("2025-01-03")), "2025-01"), Reported)
    # Never told: held back.
    assert isinstance(month_record(facts(None), "2025-01"), Withheld)


def test_the_borrowers_view_says_when_and_whether_the_notice_was_late() -> None:
    view = loan_view(facts(d("2025-01-07")), d("2025-02-15"))
    assert view["notice_given_on"] == "2025-01-07"
    assert view["reported_from"] == "2025-01-14"
    assert view["notice_late"] is True
    assert loan_view(facts(d("2025-01-03")), d("2025-02-15"))["notice_late"] is False


def test_a_lead_time_beyond_the_forecast_still_lands_on_a_reporting_day() -> None:
    # A lender giving 90 days' notice: past the two forecast months, the date is still the
    # loan's repayment day (the 10th), the first one at least 90 days on.
    rules = CN.with_settings(notice_days=90)
    day = d("2025-01-20")
    (notice,) = due_notices([outlook(day, rules)], {}, day)
    assert notice.report_on == d("2025-05-10")  # 01-20 + 90 days = 04-20
    month_end = LoanOutlook("L1", "B1", rules, outlook(day, rules).months, due_day=None)
    (notice,) = due_notices([month_end], {}, day)
    assert notice.report_on == d("2025-04-30")  # without a repayment day: the month's last
