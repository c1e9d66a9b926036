"""The borrower's portal in a real browser (Debian's chromium), at phone and desktop sizes:
what the pages show, checked against the ledger's own figures."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.core.money import fmt
from arrears.store import tables as t
from web.site import Site, borrower_signs_in, shot


def _yuan(fen: int) -> str:
    whole, cents = fmt(fen).split(".")
    return f"{int(whole):,}.{cents}"


def test_a_borrower_signs_in_with_a_code_and_sees_what_is_overdue(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = site.run.never_borrower, site.run.never_loan
    borrower_signs_in(tab, site, borrower)
    expect(tab).to_have_url(re.compile(r"/my$"))
    with site.engine.connect() as db:
        state = db.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan)).one()
    card = tab.get_by_role("region", name=f"借款 {loan}")
    expect(card.locator(".status")).to_have_text(f"已逾期 {state.dpd} 天")
    overdue = state.overdue_principal + state.overdue_interest + state.overdue_penalty
    expect(card.locator("[data-field=overdue_principal]")).to_have_text(
        f"{_yuan(state.overdue_principal)} 元"
    )
    expect(card.locator("[data-field=overdue_penalty]")).to_have_text(
        f"{_yuan(state.overdue_penalty)} 元"
    )
    expect(card.locator("[data-field=overdue]")).to_have_text(f"{_yuan(overdue)} 元")
    shot(tab, f"borrower-home-{size}")
    tab.get_by_role("link", name="English").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("What I owe")
    card = tab.get_by_role("region", name=f"Loan {loan}")
    expect(card.locator(".status")).to_have_text(f"{state.dpd} days overdue")


def test_a_wrong_code_is_refused_and_the_portal_stays_closed(tab: Page, site: Site) -> None:
    borrower = site.run.never_borrower
    tab.goto("/signin")
    tab.get_by_label("手机号").fill(site.phone_of(borrower))
    tab.get_by_role("button", name="发送验证码").click()
    right = site.last_code(borrower)
    tab.get_by_label("六位验证码").fill(f"{(int(right) + 1) % 10**6:06d}")
    tab.get_by_role("button", name="登录", exact=True).click()
    expect(tab.get_by_role("alert")).to_contain_text("验证码错误或已过期")
    tab.goto("/my")
    expect(tab).to_have_url(re.compile(r"/signin\?next=/my$"))
