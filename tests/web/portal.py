"""What the portal's browser tests share: borrowers of their own for tests that change
records (one per test and size, so phone and desktop runs do not meet), amounts as the pages
write them, and the ledger's figures to compare with."""

from __future__ import annotations

import os
from typing import Any

from playwright.sync_api import Page
from sqlalchemy import func, select

from arrears.core.money import fmt
from arrears.services.verification_keys import code_secret, signing_key
from arrears.store import tables as t
from factories import succeeded
from web.site import Site, borrower_signs_in


def yuan(fen: int) -> str:
    """Fen as the pages write yuan: grouped by thousands, two decimals."""
    whole, cents = fmt(fen).split(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{cents}"


def single_loan_borrowers(site: Site, overdue: bool) -> list[tuple[str, str]]:
    """(borrower, loan) of every borrower with one loan, active, overdue or not, by id."""
    loans, s = t.loans, t.loan_state
    counts = (
        select(loans.c.borrower_id, func.count().label("n"))
        .group_by(loans.c.borrower_id)
        .subquery()
    )
    q = (
        select(loans.c.borrower_id, loans.c.loan_id)
        .join(s, s.c.loan_id == loans.c.loan_id)
        .join(counts, counts.c.borrower_id == loans.c.borrower_id)
        .where(counts.c.n == 1, s.c.status == "active")
        .where(s.c.dpd > 0 if overdue else s.c.dpd == 0)
        .order_by(loans.c.borrower_id)
    )
    with site.engine.connect() as db:
        return [(r.borrower_id, r.loan_id) for r in db.execute(q)]


# Each test that changes records takes its own slot; a slot has a borrower per size.
SLOTS = ("pay", "pay_bad", "plan", "plan_bad", "note", "note_bad", "complaint", "verify", "probe")


def own_borrower(site: Site, slot: str, size: str) -> tuple[str, str]:
    """A borrower (and their one loan, up to date) for this test at this size alone."""
    found = single_loan_borrowers(site, overdue=False)
    k = SLOTS.index(slot) * 2 + (size == "desktop")
    return found[k]


def notice(_: str) -> None:
    return None


def secrets_of_site() -> tuple[bytes, object]:
    """The site's code secret and signing key (the demo site keeps them in $ARREARS_KEY_DIR)."""
    env = dict(os.environ)
    return succeeded(code_secret(env, notice)), succeeded(signing_key(env, notice))


_cookies: dict[tuple[str, str], list[Any]] = {}


def signed_in(tab: Page, site: Site, borrower_id: str) -> None:
    """The borrower signed in on ``tab``: by phone and code the first time in this test process,
    then with that session's cookies again (a number gets at most 5 codes an hour)."""
    key = (site.url, borrower_id)
    if key not in _cookies:
        borrower_signs_in(tab, site, borrower_id)
        _cookies[key] = [c for c in tab.context.cookies() if c["name"] != "arrears_lang"]
        return
    tab.context.add_cookies(_cookies[key])
    tab.goto("/my")


def reader(site: Site) -> str:
    """An overdue borrower the reading tests share (they change nothing): not the demo's
    never-paying borrower, whom the home page's tests sign in already."""
    return next(
        b for b, _ in single_loan_borrowers(site, overdue=True) if b != site.run.never_borrower
    )
