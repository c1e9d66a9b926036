"""The staff console on a borrower whose personal data was erased: "erased on <date>" in place
of the name and the number, on the case page and in the search."""

from __future__ import annotations

from datetime import UTC, date, datetime

from playwright.sync_api import Page, expect
from sqlalchemy import insert, select

from arrears.services import erasure
from arrears.services import evidence as log
from arrears.store import tables as t
from factories import succeeded
from web.site import STAFF, Site, staff_signs_in

ERASED = "ZZ-ERASED"  # sorts after the scenario's borrowers; no other test reads it
NAME, PHONE = "甄可删", "13700001234"


def _erased_borrower(site: Site) -> None:
    with site.engine.begin() as conn:
        if conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == ERASED)).first():
            return  # the other page size made them already
        conn.execute(insert(t.borrowers).values(borrower_id=ERASED, name=NAME, phone=PHONE))
        # Their one activity, long ago: retention has run by 2040.
        log.append(conn, ERASED, "case.closed", {"closed_on": "2020-01-01", "reason": "cured"},
                   datetime(2020, 1, 1, tzinfo=UTC))  # fmt: skip
        succeeded(erasure.erase_borrower(conn, ERASED, date(2040, 6, 1)))


def test_the_console_says_erased_on_instead_of_the_personal_data(
    tab: Page, site: Site, size: str
) -> None:
    _erased_borrower(site)
    staff_signs_in(tab, STAFF["supervisor"])
    tab.goto(f"/console/cases/{ERASED}")
    expect(tab.locator("[data-field=erased]")).to_have_text("个人信息已于 2040-06-01 删除")
    expect(tab.locator("main")).not_to_contain_text(NAME)
    expect(tab.locator("main")).not_to_contain_text(PHONE[-4:])
    tab.goto(f"/console/search?q={ERASED}")
    expect(tab.locator("[data-field=erased]")).to_have_text("个人信息已于 2040-06-01 删除")
    # The old number's last digits find no one now.
    tab.goto(f"/console/search?q={PHONE[-4:]}")
    expect(tab.get_by_role("link", name=ERASED, exact=True)).to_have_count(0)
