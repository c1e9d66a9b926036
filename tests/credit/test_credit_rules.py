"""Retention and notice planning, on both sides of each deadline (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from credit_helpers import P, due_on, terms

from arrears.core.credit.history import credit_history, forecast
from arrears.core.credit.notices import LoanOutlook, plan_notices
from arrears.core.credit.retention import add_years, negative_items, retained
from arrears.core.credit.rules import CREDIT_RULES, rules_for
from arrears.core.ledger.replay import Payment, WriteOff

CN, US = rules_for("cn"), rules_for("us-reg-f")


def d(s: str) -> date:
    return date.fromisoformat(s)


def cured_history(as_of: date) -> object:
    # Jan and Feb missed, all paid Mar 10 (cured), then paid as due; Jun 10 settles it (C).
    t = terms()
    pay = Payment("P", due_on(t, [], d("2025-03-10")), d("2025-03-10"))
    pays = [pay]
    for day in ("2025-04-10", "2025-05-10", "2025-06-10"):
        pays.append(Payment(day, due_on(t, pays, d(day)), d(day)))
    return credit_history(t, P, pays, as_of)


def test_packs_carry_their_retention_periods_as_data() -> None:
    assert CN.retention_years == 5 and "Art. 16" in CN.retention_source
    assert US.retention_years == 7
    assert set(CREDIT_RULES) == {"cn", "us-reg-f", "uk-conc"}


def test_negative_items_drop_off_five_years_after_the_conduct_ends_cn() -> None:
    h = cured_history(d("2025-07-01"))
    items = negative_items(h.months, CN.retention_years)
    assert [(i.month, i.status) for i in items] == [("2025-01", "1"), ("2025-02", "2")]
    assert {i.conduct_ended for i in items} == {d("2025-03-10")}
    assert {i.drops_off for i in items} == {d("2030-03-10")}
    before = retained(h, CN.retention_years, on=d("2030-03-09"))
    after = retained(h, CN.retention_years, on=d("2030-03-10"))
    assert before.status_string == "12NNNC"
    assert after.status_string == "NNNC"
    assert after.max_overdue_periods == 0
    # US: seven years from the same day.
    assert retained(h, US.retention_years, on=d("2032-03-09")).status_string == "12NNNC"
    assert retained(h, US.retention_years, on=d("2032-03-10")).status_string == "NNNC"


def test_unended_arrears_and_write_offs_do_not_drop_off() -> None:
    t = terms(months=12)
    h = credit_history(t, P, [WriteOff("W", d("2025-04-15"))], d("2025-06-30"))
    items = negative_items(h.months, CN.retention_years)
    assert items and all(i.drops_off is None for i in items)
    assert retained(h, 5, on=d("2040-01-01")).status_string == h.status_string


def test_leap_day_retention_never_ends_early() -> None:
    assert add_years(d("2024-02-29"), 5) == d("2029-03-01")


def outlook(as_of: date, rules: object = CN) -> LoanOutlook:
    t = terms()
    coming = forecast(t, P, [], as_of, 2, include_past=True)
    return LoanOutlook("L1", "B1", rules, tuple(coming))  # type: ignore[arg-type]


def test_notice_is_planned_the_configured_days_before_the_first_negative_report() -> None:
    # First installment due Jan 10, 2025; unpaid it reads 1 on Jan 10. CN lead time 7 days.
    o = outlook(d("2024-12-20"))
    assert o.first_negative is not None and o.first_negative.reporting_date == d("2025-01-10")
    assert o.notice_due == d("2025-01-03")
    assert plan_notices([o], {}, d("2025-01-02")) == []
    (action,) = plan_notices([o], {}, d("2025-01-03"))
    assert (action.loan_id, action.borrower_id, action.template) == ("L1", "B1", "credit_notice")
    assert (action.channel, action.party, action.purpose) == ("sms", "debtor", "collection")
    # Late is still planned (the report waits for it); on record, never again.
    assert len(plan_notices([outlook(d("2025-01-20"))], {}, d("2025-01-20"))) == 1
    sent = {"L1": datetime(2025, 1, 3, 2, tzinfo=UTC)}
    assert plan_notices([o], sent, d("2025-01-03")) == []


def test_notice_lead_time_and_channel_are_settings() -> None:
    rules = CN.with_settings(notice_days=10, notice_channel="letter")
    o = outlook(d("2024-12-20"), rules)
    assert o.notice_due == d("2024-12-31")
    assert plan_notices([o], {}, d("2024-12-30")) == []
    (action,) = plan_notices([o], {}, d("2024-12-31"))
    assert action.channel == "letter"


def test_a_paid_up_loan_needs_no_notice() -> None:
    t = terms()
    pays = [Payment("P", due_on(t, [], d("2025-01-10")), d("2025-01-10"))]
    coming = forecast(t, P, pays, d("2025-01-10"), 0)
    assert coming == [] or all(m.status not in "1234567" for m in coming)
    o = LoanOutlook("L1", "B1", CN, ())
    assert o.notice_due is None and plan_notices([o], {}, d("2025-02-01")) == []
