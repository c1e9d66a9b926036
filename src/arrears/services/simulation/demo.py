"""The demo: a seeded portfolio run through days of collection with simulated borrowers, on
a database of its own. ``arrears demo`` and the web app's browser tests both start here."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Engine

from arrears.core.close.report import CloseReport
from arrears.core.lender.settings import Settings
from arrears.core.problem import Result, fail, ok
from arrears.core.sim.model import BehaviourModel
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.services.simulation.desk import staff_the_desk
from arrears.services.simulation.operation import AGENT, SUPERVISOR, SimResult, simulate
from arrears.services.staff import add_user

DEMO_START = date(2026, 11, 1)
DEMO_DAYS = 90  # through 2027-01-29
DEMO_SEED = 7

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class DemoRun:
    start: date
    days: int
    borrowers: int
    never_loan: str  # a loan whose borrower never pays: the whole escalation
    never_borrower: str
    promise_loan: str
    result: SimResult
    reports: tuple[CloseReport, ...] = field(repr=False)

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def enqueued(self) -> int:
        return sum(sum(r.actions.values()) for r in self.reports)

    @property
    def blocked(self) -> int:
        return sum(sum(r.blocked.values()) for r in self.reports)


def run_demo(
    engine: Engine,
    loans: int,
    days: int,
    settings: Settings,
    model: BehaviourModel,
    progress: Progress | None = None,
    start: date = DEMO_START,
) -> DemoRun:
    """Generate and import a typical book on ``engine`` (a new database), then run ``days``
    daily closes with the simulated borrowers."""
    say = progress or (lambda _phase, _done, _total: None)
    say("import", 0, 1)
    sc = scenario.build(
        engine, start, loans=loans, seed=DEMO_SEED, pack=None, days=days, mix=model.mix
    )
    say("import", 1, 1)
    reports: list[CloseReport] = []

    def tick(day: date, report: CloseReport) -> None:
        reports.append(report)
        say("days", (day - start).days + 1, days)

    result = simulate(
        engine,
        start,
        days,
        CloseConfig(default_policy_set(), lender=settings.lender, capacity=settings.capacity),
        sc.behaviours,
        sc.payments,
        seed=DEMO_SEED,
        model=model,
        on_day=tick,
    )
    return DemoRun(
        start,
        days,
        len(sc.behaviours),
        sc.never_loan,
        scenario.NEVER,
        sc.promise_loan,
        result,
        tuple(reports),
    )


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str
    username: str
    password: str  # made up for this run, printed once; not kept anywhere in clear


# Who the demo lets in: the simulation's own agent and supervisor (the queue items and the
# approvals of the run are theirs), the first field collector (the visits are assigned to the
# first two), and a compliance officer.
DEMO_STAFF = (
    ("agent", AGENT),
    ("supervisor", SUPERVISOR),
    ("field_collector", "C001"),
    ("compliance", "compliance-1"),
)


def demo_logins(engine: Engine, now: datetime) -> Result[tuple[DemoLogin, ...]]:
    """Staff accounts for the demo's people, each with a new random password; the agent's
    desk staffed (open cases assigned, calls due now on the queue), since the run's own calls
    are all made or expired by its last day."""
    made = []
    with engine.begin() as conn:
        staff_the_desk(conn, now, (AGENT,))
        for role, username in DEMO_STAFF:
            password = secrets.token_urlsafe(9)
            _, problems = add_user(conn, username, password, role, now)
            if problems:
                return fail(*problems)
            made.append(DemoLogin(role, username, password))
    return ok(tuple(made))
