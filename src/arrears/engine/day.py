"""One business day of collection, end to end: accrue, age, choose, gate, enqueue, report.

Phases (each timed in the report):

1. ``accrual``: the columnar close (or the reference) brings every active loan to the date.
2. ``cases``: cases opened for borrowers newly overdue and closed for the cured; promises due
   today checked (kept, partly kept, broken).
3. ``choose``: the policy set picks today's treatments for every borrower in one columnar pass.
4. ``gate``: borrowers in id order, a chunk per transaction: each action is checked by the
   borrower's rule pack against their contact history; allowed messages go to the outbox,
   allowed calls to the agent queue, approved visits are assigned and noticed; blocked ones
   go to the evidence log with the rules that blocked them. The chunk's last borrower is
   recorded in ``close_progress`` in the same transaction, so a rerun after a crash starts
   after it and no action is gated or enqueued twice.
5. ``report``: counts stored with the close run, and the day's evidence root sealed.

When the accrual catches up several days at once, treatments are chosen for the last day only:
a backlog of yesterday's reminders is not worth sending today.
"""

from __future__ import annotations

import json
import os
import time as clock
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, select, update

from arrears.compliance import LenderSettings
from arrears.contact.action import PlannedAction
from arrears.credit.notices import TEMPLATE as CREDIT_TEMPLATE
from arrears.credit.notices import plan_notices
from arrears.credit.service import Problem as CreditProblem
from arrears.credit.service import outlooks, record_notice
from arrears.engine.gate_phase import (
    CHUNK,
    ChunkInput,
    GateConfig,
    Lender,
    Tally,
    apply_chunk,
    plan_chunk,
    plans,
)
from arrears.engine.report import CloseReport, PromiseCounts, bucket_lines, roll_rates
from arrears.evidence import log
from arrears.services.cases import case_views, sync_cases
from arrears.services.close import Kernel, close_through
from arrears.services.collection_promises import check_promises
from arrears.store import tables as t
from arrears.store.close_tables import close_progress
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from arrears.strategy.case import CASE_SCHEMA, LAST_SENT_SCHEMA
from arrears.strategy.frame import choose_frame
from arrears.strategy.model import PolicySet

__all__ = ["CHUNK", "EngineConfig", "Lender", "close_day", "default_workers"]


def default_workers() -> int:
    """Planning processes for the gate phase: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class EngineConfig:
    policies: PolicySet
    lender: Lender = field(default_factory=Lender)
    settings: Mapping[str, LenderSettings] = field(default_factory=dict)  # by pack id
    kernel: Kernel = "polars"
    default_pack: str = "cn"
    # Processes that plan gate chunks while this one writes (1: plan and write in turn, in
    # one transaction per chunk). More than one pays off from a few chunks of work.
    workers: int = 1

    @property
    def gate(self) -> GateConfig:
        return GateConfig(self.lender, dict(self.settings), self.default_pack)


Progress = Callable[[str, int, int], None]  # (phase, done, total)


# --- reading the day's facts ---------------------------------------------------------------


def _bucket_snapshot(conn: Connection) -> dict[str, str]:
    q = select(t.loan_state.c.loan_id, t.loan_state.c.bucket).where(
        t.loan_state.c.status == "active"
    )
    return {lid: b for lid, b in conn.execute(q)}


def _frames(views: list[dict[str, Any]], day: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The service's per-borrower views as the policy's case and last-sent frames."""
    rows = [
        {
            "borrower_id": v["borrower_id"],
            "loan_id": v["loan_id"],
            "business_date": day,
            "dpd": v["dpd"],
            "days_to_due": v["days_to_due"] if v["dpd"] == 0 else None,
            "overdue_amount": v["overdue"],
            "outstanding_amount": v["outstanding"],
            "risk_score": v["risk_score"],
            "prior_cases": v["prior_cases"],
            "promise_until": v["promise_until"],
            "promise_broken_on": v["promise_broken_on"],
            "hardship": v["hardship"],
            "dispute": v["dispute"],
            "plan_in_force": v["plan_in_force"],
            "unreachable_days": v["unreachable_days"],
            "visit_approved": v["visit_approved"],
            "emergency_contacts": v["emergency_contacts"],
        }
        for v in views
    ]
    cases = pl.DataFrame(rows, schema=dict(CASE_SCHEMA))
    sent = pl.DataFrame(
        [
            {"borrower_id": v["borrower_id"], "step": s, "last_date": d}
            for v in views
            for s, d in v["last_step_on"].items()
        ],
        schema=dict(LAST_SENT_SCHEMA),
    )
    return cases, sent


def _actions(frame: pl.DataFrame) -> list[PlannedAction]:
    return [
        PlannedAction(
            borrower_id=r["borrower_id"],
            loan_id=r["loan_id"],
            business_date=r["business_date"],
            policy=r["policy"],
            step=r["step"],
            channel=r["channel"],
            party=r["party"],
            template=r["template"],
            local_time=r["local_time"],
            priority=r["priority"],
            purpose=r["purpose"],
        )
        for r in frame.iter_rows(named=True)
    ]


# --- credit notices ------------------------------------------------------------------------


def _record_delivered_notices(conn: Connection) -> int:
    """Credit notices the outbox has delivered, on the credit record (idempotent by key)."""
    o, n = outbox, credit_notices
    rows = conn.execute(
        select(o.c.message_key, o.c.loan_id, o.c.channel, o.c.sent_at).where(
            o.c.template == CREDIT_TEMPLATE,
            o.c.status == "sent",
            o.c.message_key.not_in(select(n.c.key)),
        )
    ).all()
    for r in rows:
        sent = r.sent_at if r.sent_at.tzinfo else r.sent_at.replace(tzinfo=UTC)
        done = record_notice(conn, r.loan_id, sent, r.channel, r.message_key)
        assert not isinstance(done, CreditProblem), done
    return len(rows)


def _credit_notices(conn: Connection, day: date) -> tuple[list[PlannedAction], dict[str, date]]:
    """Notices due before a loan's first negative credit item, and each one's reporting date.

    Only loans already overdue and without a notice are forecast: a loan that is current has
    nothing negative to report yet, and forecasting every loan every day would cost a replay
    per loan. A loan that falls overdue within the notice period of its reporting date gets
    its notice late; the bureau export then withholds the item and says why (docs/credit.md).
    """
    ls, n = t.loan_state, credit_notices
    ids = list(
        conn.execute(
            select(ls.c.loan_id).where(
                ls.c.status == "active", ls.c.dpd > 0, ls.c.loan_id.not_in(select(n.c.loan_id))
            )
        ).scalars()
    )
    if not ids:
        return [], {}
    looks = outlooks(conn, day, loan_ids=ids)
    dates = {
        o.loan_id: o.first_negative.reporting_date for o in looks if o.first_negative is not None
    }
    return plan_notices(looks, {}, day), dates


# --- the whole day ---------------------------------------------------------------------------


def close_day(
    engine: Engine,
    day: date,
    config: EngineConfig,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> CloseReport:
    """Run (or finish) the close of ``day``; a rerun of a finished close returns its report."""
    now = now or datetime.now(UTC)
    phases: dict[str, float] = {}
    with engine.connect() as conn:
        done = conn.execute(
            select(close_progress.c.last_key).where(
                close_progress.c.business_date == day, close_progress.c.phase == "done"
            )
        ).first()
        if done is not None:
            summary = conn.execute(
                select(t.close_runs.c.summary).where(t.close_runs.c.business_date == day)
            ).scalar_one()
            return replace(report_from_json(json.loads(summary)), already_closed=True)
        accrued = conn.execute(
            select(close_progress.c.tally).where(
                close_progress.c.business_date == day, close_progress.c.phase == "accrual"
            )
        ).scalar()
        before = _bucket_snapshot(conn) if accrued is None else {}

    t0 = clock.perf_counter()
    if accrued is None:
        res = close_through(
            engine,
            day,
            (lambda d, n: progress("accrual", d, n)) if progress else None,
            kernel=config.kernel,
        )
        with engine.begin() as conn:
            moves: Counter[tuple[str, str]] = Counter(
                (before[lid], b) for lid, b in _bucket_snapshot(conn).items() if lid in before
            )
            # Kept with the day, so that a close resumed after a crash still reports the
            # accrual and the roll rates of the whole day.
            accrued = json.dumps(
                {
                    "loans_aged": res.loans_aged,
                    "loan_days": res.loan_days,
                    "entries_posted": res.entries_posted,
                    "moves": [[a, b, n] for (a, b), n in sorted(moves.items())],
                }
            )
            _mark(conn, day, "accrual", "", now, accrued)
    accrual = json.loads(accrued)
    phases["accrual"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.begin() as conn:
        sync_cases(conn, day)
        # The close opens the business day: promises are judged once their date has ended,
        # so today's close settles the promises that fell due yesterday.
        promised = check_promises(conn, day - timedelta(days=1))
        _record_delivered_notices(conn)
    phases["cases"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.connect() as conn:
        views = case_views(conn, day)
        resumed = conn.execute(
            select(close_progress.c.last_key, close_progress.c.tally).where(
                close_progress.c.business_date == day, close_progress.c.phase == "collection"
            )
        ).first()
        notices, report_dates = _credit_notices(conn, day)
    cases, sent = _frames(views, day)
    chosen, routed = choose_frame(cases, sent, config.policies)
    phases["choose"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    tally = Tally.from_json(resumed.tally) if resumed is not None else Tally()
    resume_after = resumed.last_key if resumed is not None else None
    by_borrower: dict[str, list[PlannedAction]] = defaultdict(list)
    for act in [*_actions(chosen), *notices]:
        by_borrower[act.borrower_id].append(act)
    routes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in routed.iter_rows(named=True):
        routes[r["borrower_id"]].append(r)
    ids = sorted(set(by_borrower) | set(routes))
    if resume_after is not None:
        ids = [b for b in ids if b > resume_after]
    chunks = []
    for k in range(0, len(ids), CHUNK):
        part = ids[k : k + CHUNK]
        actions = [a for b in part for a in by_borrower.get(b, ())]
        chunks.append(
            ChunkInput(
                day,
                actions,
                [r for b in part for r in routes.get(b, ())],
                {a.loan_id: report_dates[a.loan_id] for a in actions if a.loan_id in report_dates},
                now,
            )
        )
    gate = config.gate
    for n, (chunk, plan) in enumerate(plans(engine, chunks, gate, config.workers)):
        with engine.begin() as conn:
            planned = plan if plan is not None else plan_chunk(conn, chunk, gate)
            tally.add(apply_chunk(conn, chunk, planned, gate))
            _mark(conn, day, "collection", chunk.borrower_ids[-1], now, tally.to_json())
        if progress:
            progress("gate", min((n + 1) * CHUNK, len(ids)), len(ids))
        if after_chunk:
            after_chunk(n)
    phases["gate"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.begin() as conn:
        after = conn.execute(
            select(
                t.loan_state.c.loan_id,
                t.loan_state.c.bucket,
                t.loan_state.c.overdue_principal
                + t.loan_state.c.overdue_interest
                + t.loan_state.c.overdue_penalty,
                t.loan_state.c.outstanding_principal
                + t.loan_state.c.outstanding_interest
                + t.loan_state.c.outstanding_penalty,
            ).where(t.loan_state.c.status == "active")
        ).all()
        open_cases = sum(1 for v in views if v.get("case_id") is not None)
        report = CloseReport(
            business_date=day,
            engine=config.kernel,
            loans_aged=accrual["loans_aged"],
            loan_days=accrual["loan_days"],
            entries_posted=accrual["entries_posted"],
            buckets=bucket_lines((b, 1, int(o), int(s)) for _, b, o, s in after),
            rolls=roll_rates((a, b, n) for a, b, n in accrual["moves"]),
            actions=dict(tally.actions),
            routings=dict(tally.routings),
            blocked=dict(tally.blocked),
            promises=PromiseCounts(
                promised.due, promised.kept, promised.partly_kept, promised.broken
            ),
            cases_open=open_cases,
            phases=phases,
        )
        log.store_root(conn, day.isoformat(), now)
        conn.execute(
            update(t.close_runs)
            .where(t.close_runs.c.business_date == day)
            .values(summary=json.dumps(report.as_dict(), sort_keys=True, ensure_ascii=False))
        )
        _mark(conn, day, "done", "", now)
    phases["report"] = clock.perf_counter() - t0
    return replace(report, phases=dict(phases))


def _mark(
    conn: Connection, day: date, phase: str, last_key: str, now: datetime, tally: str = "{}"
) -> None:
    cp = close_progress
    hit = conn.execute(
        update(cp)
        .where(and_(cp.c.business_date == day, cp.c.phase == phase))
        .values(last_key=last_key, updated_at=now, tally=tally)
    )
    if hit.rowcount == 0:
        conn.execute(
            cp.insert().values(
                business_date=day, phase=phase, last_key=last_key, updated_at=now, tally=tally
            )
        )


def report_from_json(d: Mapping[str, Any]) -> CloseReport:
    """A stored report back as data (money strings back to fen)."""
    from arrears.engine.report import BucketLine, Roll
    from arrears.money import parse_amount

    return CloseReport(
        business_date=date.fromisoformat(d["business_date"]),
        engine=d["engine"],
        loans_aged=d["loans_aged"],
        loan_days=d["loan_days"],
        entries_posted=d["entries_posted"],
        buckets=tuple(
            BucketLine(
                b["bucket"], b["loans"], parse_amount(b["overdue"]), parse_amount(b["outstanding"])
            )
            for b in d["buckets"]
        ),
        rolls=tuple(Roll(r["from"], r["to"], r["loans"], r["of"]) for r in d["roll_rates"]),
        actions={(a["channel"], a["policy"]): a["count"] for a in d["actions"]},
        routings={(a["kind"], a["policy"]): a["count"] for a in d["routings"]},
        blocked={b["rule"]: b["count"] for b in d["blocked"]},
        promises=PromiseCounts(**d["promises"]),
        cases_open=d["cases_open"],
        phases=d["phases"],
    )
