"""The installment wizard in a real browser: affordability, the plan it makes, the proposal
and the lender's decision, each figure against the services; terms the policy does not allow
are refused on the form, naming the field, and record nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.core.borrower.affordability import Household
from arrears.core.borrower.installments import decide
from arrears.services.affordability import check_affordability
from arrears.services.collection.plans import (
    decide_plan,
    default_policy,
    preview_plan,
    request_plan,
)
from arrears.store.case_tables import plans
from factories import succeeded
from web.portal import own_borrower, signed_in, yuan
from web.site import Site, borrower_signs_in, shot


def _plans(site: Site, borrower: str) -> list[object]:
    with site.engine.connect() as db:
        return list(db.execute(select(plans).where(plans.c.borrower_id == borrower)).all())


def test_a_borrower_works_out_what_they_can_afford_proposes_a_plan_and_gets_a_decision(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = own_borrower(site, "plan", size)
    borrower_signs_in(tab, site, borrower)
    tab.goto(f"/my/plan?loan={loan}")
    tab.get_by_label("每月税后收入").fill("8,000")
    tab.get_by_label("房租或房贷").fill("2000")
    tab.get_by_label("伙食和日用品").fill("1500.50")
    tab.get_by_label("靠您的收入生活的人数").fill("1")
    if size == "phone":
        shot(tab, "borrower-plan-phone")
    tab.get_by_role("button", name="算一算我能承担多少").click()
    household = Household(800000, {"housing": 200000, "food": 150050}, 1, 0)
    afford = succeeded(check_affordability(household, "zh-CN")).result.affordable
    expect(tab.locator("[data-field=affordable]")).to_have_text(f"每月最多 {yuan(afford)} 元。")
    expect(tab.get_by_label(re.compile("^每月还款金额"))).to_have_value(f"{afford // 100}.00")
    tab.get_by_role("button", name="查看计划").click()
    with site.engine.connect() as db:
        shown = succeeded(preview_plan(db, loan, monthly=afford))
    expect(tab.locator("[data-field=total]")).to_have_text(f"{yuan(shown.total)} 元")
    expect(tab.locator("[data-field=first_due]")).to_have_text(str(shown.first_due))
    expect(tab.get_by_role("table", name="还款明细").locator("tbody tr")).to_have_count(
        shown.months
    )
    tab.get_by_label("无法按时还款的原因").select_option(label="我失业了或收入减少")
    tab.get_by_role("button", name="提交我的申请").click()
    expect(tab).to_have_url(re.compile(r"/my/plan/\d+$"))
    [row] = _plans(site, borrower)
    card = tab.locator("section[data-status]")
    expect(card).to_have_attribute("data-status", row.status)
    assert row.status == "active", "within the automatic limits: approved at once"
    expect(card.get_by_role("heading")).to_contain_text("已批准")
    expect(card.locator("[data-field=months]")).to_have_text(str(row.months))
    expect(card.locator("[data-field=monthly]")).to_have_text(f"{yuan(row.monthly)} 元")
    assert (row.months, row.monthly) == (shown.months, shown.monthly)
    if size == "phone":
        shot(tab, "borrower-plan-decision-phone")
    # The same loan cannot have a second plan while this one is in force.
    tab.goto(f"/my/plan?loan={loan}")
    expect(tab.locator("main")).to_contain_text(f"借款 {loan} 已有一个分期计划（执行中）")


def test_terms_the_policy_does_not_allow_are_refused_on_the_form_and_change_nothing(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = own_borrower(site, "plan_bad", size)
    longest = default_policy().max_months
    borrower_signs_in(tab, site, borrower)
    tab.goto(f"/my/plan/propose?loan={loan}")
    alert = tab.get_by_role("alert")
    tab.get_by_label("期数（月）").fill(str(longest + 1))
    tab.get_by_role("button", name="查看计划").click()
    expect(alert.locator("li[data-field=months]")).to_have_text(
        f"期数（月）：须在 1-{longest} 之间。"
    )
    expect(tab.get_by_label("期数（月）")).to_have_attribute("aria-invalid", "true")
    tab.get_by_label("期数（月）").fill("")
    tab.get_by_label(re.compile("^每月还款金额")).fill("abc")
    tab.get_by_role("button", name="查看计划").click()
    expect(alert.locator("li[data-field=monthly]")).to_contain_text("这不是一个金额")
    tab.get_by_label(re.compile("^每月还款金额")).fill("1")
    tab.get_by_role("button", name="查看计划").click()
    expect(alert.locator("li[data-field=monthly]")).to_contain_text(f"超过 {longest} 个月")
    assert _plans(site, borrower) == []
    # Longer than the policy approves on its own: a supervisor decides, unless the monthly
    # amount is below the policy's minimum, when it is refused outright.
    months = default_policy().auto_max_months + 1
    with site.engine.connect() as db:
        shown = succeeded(preview_plan(db, loan, months=months))
    expected = decide(default_policy(), shown, "job_loss").outcome
    tab.get_by_label(re.compile("^每月还款金额")).fill("")
    tab.get_by_label("期数（月）").fill(str(months))
    tab.get_by_role("button", name="查看计划").click()
    tab.get_by_role("button", name="提交我的申请").click()
    if expected == "refuse":
        expect(alert.locator("li[data-field=months]")).to_contain_text("我们无法接受")
        # The policy's reason, in Chinese too (web.problem_texts), not the service's English.
        expect(alert.locator("li[data-field=months]")).not_to_have_text(re.compile("[a-z]{3}"))
        assert _plans(site, borrower) == []
        return
    assert expected == "refer", expected
    expect(tab).to_have_url(re.compile(r"/my/plan/\d+$"))
    [row] = _plans(site, borrower)
    card = tab.locator("section[data-status]")
    expect(card).to_have_attribute("data-status", "pending")
    assert row.status == "pending"
    expect(card.get_by_role("heading")).to_contain_text("主管会审批您的计划")


def test_a_borrower_accepts_a_supervisors_counter_offer(tab: Page, site: Site, size: str) -> None:
    borrower, loan = own_borrower(site, "offer", size)
    now = datetime.now(UTC)
    with site.engine.begin() as db:
        asked = succeeded(
            request_plan(
                db,
                key=f"test:offer:{borrower}",
                borrower_id=borrower,
                loan_id=loan,
                at=now,
                reason="dispute",
                months=2,
            )
        )
        assert asked.status == "pending"
        offer = succeeded(
            decide_plan(db, asked.plan_id, decision="counter", by="supervisor", at=now, months=3)
        )
    assert offer.status == "countered"
    signed_in(tab, site, borrower)
    tab.goto(f"/my/plan/{offer.plan_id}")
    card = tab.locator("section[data-status]")
    expect(card).to_have_attribute("data-status", "countered")
    expect(card.locator("[data-field=months]")).to_have_text("3")
    expect(card.locator("[data-field=monthly]")).to_have_text(f"{yuan(offer.monthly)} 元")
    tab.get_by_role("button", name="接受这个方案").click()
    expect(card).to_have_attribute("data-status", "active")
    [row] = _plans(site, borrower)
    assert (row.status, row.months, row.monthly) == ("active", 3, offer.monthly)
