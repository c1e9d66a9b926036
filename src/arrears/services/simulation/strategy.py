"""Champion vs challenger: each policy run over the same generated book and the same borrowers.

Each policy gets its own fresh SQLite database under ``workdir``, the same scenario (same
seed: the same loans, payment plans and answers) and the same days; what differs is only
what the policy chose and the gate allowed. The facts of each run are read back from its
database and close reports and measured by ``core.sim.strategy``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Connection, func, select

from arrears.core.close.report import CloseReport
from arrears.core.lender.settings import Settings
from arrears.core.sim.model import BehaviourModel
from arrears.core.sim.strategy import CURRENT, LoanStart, RunFacts, StrategyMetrics, metrics
from arrears.core.strategy.model import PolicySet
from arrears.services.close.day import CloseConfig
from arrears.services.simulation import scenario
from arrears.services.simulation.operation import simulate
from arrears.store import case_tables, outbox_tables, tables
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade

START = date(2026, 11, 1)
Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """One policy's run: what to call it and the policy set it runs."""

    name: str
    policies: PolicySet


@dataclass(frozen=True, slots=True)
class Comparison:
    loans: int
    days: int
    seed: int
    rules: str | None  # one rule pack for every borrower, or None for the generator's mix
    start: date
    runs: tuple[StrategyMetrics, ...]


def _quiet(what: str, done: int, total: int) -> None:
    pass


def compare_policies(
    runs: Sequence[StrategyRun],
    *,
    loans: int,
    days: int,
    seed: int,
    rules: str | None,
    settings: Settings,
    model: BehaviourModel,
    workdir: Path,
    progress: Progress = _quiet,
) -> Comparison:
    """Run every policy over the same book and borrowers; their metrics side by side."""
    assert runs and len({r.name for r in runs}) == len(runs), "runs need distinct names"
    measured = []
    for k, run in enumerate(runs):
        db = workdir / f"run-{k + 1}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        facts = _run(run, db, loans, days, seed, rules, settings, model, progress)
        measured.append(metrics(facts, settings.costs))
    return Comparison(loans, days, seed, rules, START, tuple(measured))


def _run(
    run: StrategyRun,
    db: Path,
    loans: int,
    days: int,
    seed: int,
    rules: str | None,
    settings: Settings,
    model: BehaviourModel,
    progress: Progress,
) -> RunFacts:
    engine = make_engine(f"sqlite:///{db}")
    try:
        upgrade(engine)
        sc = scenario.build(
            engine, START, loans=loans, seed=seed, pack=rules, days=days, mix=model.mix
        )
        start: dict[str, LoanStart] = {}
        reports: list[CloseReport] = []

        def on_day(day: date, report: CloseReport) -> None:
            reports.append(report)
            if not start:
                with engine.connect() as conn:
                    start.update(_loan_starts(conn))
            progress(run.name, (day - START).days + 1, days)

        config = CloseConfig(
            run.policies,
            lender=settings.lender,
            default_pack=rules or "cn",
            capacity=settings.capacity,
        )
        simulate(
            engine, START, days, config, sc.behaviours, sc.payments, seed=seed, model=model,
            on_day=on_day,
        )  # fmt: skip
        with engine.connect() as conn:
            return _facts(conn, run.name, days, start, reports)
    finally:
        engine.dispose()


def _loan_starts(conn: Connection) -> dict[str, LoanStart]:
    s = tables.loan_state.c
    q = select(
        s.loan_id, s.bucket, s.overdue_principal + s.overdue_interest + s.overdue_penalty
    ).where(s.status == "active")
    return {lid: LoanStart(bucket, int(owed)) for lid, bucket, owed in conn.execute(q)}


def _facts(
    conn: Connection,
    name: str,
    days: int,
    start: dict[str, LoanStart],
    reports: list[CloseReport],
) -> RunFacts:
    s = tables.loan_state.c
    end = {
        lid: bucket if status == "active" else CURRENT
        for lid, bucket, status in conn.execute(select(s.loan_id, s.bucket, s.status))
    }
    e = tables.loan_events.c
    first = reports[0].business_date if reports else START
    collected = {
        lid: int(total)
        for lid, total in conn.execute(
            select(e.loan_id, func.sum(e.amount))
            .where(e.kind == "payment", e.effective_on >= first)
            .group_by(e.loan_id)
        )
    }
    blocked: Counter[str] = Counter()
    for r in reports:
        blocked.update(r.blocked)
    p = case_tables.promises.c
    promise_counts: dict[str, int] = {
        status: int(n)
        for status, n in conn.execute(select(p.status, func.count()).group_by(p.status))
    }
    overdue_by_day = tuple(sum(b.loans for b in r.buckets if b.bucket != CURRENT) for r in reports)
    complaints = conn.execute(select(func.count()).select_from(case_tables.complaints))
    pl_ = case_tables.plans.c
    plans: dict[str, int] = {
        status: int(n)
        for status, n in conn.execute(select(pl_.status, func.count()).group_by(pl_.status))
    }
    return RunFacts(
        name,
        days,
        start,
        end,
        collected,
        _contacts(conn),
        dict(blocked),
        promises_kept=promise_counts.get("kept", 0),
        promises_broken=promise_counts.get("broken", 0) + promise_counts.get("partly_kept", 0),
        overdue_by_day=overdue_by_day,
        complaints=int(complaints.scalar_one()),
        plans_kept=plans.get("active", 0) + plans.get("completed", 0),
        plans_broken=plans.get("broken", 0),
    )


def _contacts(conn: Connection) -> dict[str, int]:
    """Contacts made: messages sent, calls dialled (the borrower's or an emergency contact's),
    visits reported."""
    o, q = outbox_tables.outbox.c, case_tables.queue_items.c
    v = case_tables.visits.c
    made: Counter[str] = Counter()
    for channel, n in conn.execute(
        select(o.channel, func.count()).where(o.status == "sent").group_by(o.channel)
    ):
        made[channel] += int(n)
    for party, n in conn.execute(
        select(q.party, func.count()).where(q.done_at.is_not(None)).group_by(q.party)
    ):
        made["call" if party == "debtor" else "emergency_contact"] += int(n)
    made["visit"] += int(
        conn.execute(select(func.count()).where(v.status == "reported")).scalar_one()
    )
    return dict(made)


def last_day(comparison: Comparison) -> date:
    return comparison.start + timedelta(days=comparison.days - 1)
