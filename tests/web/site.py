"""A demo site for the browser tests: a small seeded portfolio run through a few days of
collection (the demo's own service), staff of every role, and the app served by uvicorn on a
loopback port. Built once per test process; tests that change records use borrowers of their
own choosing, so their order does not matter."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import BrowserContext, Page
from sqlalchemy import Connection, Engine, func, select

from api.serving import serving
from arrears.api.app import default_config
from arrears.api.deps import CSRF_COOKIE, SESSION_COOKIE
from arrears.core.compliance.model import Contact
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.collection.history import Attempt, record_attempts
from arrears.services.collection.visits import (
    approve_visit,
    assign_visit,
    live_visits,
    record_visit_notice,
    request_visit,
)
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.signin import csrf_token, new_session
from arrears.services.simulation.behaviour_file import bundled_behaviour
from arrears.services.simulation.demo import DemoRun, run_demo
from arrears.services.simulation.desk import Desk, staff_the_desk
from arrears.services.staff import add_user
from arrears.store import tables as t
from arrears.store.api_tables import staff_users
from arrears.store.outbox_tables import outbox
from arrears.web.site import create_site
from factories import succeeded

PASSWORD = "a long enough password"
STAFF = {
    "supervisor": "supervisor",
    "compliance": "compliance",
    "admin": "admin",
    "field_collector": "C001",  # a collector of the scenario's (visits name collectors by id)
    "agent": "agent-1",  # the simulation's agent (services.simulation.desk.AGENTS)
}
OTHER_AGENT = "agent-2"  # an agent with cases of their own, for what agent-1 may not see
PHONE_SIZE = {"width": 390, "height": 844}
DESKTOP_SIZE = {"width": 1366, "height": 900}
SIZES = {"phone": PHONE_SIZE, "desktop": DESKTOP_SIZE}


@dataclass(frozen=True)
class Site:
    url: str
    engine: Engine
    run: DemoRun
    secret: bytes
    desk: Desk
    visits: tuple[int, ...]  # visits C001 and C002 are to report, noticed, one per borrower
    reader: str  # an overdue borrower kept off the desk, for the tests that only read

    def session_cookies(self, context: BrowserContext, kind: str, subject: str) -> None:
        """Signed in as ``subject`` (a borrower id, or a staff username) without the sign-in
        pages: the tests of other pages would otherwise spend the five codes an hour a
        borrower may ask for. The sign-in pages have tests of their own."""
        role = "borrower"
        with self.engine.begin() as db:
            if kind == "staff":
                q = select(staff_users.c.role).where(staff_users.c.username == subject)
                role = str(db.execute(q).scalar_one())
            session = new_session(db, kind, subject, role, datetime.now(UTC), self.secret)
        host = self.url.removeprefix("http://").split(":")[0]
        context.add_cookies(
            [
                {"name": SESSION_COOKIE, "value": session.token, "domain": host, "path": "/"},
                {
                    "name": CSRF_COOKIE,
                    "value": csrf_token(session.token, self.secret),
                    "domain": host,
                    "path": "/",
                },
            ]
        )

    def phone_of(self, borrower_id: str) -> str:
        with self.engine.connect() as db:
            q = select(t.borrowers.c.phone).where(t.borrowers.c.borrower_id == borrower_id)
            return str(db.execute(q).scalar_one())

    def last_code(self, borrower_id: str) -> str:
        """The sign-in code in the latest SMS to the borrower (the development outbox)."""
        with self.engine.connect() as db:
            body = db.execute(
                select(outbox.c.body)
                .where(outbox.c.borrower_id == borrower_id, outbox.c.template == "signin_code")
                .order_by(outbox.c.created_at.desc())
                .limit(1)
            ).scalar_one()
        found = re.search(r"(?<!\d)(\d{6})(?!\d)", str(body))
        assert found, body
        return found.group(1)


@contextmanager
def demo_site(folder: Path, loans: int = 600, days: int = 20) -> Iterator[Site]:
    db = folder / "site.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    os.environ.setdefault("ARREARS_KEY_DIR", str(folder / "keys"))
    config = dataclasses.replace(default_config(str(db), show_codes=False), cookie_secure=False)
    run = run_demo(config.engine, loans, days, default_settings(), bundled_behaviour())
    now = datetime.now(UTC)
    with config.engine.begin() as conn:
        for role, name in [*STAFF.items(), ("agent", OTHER_AGENT)]:
            succeeded(add_user(conn, name, PASSWORD, role, now))
        promise_borrower = conn.execute(
            select(t.loans.c.borrower_id).where(t.loans.c.loan_id == run.promise_loan)
        ).scalar_one()
        # The reading tests need an overdue borrower no other test changes: the desk's
        # borrowers get plans approved and loans restructured by the console's tests.
        reader = next(
            b for b, _ in one_loan_borrowers(conn, overdue=True) if b != run.never_borrower
        )
        desk = staff_the_desk(
            conn,
            now,
            (STAFF["agent"], OTHER_AGENT),
            leave_out=(run.never_borrower, promise_borrower, reader),
        )
    # Three conversations already had on the next day with each borrower of the desk (calls an
    # agency made, say): the close of that day blocks the policy's afternoon calls to them
    # (cn.daily-conversations), so the compliance view has blocked contacts to show.
    day = run.last_day + timedelta(days=1)
    with config.engine.begin() as conn:
        record_attempts(
            conn,
            [
                _conversation(b, day, k)
                for ids in desk.assigned.values()
                for b in ids
                for k in range(3)
            ],
        )
    settings = default_settings()
    close_business_day(
        config.engine,
        day,
        CloseConfig(default_policy_set(), lender=settings.lender, capacity=settings.capacity),
    )
    with config.engine.begin() as conn:
        visits = tuple(_noticed_visit(conn, b, day) for b in desk.assigned[STAFF["agent"]])
    with serving(create_site(config)) as url:
        yield Site(url, config.engine, run, config.secret, desk, visits, reader)
    shutil.rmtree(folder / "keys", ignore_errors=True)


def one_loan_borrowers(conn: Connection, overdue: bool) -> list[tuple[str, str]]:
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
    return [(r.borrower_id, r.loan_id) for r in conn.execute(q)]


def _conversation(borrower_id: str, day: date, k: int) -> Attempt:
    at = datetime.combine(day, time(9, 10 * k), tzinfo=ZoneInfo("Asia/Shanghai"))
    contact = Contact(
        at=at,
        debt_id="",
        channel="call",
        connected=True,
        conversation=True,
        outcome="reached",
        collectors=("C001",),
    )
    return Attempt(f"site/agency-call/{borrower_id}/{day}/{k}", borrower_id, contact, day)


def _noticed_visit(conn: Connection, borrower_id: str, day: date) -> int:
    """A home visit asked for, approved, assigned to C001 and C002 and noticed on ``day``
    for the morning after, through the visit service (and its gate), as the close would."""
    loan = conn.execute(
        select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower_id).limit(1)
    ).scalar_one()
    zone = ZoneInfo("Asia/Shanghai")
    at = datetime.combine(day, time(8), tzinfo=zone)
    # The demo's own close may have asked for a visit already (a borrower has one at a time):
    # that one is taken on from where it stands.
    live = live_visits(conn, [borrower_id]).get(borrower_id)
    if live is None:
        v = succeeded(request_visit(conn, f"site/visit/{borrower_id}", loan, "agent-1", at, "site"))
        visit_id, status = v.visit_id, v.status
    else:
        visit_id, status = live
    assert status in ("requested", "approved"), f"visit {visit_id} is {status}"
    if status == "requested":
        succeeded(approve_visit(conn, visit_id, STAFF["supervisor"], at + timedelta(minutes=5)))
    start = datetime.combine(day + timedelta(days=1), time(10), tzinfo=zone)
    succeeded(
        assign_visit(
            conn,
            visit_id,
            ("C001", "C002"),
            start,
            start + timedelta(hours=2),
            at + timedelta(minutes=10),
        )
    )
    succeeded(record_visit_notice(conn, visit_id, at + timedelta(minutes=15)))
    return visit_id


def chromium_path() -> str:
    """Debian's chromium (``apt-get install chromium``; ``.ci/run`` installs it), or the one
    named by $ARREARS_CHROMIUM."""
    found = os.environ.get("ARREARS_CHROMIUM") or shutil.which("chromium")
    assert found, "browser tests need Debian's chromium: apt-get install chromium"
    return found


def shot(page: Page, name: str) -> None:
    """A screenshot for docs/screenshots when $ARREARS_SCREENSHOTS is set: the browser tests
    take the pictures the README shows, as they go."""
    if os.environ.get("ARREARS_SCREENSHOTS"):
        folder = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def borrower_signs_in(page: Page, site: Site, borrower_id: str) -> None:
    """Phone number, then the code from the SMS, as a borrower does."""
    page.goto("/my")
    page.get_by_label(re.compile("手机号|Phone number")).fill(site.phone_of(borrower_id))
    page.get_by_role("button", name=re.compile("发送验证码|Send me a code")).click()
    page.get_by_label(re.compile("六位验证码|Six-digit code")).fill(site.last_code(borrower_id))
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()


def staff_signs_in(page: Page, username: str) -> None:
    page.goto("/staff/signin")
    page.get_by_label(re.compile("用户名|Username")).fill(username)
    page.get_by_label(re.compile("密码|Password")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
