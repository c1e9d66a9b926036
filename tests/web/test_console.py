"""The collection console in a real browser, at phone and desktop sizes: an agent works a call
and records a promise, opens their case and not another agent's; a supervisor approves a plan
and a visit; a field collector files a visit report. What the pages show is checked against
the records."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.services.collection.console import call_gate, home_zone
from arrears.services.collection.plans import list_plans, request_plan
from arrears.services.collection.promises import list_promises
from arrears.services.collection.queue import get_item
from arrears.services.collection.visits import get_visit, live_visits, request_visit
from arrears.services.pii_audit import list_reads
from arrears.services.restructuring import list_restructures
from arrears.store import tables as t
from arrears.store.profile_tables import borrower_profiles
from factories import succeeded
from web.site import OTHER_AGENT, STAFF, Site, shot, staff_signs_in

AGENT = STAFF["agent"]


def _which(size: str) -> int:
    """Tests that change records use a record of their own per size (one site per process)."""
    return 0 if size == "phone" else 1


def test_an_agent_takes_a_call_and_records_a_promise(tab: Page, site: Site, size: str) -> None:
    staff_signs_in(tab, AGENT)
    expect(tab).to_have_url(re.compile(r"/console$"))
    expect(tab.get_by_role("heading", level=1)).to_have_text("我的任务")
    tab.get_by_role("button", name="领取下一通").click()
    expect(tab).to_have_url(re.compile(r"/console/calls/\d+$"))
    item_id = int(tab.url.rsplit("/", 1)[1])
    # The queue lists the call the agent now holds.
    tab.goto("/console")
    expect(tab.locator(f"tr[data-item='{item_id}']")).to_be_visible()
    shot(tab, f"console-queue-{size}")
    tab.get_by_role("link", name=f"第 {item_id} 号通话").click()
    with site.engine.connect() as db:
        item = get_item(db, item_id)
        assert item is not None and item.claimed_by == AGENT and item.done_at is None
        name = db.execute(
            select(t.borrowers.c.name).where(t.borrowers.c.borrower_id == item.borrower_id)
        ).scalar_one()
        allowed = call_gate(db, item, datetime.now(UTC)).allowed
        before = len(list_promises(db, item.borrower_id))
    # The agent holding the call sees the number, and that they saw it is on the log.
    expect(tab.locator("[data-field=number]")).to_have_text(item.number)
    expect(tab.locator("[data-field=dpd]")).to_have_text(str(item.dpd))
    expect(tab.locator("[data-field=gate]")).to_contain_text(
        "现在可以拨打" if allowed else "现在不要拨打"
    )
    expect(tab.locator("section.script")).to_contain_text(name)
    with site.engine.connect() as db:
        routes = [r.route for r in list_reads(db, username=AGENT)]
    assert f"GET /console/calls/{item_id}" in routes

    # Bad input names the fields and records nothing.
    tab.get_by_label("通话结果").select_option("promise_to_pay")
    tab.get_by_label("承诺金额（元）").fill("abc")
    tab.get_by_label("承诺还款日期").fill("2020-01-01")
    tab.get_by_role("button", name="记录通话结果").click()
    alert = tab.get_by_role("alert")
    expect(alert).to_contain_text("承诺金额：请按元填写金额")
    expect(alert).to_contain_text("承诺日期：不能早于今天")
    expect(tab.get_by_label("承诺金额（元）")).to_have_attribute("aria-invalid", "true")
    with site.engine.connect() as db:
        assert len(list_promises(db, item.borrower_id)) == before
        still = get_item(db, item_id)
        assert still is not None and still.done_at is None

    due = datetime.now(UTC).date() + timedelta(days=3)
    tab.get_by_label("承诺金额（元）").fill("500.00")
    tab.get_by_label("承诺还款日期").fill(due.isoformat())
    tab.get_by_role("button", name="记录通话结果").click()
    expect(tab).to_have_url(re.compile(rf"/console\?done={item_id}$"))
    expect(tab.get_by_role("status")).to_contain_text(f"第 {item_id} 号通话已记录")
    with site.engine.connect() as db:
        done = get_item(db, item_id)
        promises = list_promises(db, item.borrower_id)
    assert done is not None and done.done_at is not None and done.outcome == "promise_to_pay"
    assert len(promises) == before + 1
    made = [p for p in promises if p["key"].startswith("promise/") and p["due_on"] == due]
    assert made and made[-1]["amount"] == 50000 and made[-1]["loan_id"] == item.loan_id


def test_an_agent_opens_their_own_case_and_not_another_agents(
    tab: Page, site: Site, size: str
) -> None:
    staff_signs_in(tab, AGENT)
    mine = site.desk.assigned[AGENT][0]
    tab.goto(f"/console/cases/{mine}")
    expect(tab.get_by_role("heading", level=1)).to_have_text(f"{mine} 的案件")
    with site.engine.connect() as db:
        loans = db.execute(
            select(t.loan_state.c.loan_id, t.loan_state.c.dpd)
            .join(t.loans, t.loans.c.loan_id == t.loan_state.c.loan_id)
            .where(t.loans.c.borrower_id == mine)
        ).all()
        schedule = db.execute(
            select(t.installments.c.n).where(t.installments.c.loan_id == loans[0].loan_id)
        ).all()
    card = tab.get_by_role("region", name=f"借款 {loans[0].loan_id}")
    expect(card.locator("[data-field=dpd]")).to_have_text(str(loans[0].dpd))
    expect(card.locator("table").first.locator("tbody tr")).to_have_count(len(schedule))
    for heading in ("联系记录", "还款承诺", "分期计划与债务重组", "投诉", "征信记录"):
        expect(tab.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    if size == "desktop":
        shot(tab, "console-case-desktop")

    other = site.desk.assigned[OTHER_AGENT][0]
    answer = tab.goto(f"/console/cases/{other}")
    assert answer is not None and answer.status == 404
    expect(tab.get_by_role("heading", level=1)).to_have_text("找不到这个页面")
    tab.goto(f"/console/search?q={other}")
    expect(tab.get_by_role("status")).to_contain_text("没有找到")
    tab.goto(f"/console/search?q={mine}")
    expect(tab.get_by_role("link", name=mine, exact=True)).to_be_visible()


def test_a_supervisor_approves_a_plan_and_a_visit(tab: Page, site: Site, size: str) -> None:
    now = datetime.now(UTC)
    with site.engine.begin() as db:
        # A borrower has one visit at a time: the demo's close asked for some already.
        ids = site.desk.assigned[OTHER_AGENT]
        borrower = [b for b in ids if b not in live_visits(db, ids)][_which(size)]
        loan = db.execute(
            select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower).limit(1)
        ).scalar_one()
        plan = succeeded(
            request_plan(
                db,
                key=f"test/plan/{size}",
                borrower_id=borrower,
                loan_id=loan,
                at=now,
                reason="dispute",  # a dispute goes to a person, whatever the terms
                months=6,
            )
        )
        assert plan.status == "pending"
        visit = succeeded(request_visit(db, f"test/visit/{size}", loan, AGENT, now, "no answer"))
    staff_signs_in(tab, STAFF["supervisor"])
    tab.goto("/console/approvals")
    card = tab.get_by_role("region", name=re.compile(rf"上门 {visit.visit_id}\b"))
    card.get_by_role("button", name="批准上门").click()
    expect(tab).to_have_url(re.compile(rf"/console/visits/{visit.visit_id}$"))
    expect(tab.locator("[data-field=status]")).to_have_text("已批准")
    with site.engine.connect() as db:
        approved = get_visit(db, visit.visit_id)
    assert approved is not None and approved.status == "approved"
    assert approved.approved_by == STAFF["supervisor"]

    # Then two collectors and a window tomorrow morning, the borrower's time.
    with site.engine.connect() as db:
        zone = home_zone(db, borrower)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).astimezone(zone).date()
    tab.get_by_label("第一名外访人员（编号）").fill("C001")
    tab.get_by_label("第二名外访人员（编号）").fill("C001")
    tab.get_by_label("时段开始（借款人当地时间）").fill(f"{tomorrow}T10:00")
    tab.get_by_label("时段结束", exact=True).fill(f"{tomorrow}T12:00")
    tab.get_by_role("button", name="指派", exact=True).click()
    expect(tab.get_by_role("alert")).to_contain_text("第二名外访人员：上门必须有两名不同的外访人员")
    with site.engine.connect() as db:
        unchanged = get_visit(db, visit.visit_id)
    assert unchanged is not None and unchanged.status == "approved"
    tab.get_by_label("第二名外访人员（编号）").fill("C002")
    tab.get_by_role("button", name="指派", exact=True).click()
    expect(tab.locator("[data-field=status]")).to_have_text("已派单")
    expect(tab.locator("[data-field=collectors]")).to_have_text("C001, C002")
    with site.engine.connect() as db:
        assigned = get_visit(db, visit.visit_id)
    assert assigned is not None and assigned.status == "assigned"
    assert assigned.collectors == ("C001", "C002") and assigned.window_start is not None
    start = assigned.window_start.astimezone(zone)
    assert (start.date(), start.hour, start.minute) == (tomorrow, 10, 0)

    # The plan, after the visit is assigned (a plan in force pauses visits, as the gate says).
    tab.goto("/console/approvals")
    card = tab.get_by_role("region", name=f"{borrower} 的分期计划 {plan.plan_id}")
    card.get_by_role("button", name="批准", exact=True).click()
    expect(tab.get_by_role("status")).to_have_text("已记录审批结果。")
    with site.engine.connect() as db:
        [decided] = [p for p in list_plans(db, borrower_id=borrower) if p.plan_id == plan.plan_id]
    assert decided.status == "active" and decided.decided_by == STAFF["supervisor"]


def test_a_field_collector_files_a_visit_report_on_their_phone(
    tab: Page, site: Site, size: str
) -> None:
    visit_id = site.visits[_which(size)]
    staff_signs_in(tab, STAFF["field_collector"])
    expect(tab).to_have_url(re.compile(r"/console/visits$"))
    tab.get_by_role("link", name=f"上门 {visit_id}", exact=True).click()
    with site.engine.connect() as db:
        v = get_visit(db, visit_id)
        assert v is not None and v.status == "noticed"
        address = db.execute(
            select(borrower_profiles.c.address).where(
                borrower_profiles.c.borrower_id == v.borrower_id
            )
        ).scalar_one()
    expect(tab.locator("[data-field=address]")).to_have_text(address)
    expect(tab.locator("[data-field=collectors]")).to_have_text("C001, C002")
    if size == "phone":
        shot(tab, "console-visit-report-phone")
    tab.get_by_label("上门结果").select_option("met")
    tab.get_by_role("button", name="提交报告").click()
    expect(tab.get_by_role("alert")).to_contain_text("报告：请写明上门的经过")
    with site.engine.connect() as db:
        unchanged = get_visit(db, visit_id)
    assert unchanged is not None and unchanged.status == "noticed"
    tab.get_by_label("经过").fill("见到本人，出示了工作证，约定下周还款。")
    tab.get_by_role("button", name="提交报告").click()
    expect(tab.locator("[data-field=status]")).to_have_text("已提交报告")
    with site.engine.connect() as db:
        reported = get_visit(db, visit_id)
        reads = list_reads(db, username=STAFF["field_collector"])
    assert reported is not None and reported.status == "reported"
    assert reported.outcome == "met" and reported.report == "见到本人，出示了工作证，约定下周还款。"
    assert f"GET /console/visits/{visit_id}" in [r.route for r in reads]


def test_a_supervisor_restructures_a_loan_and_bad_months_change_nothing(
    tab: Page, site: Site, size: str
) -> None:
    borrower = site.desk.assigned[AGENT][_which(size)]
    with site.engine.connect() as db:
        loan = db.execute(
            select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower).limit(1)
        ).scalar_one()
    staff_signs_in(tab, STAFF["supervisor"])
    tab.goto(f"/console/cases/{borrower}")
    card = tab.get_by_role("region", name=f"借款 {loan}")
    card.get_by_text("重组这笔借款").click()
    card.get_by_label("期数").fill("abc")
    card.get_by_role("button", name="重组", exact=True).click()
    card = tab.get_by_role("region", name=f"借款 {loan}")
    expect(card.get_by_role("alert")).to_contain_text("期数：1 到 60 之间的整数")
    with site.engine.connect() as db:
        assert list_restructures(db, loan) == []
    card.get_by_label("期数").fill("24")
    card.get_by_label("原因", exact=True).select_option("illness")
    card.get_by_role("button", name="重组", exact=True).click()
    expect(tab.get_by_role("status")).to_have_text("借款已重组。")
    with site.engine.connect() as db:
        [done] = list_restructures(db, loan)
    assert (done.months, done.reason, done.approved_by) == (24, "illness", STAFF["supervisor"])
    expect(tab.get_by_text(f"{done.on_date} 重组：共 24 期，审批人 supervisor。")).to_be_visible()
