"""What the portal's browser tests share: borrowers of their own for tests that change
records (one per test and size, so phone and desktop runs do not meet), amounts as the pages
write them, and the ledger's figures to compare with."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page

from arrears.adapters.payments import DemoPayments, PaymentStart
from arrears.api.deps import business_date
from arrears.core.money import fmt
from arrears.services import events
from arrears.services.collection.plans import request_plan
from arrears.services.verification_keys import signing_key
from factories import succeeded
from web.site import Site, one_loan_borrowers


def yuan(fen: int) -> str:
    """Fen as the pages write yuan: grouped by thousands, two decimals."""
    whole, cents = fmt(fen).split(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}.{cents}"


def single_loan_borrowers(site: Site, overdue: bool) -> list[tuple[str, str]]:
    """(borrower, loan) of every borrower with one loan, active, overdue or not, by id."""
    with site.engine.connect() as db:
        return one_loan_borrowers(db, overdue)


# Each test that changes records takes its own slot; a slot has a borrower per size.
SLOTS = (
    "pay", "pay_bad", "plan", "plan_bad", "note", "note_bad", "complaint", "verify", "probe",
    "offer", "contact",
)  # fmt: skip


def own_borrower(site: Site, slot: str, size: str) -> tuple[str, str]:
    """A borrower (and their one loan, up to date) for this test at this size alone."""
    found = single_loan_borrowers(site, overdue=False)
    k = SLOTS.index(slot) * 2 + (size == "desktop")
    return found[k]


def signing_key_of_site() -> Ed25519PrivateKey:
    """The site's credential and evidence signing key (the demo site keeps it in
    $ARREARS_KEY_DIR)."""
    return succeeded(signing_key(dict(os.environ), lambda _: None))


# Pages with a path parameter, for test_every_page: a record of the demo's never-paying
# borrower that changes the least. A payment of one fen (by the demo channel, so its page
# exists) and a plan the policy refers to a supervisor (a dispute), which pauses nothing.
EVERY_PAGE_ATTEMPT = "every-page"


def a_payment_page(site: Site) -> str:
    borrower, loan = site.run.never_borrower, site.run.never_loan
    with site.engine.begin() as db:
        day = business_date(db, [loan])
        assert day is not None
        adapter = DemoPayments(events.pay_in)
        done = adapter.start(db, PaymentStart(EVERY_PAGE_ATTEMPT, borrower, loan, 1, day))
        assert done.status == "succeeded", done.problems
    return f"/my/pay/{EVERY_PAGE_ATTEMPT}"


def a_plan_page(site: Site) -> str:
    borrower, loan = site.run.never_borrower, site.run.never_loan
    with site.engine.begin() as db:
        plan = succeeded(
            request_plan(
                db,
                key="test:every-page",
                borrower_id=borrower,
                loan_id=loan,
                at=datetime.now(UTC),
                reason="dispute",
                months=6,
            )
        )
    assert plan.status == "pending", plan.status
    return f"/my/plan/{plan.plan_id}"


def signed_in(tab: Page, site: Site, borrower_id: str) -> None:
    """The borrower signed in on ``tab`` without the sign-in pages (a number gets at most 5
    codes an hour; the sign-in pages have tests of their own)."""
    site.session_cookies(tab.context, "borrower", borrower_id)
    tab.goto("/my")


def reader(site: Site) -> str:
    """An overdue borrower the reading tests share (they change nothing): set aside when the
    site was built, so no other test's desk, plan or restructuring reaches them."""
    return site.reader
