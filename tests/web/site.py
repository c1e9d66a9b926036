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
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import BrowserContext, Page
from sqlalchemy import Engine, select

from api.serving import serving
from arrears.api.app import default_config
from arrears.api.deps import CSRF_COOKIE, SESSION_COOKIE
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
    "field_collector": "field",
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
def demo_site(folder: Path, loans: int = 400, days: int = 20) -> Iterator[Site]:
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
        desk = staff_the_desk(
            conn,
            now,
            (STAFF["agent"], OTHER_AGENT),
            leave_out=(run.never_borrower, promise_borrower),
        )
    with serving(create_site(config)) as url:
        yield Site(url, config.engine, run, config.secret, desk)
    shutil.rmtree(folder / "keys", ignore_errors=True)


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
