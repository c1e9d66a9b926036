"""Checking a collector, my contact record and complaints, in a real browser: a real code and
credential verify with the collector's name, fake ones do not; the exported pack is signed and
``check_pack`` accepts it; a note and a complaint land in the borrower's chain."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.core.evidence.pack import check_pack
from arrears.services import evidence as log
from arrears.services.collection.complaints import list_complaints
from arrears.services.collection.verification import issue_code
from arrears.services.collection.verification_credentials import issue_credential
from arrears.services.own_records import add_note, own_records
from arrears.services.settings import default_settings
from arrears.store.case_tables import borrower_contacts, collectors
from arrears.store.profile_tables import borrower_profiles
from arrears.web.portal import borrower_zone as borrower_zone_of
from factories import succeeded
from web.portal import own_borrower, signed_in, signing_key_of_site
from web.site import Site, borrower_signs_in, shot


def _collector(site: Site) -> Any:
    with site.engine.connect() as db:
        return db.execute(
            select(collectors).where(collectors.c.status == "active").order_by("collector_id")
        ).first()


def test_a_real_collector_code_and_credential_verify_and_fake_ones_do_not(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = own_borrower(site, "verify", size)
    secret, key = site.secret, signing_key_of_site()
    collector = _collector(site)
    now = datetime.now(UTC)
    with site.engine.begin() as db:
        code = succeeded(issue_code(db, collector.collector_id, loan, now, secret, os.urandom))
        credential = succeeded(issue_credential(db, collector.collector_id, now, key))
    borrower_signs_in(tab, site, borrower)
    tab.goto("/my/verify")
    if size == "phone":
        shot(tab, "borrower-verify-phone")
    tab.get_by_label("催收人员给您的核验码").fill(code.code)
    tab.get_by_role("button", name="核实核验码").click()
    verdict = tab.locator("section.verdict")
    expect(verdict).to_have_attribute("data-verified", "true")
    expect(verdict.get_by_role("heading")).to_contain_text("已核实")
    expect(verdict.locator("[data-field=name]")).to_have_text(collector.name)
    # A code is used once; a made-up one is not ours either way.
    for fake in (code.code, "7KQ2M-XD94R"):
        tab.get_by_label("催收人员给您的核验码").fill(fake)
        tab.get_by_role("button", name="核实核验码").click()
        expect(verdict).to_have_attribute("data-verified", "false")
        expect(verdict.get_by_role("heading")).to_contain_text("未能核实")
        expect(verdict.locator("li").first).to_be_visible()
    with site.engine.connect() as db:
        kinds = [r.kind for r in log.load_chain(db, borrower)]
    assert kinds.count("collector.verified") == 1
    tab.get_by_label("催收人员的电子工作证").fill(credential.text)
    tab.get_by_role("button", name="核实电子工作证").click()
    expect(verdict).to_have_attribute("data-verified", "true")
    expect(verdict.locator("[data-field=name]")).to_have_text(collector.name)
    forged = credential.text[:-6] + (
        "AAAAAA" if not credential.text.endswith("AAAAAA") else "BBBBBB"
    )
    tab.get_by_label("催收人员的电子工作证").fill(forged)
    tab.get_by_role("button", name="核实电子工作证").click()
    expect(verdict).to_have_attribute("data-verified", "false")


def test_my_contact_record_verifies_exports_a_signed_pack_and_takes_my_note(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "note", size)
    borrower_signs_in(tab, site, borrower)
    tab.goto("/my/records")
    with site.engine.connect() as db:
        before = len(log.load_chain(db, borrower))
    expect(tab.locator("[data-chain=intact]")).to_be_visible()
    expect(tab.locator(".chain")).to_contain_text(f"全部 {before} 条记录完整")
    expect(tab.locator("tr[data-seq]")).to_have_count(before)
    # My own note of a call an hour ago, in my own time zone.
    when = (datetime.now(UTC) - timedelta(hours=1)).astimezone()
    with site.engine.connect() as db:
        zone_name = db.execute(
            select(borrower_profiles.c.timezones).where(borrower_profiles.c.borrower_id == borrower)
        ).scalar()
    local = when.astimezone(ZoneInfo((zone_name or "Asia/Shanghai").split(",")[0]))
    tab.get_by_label("发生时间", exact=False).fill(local.strftime("%Y-%m-%dT%H:%M"))
    tab.get_by_label("对方联系您的方式").select_option("call")
    tab.get_by_label("对方姓名（如果对方说了）").fill("王先生")
    tab.get_by_label("对方说了什么、做了什么").fill("说下周要上门，让我马上还清。")
    tab.get_by_role("button", name="添加记录").click()
    [note] = [r for r in _own(site, borrower)]
    expect(tab.get_by_role("status").filter(has_text="已添加")).to_contain_text(f"编号 {note.seq}")
    row = tab.locator(f"tr[data-seq='{note.seq}']")
    expect(row).to_contain_text("王先生")
    expect(row).to_contain_text("说下周要上门")
    assert note.happened_at is not None
    assert abs((note.happened_at - when).total_seconds()) < 60
    expect(tab.locator(".chain")).to_contain_text(f"全部 {before + 1} 条记录完整")
    if size == "phone":
        shot(tab, "borrower-records-phone")
    # The signed export: a file check_pack accepts, holding every record and my note.
    with tab.expect_download() as downloading:
        tab.get_by_role("link", name="下载带签名的文件").click()
    path = downloading.value.path()
    text = path.read_text(encoding="utf-8")
    check = check_pack(text)
    assert check.intact, check.problems
    assert (check.borrower_id, check.records) == (borrower, before + 1)
    data = json.loads(text)
    assert [r["text"] for r in data["own_records"]] == ["说下周要上门，让我马上还清。"]
    page = tab.context.new_page()
    page.goto("/my/records/evidence.html")
    expect(page.locator("body")).to_contain_text(borrower)
    page.close()


def _own(site: Site, borrower: str) -> list[Any]:
    with site.engine.connect() as db:
        return list(own_records(db, borrower))


def test_a_note_from_the_future_is_refused_and_recorded_nowhere(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "note_bad", size)
    borrower_signs_in(tab, site, borrower)
    tab.goto("/my/records")
    before = len(_own(site, borrower))
    later = datetime.now(UTC) + timedelta(days=2)
    tab.get_by_label("发生时间", exact=False).fill(later.strftime("%Y-%m-%dT%H:%M"))
    tab.get_by_label("对方说了什么、做了什么").fill("未来的电话")
    tab.get_by_role("button", name="添加记录").click()
    expect(tab.get_by_role("alert").locator("li[data-field=happened_at]")).to_have_text(
        "发生时间：请填写日期和时间，不能晚于现在。"
    )
    assert len(_own(site, borrower)) == before


def test_a_borrower_files_a_complaint_and_sees_by_when_we_must_answer(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = own_borrower(site, "complaint", size)
    borrower_signs_in(tab, site, borrower)
    tab.goto("/my/complaints")
    tab.get_by_label("投诉内容涉及").select_option("contact")
    tab.get_by_label("借款").select_option(loan)
    tab.get_by_label("联系记录中的记录编号", exact=False).fill("abc")
    tab.get_by_label("您的投诉").fill("晚上十一点还给我打电话。")
    tab.get_by_role("button", name="提交投诉").click()
    expect(tab.get_by_role("alert").locator("li[data-field=evidence]")).to_contain_text(
        "联系记录中的记录编号"
    )
    with site.engine.begin() as db:
        assert list_complaints(db, borrower_id=borrower) == []
        chain = log.load_chain(db, borrower)
        if not chain:  # a borrower never contacted: their own note is the record to name
            now = datetime.now(UTC)
            key = f"test:{borrower}"
            succeeded(add_note(db, key=key, borrower_id=borrower, at=now, happened_at=now,
                               channel="call", caller_name="", said="a call"))  # fmt: skip
            chain = log.load_chain(db, borrower)
        first = chain[0].seq
    tab.get_by_label("联系记录中的记录编号", exact=False).fill(str(first))
    tab.get_by_role("button", name="提交投诉").click()
    with site.engine.connect() as db:
        [complaint] = list_complaints(db, borrower_id=borrower)
    assert complaint.evidence == (first,) and complaint.loan_id == loan
    expect(tab.get_by_role("status")).to_contain_text(f"编号 {complaint.complaint_id}")
    row = tab.locator(f"tr[data-complaint='{complaint.complaint_id}']")
    expect(row.locator("[data-field=due_on]")).to_have_text(str(complaint.due_on))
    expect(row).to_contain_text("处理中")
    if size == "phone":
        shot(tab, "borrower-complaints-phone")


def test_a_number_that_called_is_checked_against_the_lenders_own(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "verify", size)
    official = default_settings().lender.official_channels.phones[0]
    signed_in(tab, site, borrower)
    tab.goto("/my/verify")
    verdict = tab.locator("section.verdict")
    tab.get_by_label("给您打电话的号码").fill(official)
    tab.get_by_role("button", name="核实", exact=True).click()
    expect(verdict).to_have_attribute("data-official", "true")
    tab.get_by_label("给您打电话的号码").fill("138 0013 8000")
    tab.get_by_role("button", name="核实", exact=True).click()
    expect(verdict).to_have_attribute("data-official", "false")
    expect(verdict.locator("li").first).to_have_text("这不是我们的官方电话号码或还款账户。")
    tab.get_by_label("给您打电话的号码").fill("138 0013 8000")
    tab.get_by_label("对方要求您还款的账户").fill("6222 0000 1111")
    tab.get_by_role("button", name="核实", exact=True).click()
    expect(tab.get_by_role("alert").locator("li[data-field=phone]")).to_contain_text(
        "请只填写电话号码或账户中的一项"
    )


def test_the_advice_on_a_failed_check_is_in_the_pages_language(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "verify", size)
    signed_in(tab, site, borrower)
    tab.goto("/language/en?next=/my/verify")
    tab.get_by_label("The collector's code").fill("7KQ2M-XD94R")
    tab.get_by_role("button", name="Check the code").click()
    verdict = tab.locator("section.verdict")
    expect(verdict).to_have_attribute("data-verified", "false")
    expect(verdict.locator("li").first).to_have_text(
        "We cannot confirm that this person works for us or for a collection agency we use."
    )
    tab.get_by_label("The phone number that called you").fill("138 0013 8000")
    tab.get_by_role("button", name="Check it").click()
    expect(verdict.locator("li").first).to_have_text(
        "This is not one of our official phone numbers or repayment accounts."
    )


def test_a_borrower_asks_for_a_call_back_at_a_time_they_choose(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "contact", size)
    signed_in(tab, site, borrower)
    tab.goto("/my/contact")
    with site.engine.connect() as db:
        zone = borrower_zone_of(db, borrower)
    past = (datetime.now(UTC) - timedelta(hours=2)).astimezone(zone)
    tab.get_by_label("希望回电的时间", exact=False).fill(past.strftime("%Y-%m-%dT%H:%M"))
    tab.get_by_role("button", name="发送", exact=True).click()
    expect(tab.get_by_role("alert").locator("li[data-field=callback_at]")).to_contain_text(
        "希望回电的时间"
    )
    assert _contacts(site, borrower) == []
    # Tomorrow at 10:00 where the borrower lives: inside the hours a lender may call, whenever
    # the test runs (three hours on was outside them in the evening).
    tomorrow = (datetime.now(UTC).astimezone(zone) + timedelta(days=1)).date()
    later = datetime.combine(tomorrow, time(10, 0), zone)
    tab.get_by_label("希望回电的时间", exact=False).fill(later.strftime("%Y-%m-%dT%H:%M"))
    tab.get_by_label("您的留言").fill("我这周失业了，想谈谈分期。")
    tab.get_by_role("button", name="发送", exact=True).click()
    expect(tab.locator("[data-sent=callback]")).to_contain_text(later.strftime("%Y-%m-%d %H:%M"))
    [row] = _contacts(site, borrower)
    assert row.kind == "callback"
    assert row.callback_at.replace(tzinfo=UTC) == later.astimezone(UTC)


def _contacts(site: Site, borrower: str) -> list[Any]:
    with site.engine.connect() as db:
        q = select(borrower_contacts).where(borrower_contacts.c.borrower_id == borrower)
        return list(db.execute(q).all())
