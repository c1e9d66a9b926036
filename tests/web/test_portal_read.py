"""The portal's reading pages in a real browser: what happens next (dates and amounts against
the forecast service), my credit record (months against the credit view), my rights (in
both languages, against the rights service)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from arrears.api.deps import business_date, own_loan_ids
from arrears.services.close.day import CloseConfig
from arrears.services.close.forecast import borrower_forecast
from arrears.services.credit import borrower_credit_view
from arrears.services.policy_files import default_policy_set
from arrears.services.rights import borrower_rights
from arrears.services.settings import default_settings
from factories import succeeded
from web.portal import reader, signed_in, yuan
from web.site import Site, shot


def _close_config() -> CloseConfig:
    settings = default_settings()
    return CloseConfig(default_policy_set(), lender=settings.lender, capacity=settings.capacity)


def test_what_happens_next_shows_the_forecasts_dates_and_what_stops_each_step(
    tab: Page, site: Site, size: str
) -> None:
    borrower = reader(site)
    signed_in(tab, site, borrower)
    tab.goto("/my/next")
    forecast = succeeded(borrower_forecast(site.engine, borrower, _close_config(), days=30))
    assert forecast.next, "the never-paying borrower has steps ahead"
    expect(tab.locator("main")).to_contain_text(f"未来 {forecast.days} 天内")
    dates = sorted({str(s.on) for s in forecast.next})
    shown = tab.locator("ol.timeline > li").evaluate_all("els => els.map(e => e.dataset.date)")
    assert shown == dates
    first = forecast.next[0]
    day = tab.locator(f"ol.timeline > li[data-date='{first.on}']")
    same_day = [s for s in forecast.next if s.on == first.on]
    expect(day.locator("li")).to_have_count(len(same_day))
    pay = next(s for s in first.stops if s.kind == "pay")
    assert pay.amount is not None
    expect(day.locator(".stop")).to_have_text(
        f"如要避免：最晚于 {pay.by} 还款 {yuan(pay.amount)} 元。"
    )
    loan = forecast.loans[0]
    expect(tab.locator(f"[data-loan='{loan.loan_id}']")).to_contain_text(f"已逾期 {loan.dpd} 天")
    shot(tab, f"borrower-next-{size}")
    tab.get_by_role("link", name="English").click()
    day = tab.locator(f"ol.timeline > li[data-date='{first.on}']")
    expect(day.locator(".stop")).to_have_text(
        f"To stop this: pay {yuan(pay.amount)} yuan by {pay.by}."
    )


def test_my_credit_record_shows_the_reported_and_the_coming_months(
    tab: Page, site: Site, size: str
) -> None:
    borrower = reader(site)
    with site.engine.connect() as db:
        day = business_date(db, own_loan_ids(db, borrower))
        assert day is not None
        view = succeeded(borrower_credit_view(db, borrower, day))
    signed_in(tab, site, borrower)
    tab.goto("/my/credit")
    for loan in view["loans"]:
        card = tab.locator(f"section[data-loan='{loan['loan_id']}']")
        months = loan["reported"] + loan["if_nothing_is_paid"]
        assert months, "the demo borrower has months reported and coming"
        for m in months:
            row = card.locator(f"tr[data-month='{m['month']}']")
            expect(row).to_have_attribute("data-status", m["status"])
            expect(row.locator("[data-field=reporting_date]")).to_have_text(
                f"{m['reporting_date']} 报送"
            )
            expect(row.locator("[data-field=dpd]")).to_have_text(str(m["dpd"]))
            expect(row.locator("[data-field=overdue_amount]")).to_have_text(m["overdue_amount"])
        coming = card.get_by_role("table", name="如果不还款将要报送的月份")
        expect(coming.locator("tbody tr")).to_have_count(len(loan["if_nothing_is_paid"]))
    if size == "phone":
        shot(tab, "borrower-credit-phone")


def test_my_rights_and_where_to_get_help_in_both_languages(
    tab: Page, site: Site, size: str
) -> None:
    borrower = reader(site)
    with site.engine.connect() as db:
        zh = succeeded(borrower_rights(db, borrower, "zh-CN", default_settings().lender))
        en = succeeded(borrower_rights(db, borrower, "en", default_settings().lender))
    signed_in(tab, site, borrower)
    tab.goto("/my/rights")
    expect(tab.get_by_role("heading", level=1)).to_have_text("我的权利")
    for section in zh.sections:
        expect(tab.get_by_role("heading", name=section.heading)).to_be_visible()
    rule = zh.sections[0].rights[0]
    expect(tab.locator(f"li[data-rule='{rule.rule}']")).to_have_text(rule.text)
    expect(tab.get_by_role("heading", name="免费帮助和法律援助")).to_be_visible()
    expect(tab.locator("#help + ul li")).to_have_count(len(zh.help))
    if size == "phone":
        shot(tab, "borrower-rights-phone")
    tab.get_by_role("link", name="English").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("My rights")
    expect(tab.get_by_role("heading", name=en.sections[0].heading)).to_be_visible()
    rule = en.sections[0].rights[0]
    expect(tab.locator(f"li[data-rule='{rule.rule}']")).to_have_text(rule.text)
    expect(tab.locator("#help + ul li").first).to_have_text(en.help[0])
    expect(tab.get_by_role("heading", name=re.compile("Free help and legal aid"))).to_be_visible()
