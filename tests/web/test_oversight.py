"""The dashboards and the compliance view in a real browser: the dashboard's figures against
``services.dashboards``, the blocked contacts against their evidence records, and a
compliance officer who is shown no form that changes anything and whose forged POST is
refused."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.services.collection.complaints import complaint_counts
from arrears.services.collection.queue import list_queue
from arrears.services.collection.visits import get_visit
from arrears.services.dashboards import dashboard, dashboard_data
from arrears.store.evidence_tables import evidence_records
from web.site import STAFF, Site, shot, staff_signs_in


def test_the_dashboards_show_charts_and_the_same_figures_in_tables(
    tab: Page, site: Site, size: str
) -> None:
    staff_signs_in(tab, STAFF["supervisor"])
    tab.goto("/dashboards")
    with site.engine.connect() as db:
        d = dashboard_data(dashboard(db))
        counts = complaint_counts(db)
    expect(tab.get_by_role("heading", level=1)).to_have_text("数据看板")
    expect(tab.locator("main figure svg")).to_have_count(7)
    for bucket, series in d["loans_by_bucket"].items():
        row = tab.locator(f"[data-table=buckets] tr[data-bucket='{bucket}']")
        expect(row.locator("[data-field=last]")).to_have_text(str(series[-1]))
        expect(row.locator("[data-field=overdue]")).to_have_text(d["overdue_by_bucket"][bucket][-1])
    for roll, rates in d["roll_rates"].items():
        expect(tab.locator(f"[data-table=rolls] tr[data-roll='{roll}'] td")).to_have_text(rates[-1])
    for rule, n in d["blocked_by_rule"].items():
        expect(tab.locator(f"[data-table=blocked] tr[data-rule='{rule}'] td")).to_have_text(str(n))
    assert d["blocked_by_rule"], "the site's last close blocked contacts"
    for policy, series in d["contacts_by_policy"].items():
        row = tab.locator(f"[data-table=policy] tr[data-policy='{policy}']")
        expect(row.locator("[data-field=total]")).to_have_text(str(sum(series)))
    for day, rate in zip(d["dates"], d["promise_kept_rate"], strict=True):
        if rate is not None:
            expect(tab.locator(f"[data-table=kept] tr[data-day='{day}'] td")).to_have_text(rate)
    expect(tab.locator("[data-table=complaints-collector] tbody tr")).to_have_count(
        max(1, len(counts.by_collector))
    )
    if size == "desktop":
        shot(tab, "console-dashboards-desktop")


def _blocked(site: Site) -> list[tuple[str, int, dict[str, object]]]:
    e = evidence_records.c
    with site.engine.connect() as db:
        rows = db.execute(
            select(e.borrower_id, e.seq, e.payload).where(e.kind == "contact.blocked")
        ).all()
    return [(b, seq, json.loads(p)) for b, seq, p in rows]


def test_compliance_finds_a_blocked_contact_with_its_rule(tab: Page, site: Site, size: str) -> None:
    blocked = _blocked(site)
    assert blocked, "the site's last close blocked contacts"
    staff_signs_in(tab, STAFF["compliance"])
    expect(tab).to_have_url(re.compile(r"/compliance$"))
    for borrower, seq, payload in blocked:
        row = tab.locator(f"[data-table=blocked] tr[data-evidence='{borrower}/{seq}']")
        rules = payload["rules"]
        assert isinstance(rules, list) and rules
        expect(row.locator("[data-field=rules] code").first).to_have_text(str(rules[0]))
        expect(row).to_contain_text(str(payload["loan_id"]))
    expect(tab.get_by_role("heading", name="员工查看个人信息记录")).to_be_visible()
    if size == "desktop":
        shot(tab, "console-compliance-desktop")


def test_compliance_is_shown_no_form_that_changes_things_and_a_forged_post_is_refused(
    tab: Page, site: Site
) -> None:
    staff_signs_in(tab, STAFF["compliance"])
    borrower = site.desk.assigned[STAFF["agent"]][0]
    visit_id = site.visits[0]
    for path in (
        "/compliance",
        "/dashboards",
        "/console",
        "/console/approvals",
        "/console/visits",
        f"/console/visits/{visit_id}",
        f"/console/cases/{borrower}",
        f"/console/search?q={borrower}",
    ):
        answer = tab.goto(path)
        assert answer is not None and answer.status == 200, path
        # The only form that posts is signing out, in the frame's header.
        expect(tab.locator("main form[method=post]")).to_have_count(0)
    csrf = tab.locator("header input[name=csrf]").get_attribute("value")
    assert csrf
    with site.engine.connect() as db:
        before = get_visit(db, visit_id)
    for path, form in (
        ("/console/next", {"csrf": csrf}),
        (f"/console/visits/{visit_id}/report", {"csrf": csrf, "outcome": "met", "report": "x"}),
        (f"/console/visits/{visit_id}/approve", {"csrf": csrf}),
        ("/console/plans/1/decision", {"csrf": csrf, "decision": "approve"}),
    ):
        answer = tab.request.post(path, form=form)
        assert answer.status == 403, path
    with site.engine.connect() as db:
        assert get_visit(db, visit_id) == before
        assert not list_queue(db, agent=STAFF["compliance"], include_done=True)
