"""Paying on the portal, in a real browser: the demo channel applies the payment through the
ledger once, even when the form is sent twice; bad input changes nothing and names the field;
another borrower's loan is not found."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from arrears.store import tables as t
from web.portal import own_borrower, yuan
from web.site import Site, borrower_signs_in, shot


def _payments(site: Site, borrower: str) -> list[tuple[str, int]]:
    e = t.loan_events
    with site.engine.connect() as db:
        rows = db.execute(
            select(e.c.ref, e.c.amount).where(e.c.ref.like(f"demo:{borrower}:%")).order_by(e.c.ref)
        ).all()
    return [(r.ref, int(r.amount)) for r in rows]


def _state(site: Site, loan: str) -> object:
    with site.engine.connect() as db:
        return db.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan)).one()


def test_a_borrower_pays_once_even_when_the_form_is_sent_twice(
    tab: Page, site: Site, size: str
) -> None:
    borrower, loan = own_borrower(site, "pay", size)
    before = _state(site, loan)
    borrower_signs_in(tab, site, borrower)
    tab.goto(f"/my/pay?loan={loan}")
    expect(tab.get_by_role("note")).to_contain_text("演示还款渠道")
    if size == "phone":
        shot(tab, "borrower-pay-phone")
    tab.get_by_label(re.compile("^还款金额")).fill("123.45")
    form = {
        name: tab.locator(f"form[action='/my/pay'] input[name={name}]").get_attribute("value") or ""
        for name in ("csrf", "attempt")
    }
    tab.get_by_role("button", name="确认还款").dblclick()
    expect(tab).to_have_url(re.compile(rf"/my/pay/{re.escape(form['attempt'])}$"))
    expect(tab.get_by_role("status")).to_contain_text(f"123.45 元 已还入借款 {loan}")
    # The same form once more, as a browser resending it would: it pays nothing more.
    again = tab.request.post(
        "/my/pay", form={**form, "loan": loan, "amount": "123.45"}, max_redirects=0
    )
    assert again.status == 303, again.status
    paid = _payments(site, borrower)
    assert paid == [(f"demo:{borrower}:{form['attempt']}", 12345)], paid
    after = _state(site, loan)
    outstanding = lambda s: (  # noqa: E731
        s.outstanding_principal + s.outstanding_interest + s.outstanding_penalty
    )
    assert outstanding(after) < outstanding(before)
    expect(tab.locator("[data-field=outstanding]")).to_have_text(f"{yuan(outstanding(after))} 元")
    expect(tab.locator("[data-field=ref]")).to_have_text(f"demo:{borrower}:{form['attempt']}")
    if size == "phone":
        shot(tab, "borrower-paid-phone")


def test_an_amount_that_is_not_money_is_refused_and_nothing_is_paid(
    tab: Page, site: Site, size: str
) -> None:
    borrower, _ = own_borrower(site, "pay_bad", size)
    borrower_signs_in(tab, site, borrower)
    tab.goto("/my/pay")
    for typed in ("abc", "-5", "1.234"):
        tab.get_by_label(re.compile("^还款金额")).fill(typed)
        tab.get_by_role("button", name="确认还款").click()
        alert = tab.get_by_role("alert")
        expect(alert).to_contain_text("没有做任何更改")
        expect(alert.locator("li[data-field=amount]")).to_contain_text("还款金额")
        expect(tab.get_by_label(re.compile("^还款金额"))).to_have_attribute("aria-invalid", "true")
    assert _payments(site, borrower) == []
    tab.get_by_role("link", name="English").click()
    tab.get_by_label(re.compile("^Amount to pay")).fill("abc")
    tab.get_by_role("button", name="Pay this amount").click()
    expect(tab.get_by_role("alert")).to_contain_text(
        "Amount to pay: this is not an amount of money"
    )
    assert _payments(site, borrower) == []


def test_another_borrowers_loan_is_not_found(tab: Page, site: Site, size: str) -> None:
    borrower, _ = own_borrower(site, "probe", size)
    other = site.run.never_loan
    borrower_signs_in(tab, site, borrower)
    for path in (f"/my/pay?loan={other}", f"/my/plan?loan={other}", "/my/pay/not-my-attempt"):
        answer = tab.goto(path)
        assert answer is not None and answer.status == 404, path
        expect(tab.get_by_role("heading", level=1)).to_have_text("找不到这个页面")
    tab.goto("/my/pay")
    csrf = tab.locator("input[name=csrf]").first.get_attribute("value") or ""
    posted = tab.request.post(
        "/my/pay", form={"csrf": csrf, "attempt": "probe1", "loan": other, "amount": "1.00"}
    )
    assert posted.status == 404
    assert _payments(site, borrower) == []
    with site.engine.connect() as db:
        e = t.loan_events
        assert db.execute(select(e.c.ref).where(e.c.ref.like("demo:%:probe1"))).first() is None
