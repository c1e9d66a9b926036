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
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, exists, func, select, text, update

from arrears.core.close.report import (
    BucketLine,
    CloseReport,
    PromiseCounts,
    QueueCounts,
    bucket_lines,
    report_from_json,
    roll_rates,
)
from arrears.core.compliance import LenderSettings
from arrears.core.contact.action import PlannedAction
from arrears.core.contact.capacity import cut_calls
from arrears.core.credit.notices import TEMPLATE as CREDIT_TEMPLATE
from arrears.core.credit.notices import NoticeDue
from arrears.core.lender.settings import Capacity, Lender
from arrears.core.strategy.frame import choose_frame
from arrears.core.strategy.model import PolicySet
from arrears.services import evidence as log
from arrears.services import validation_notices
from arrears.services.classification_floor import lift_restructured
from arrears.services.close.gate_phase import (
    BORROWERS_PER_CHUNK,
    ChunkInput,
    GateConfig,
    Tally,
    apply_chunk,
    plans,
)
from arrears.services.close.gc_tuning import fewer_collections
from arrears.services.close.reference import AccrualKernel, close_through
from arrears.services.collection.case_frames import case_frames, inline_sql, read_frame
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.plans import check_plans
from arrears.services.collection.promises import check_promises
from arrears.services.collection.queue import expire_calls, open_calls
from arrears.services.credit import due_notices_on
from arrears.services.moratorium_relief import relieve_interest
from arrears.services.settings import default_settings
from arrears.services.texts import message_texts
from arrears.store import tables
from arrears.store.close_tables import close_progress
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from arrears.store.stats import analyze_changed

__all__ = ["BORROWERS_PER_CHUNK", "CloseConfig", "Lender", "close_business_day", "default_workers"]


def default_workers() -> int:
    """Planning processes for the gate phase: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class CloseConfig:
    policies: PolicySet
    lender: Lender = field(default_factory=lambda: default_settings().lender)
    settings: Mapping[str, LenderSettings] = field(default_factory=dict)  # by pack id
    kernel: AccrualKernel = "polars"
    default_pack: str = "cn"
    # Processes that plan gate chunks while this one writes (1: plan and write in turn, in
    # one transaction per chunk). More than one pays off from a few chunks of work.
    workers: int = 1
    # Agents, calls each a day, visits per region a day (the lender's settings): the day's
    # calls are planned to it (core.contact.capacity).
    capacity: Capacity = field(default_factory=lambda: default_settings().capacity)
    # Loans per accrual transaction; None: the kernel's own (accrual/reference LOANS_PER_CHUNK).
    loans_per_chunk: int | None = None

    @property
    def gate(self) -> GateConfig:
        return GateConfig(
            self.lender,
            message_texts(),
            dict(self.settings),
            self.default_pack,
            self.capacity.visits_per_region_per_day,
        )


Progress = Callable[[str, int, int], None]  # (phase, done, total)


# --- reading the day's facts ---------------------------------------------------------------


def _bucket_snapshot(conn: Connection) -> pl.DataFrame:
    """(loan_id, bucket) of every active loan, for the roll rates across the accrual."""
    q = select(tables.loan_state.c.loan_id, tables.loan_state.c.bucket).where(
        tables.loan_state.c.status == "active"
    )
    return read_frame(conn, q, {"loan_id": pl.String(), "bucket": pl.String()})


def _moves(before: pl.DataFrame, after: pl.DataFrame) -> list[list[Any]]:
    """[bucket before, bucket after, loans] for loans active on both sides, sorted."""
    moved = (
        before.join(after, on="loan_id", how="inner", suffix="_after")
        .group_by("bucket", "bucket_after")
        .len()
        .sort("bucket", "bucket_after")
    )
    return [[a, b, int(n)] for a, b, n in moved.iter_rows()]


_ACTION_FIELDS = tuple(f.name for f in fields(PlannedAction))


def _actions(frame: pl.DataFrame) -> list[PlannedAction]:
    # Rows as tuples in PlannedAction's field order: a dict per row (iter_rows(named=True))
    # cost three times as much on a day of 286k actions.
    return [PlannedAction(*row) for row in frame.select(_ACTION_FIELDS).iter_rows()]


# --- credit notices ------------------------------------------------------------------------


def _record_delivered_notices(conn: Connection) -> int:
    """Credit notices the outbox has delivered, on the credit record (idempotent by key).

    In SQL: the delivered notices not on the record yet are gathered once into a temporary
    table, checked, and inserted from it. Each must meet what ``credit.service.record_notice``
    requires (a key of 1..128 characters not yet used, an SMS or a letter, a loan on file; the
    outbox keeps UTC instants): one that does not is a bug upstream and stops the close, as the
    per-notice call did. The loan on file is the foreign key's to check, on both databases.
    """
    o, n = outbox, credit_notices
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.execute(text("SET LOCAL enable_nestloop = off"))  # see below
    # Every sent notice ever is read each day, so on PostgreSQL the anti-join must hash (one
    # pass over each side), never loop: planned on statistics taken before a day's notices
    # arrived, it ran as a nested loop and went quadratic (18 s for 37k notices at 100k loans);
    # probing the unique key for every sent notice instead took 6 s a day at a million loans.
    # NOT EXISTS, not NOT IN: PostgreSQL runs NOT IN (subquery) as a hashed subplan only while
    # the keys fit in work_mem, and rescans the subquery per row past that. Gathered once: the
    # check and the insert each made that pass (1.2 s of 6 s at a million loans).
    delivered = select(o.c.message_key, o.c.loan_id, o.c.sent_at, o.c.channel).where(
        o.c.template == CREDIT_TEMPLATE,
        o.c.status == "sent",
        ~exists().where(n.c.key == o.c.message_key),
    )
    conn.execute(text(f"DROP TABLE IF EXISTS {_DELIVERED}"))
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_DELIVERED} AS {inline_sql(conn, delivered)}")
    if pg:
        conn.execute(text("RESET enable_nestloop"))
    bad = conn.execute(
        text(
            f"SELECT message_key, loan_id, channel FROM {_DELIVERED} WHERE "
            "length(message_key) > 128 OR trim(message_key) = '' "
            "OR channel NOT IN ('sms', 'letter') LIMIT 1"
        )
    ).first()
    assert bad is None, f"credit notice {tuple(bad)} cannot be recorded"
    # The unique key still turns away a notice a concurrent close recorded meanwhile.
    done = conn.execute(
        text(
            "INSERT INTO credit_notices (key, loan_id, sent_at, channel) "
            f"SELECT message_key, loan_id, sent_at, channel FROM {_DELIVERED} "
            "WHERE true ON CONFLICT (key) DO NOTHING"  # SQLite needs the WHERE to parse it
        ),
        execution_options={"preserve_rowcount": True},  # an INSERT's count, on every driver
    )
    conn.execute(text(f"DROP TABLE {_DELIVERED}"))
    return int(done.rowcount)


_DELIVERED = "_delivered_notices"


def _record_notices(engine: Engine) -> int:
    """``_record_delivered_notices`` in a transaction of its own."""
    with engine.begin() as conn:
        return _record_delivered_notices(conn)


def _credit_notices(
    conn: Connection, day: date
) -> tuple[list[PlannedAction], dict[str, NoticeDue]]:
    """Notices due before a loan's first negative credit item, and each one's due notice (its
    key and the date it names).

    Only loans already overdue and without a notice are forecast: a loan that is current has
    nothing negative to report yet, and forecasting every loan every day would cost a replay
    per loan. A loan that falls overdue within the notice period of its reporting date gets
    its notice late, naming a date the full lead time ahead; the bureau export holds the item
    back until then and says why (docs/credit.md). A loan whose notice is still in the outbox
    gets no other (``credit.notices_in_flight``).
    """
    loan_state, notices = tables.loan_state, credit_notices
    ids = list(
        conn.execute(
            select(loan_state.c.loan_id).where(
                loan_state.c.status == "active",
                loan_state.c.dpd > 0,
                ~exists().where(notices.c.loan_id == loan_state.c.loan_id),
            )
        ).scalars()
    )
    if not ids:
        return [], {}
    due = due_notices_on(conn, day, loan_ids=ids)
    return [d.action for d in due], {d.action.loan_id: d for d in due}


# --- the whole day ---------------------------------------------------------------------------


def close_business_day(
    engine: Engine,
    day: date,
    config: CloseConfig,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> CloseReport:
    """Run (or finish) the close of ``day``; a rerun of a finished close returns its report."""
    with fewer_collections():  # see services.close.gc_tuning
        return _close_business_day(engine, day, config, progress, after_chunk, now)


def _close_business_day(
    engine: Engine,
    day: date,
    config: CloseConfig,
    progress: Progress | None,
    after_chunk: Callable[[int], None] | None,
    now: datetime | None,
) -> CloseReport:
    now = now or datetime.now(UTC)
    phases: dict[str, float] = {}
    with engine.connect() as conn:
        finished = _finished_report(conn, day)
    if finished is not None:
        return finished

    t0 = clock.perf_counter()
    accrual = _accrue(engine, day, config, progress, now)
    phases["accrual"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    # PostgreSQL: the delivered credit notices are recorded on a connection of their own while
    # the cases are synced and the case frames read. It is one statement that kept one core
    # busy for seconds at a million loans, on tables those steps do not touch; only the day's
    # own credit notices wait for it. SQLite has one writer at a time: in the cases' turn.
    # (Both are idempotent, so a crash between the two commits is undone by a rerun.)
    with ThreadPoolExecutor(1) as pool:
        background = engine.dialect.name == "postgresql"
        noticed = pool.submit(_record_notices, engine) if background else None
        with engine.begin() as conn:
            expired = _expire_calls(conn, day, now)
            lift_restructured(conn)  # the ageing classifies by days past due alone
            # The close opens the business day: promises are judged once their date has
            # ended, so today's close settles the promises that fell due yesterday. First:
            # their records are stamped with the end of yesterday, the cases' with now.
            promised = check_promises(conn, day - timedelta(days=1))
            sync_cases(conn, day, now)
            # Plans in force: completed, broken past their grace, or still pausing the case
            # (a case the sync just opened for a plan installment a day late, too).
            check_plans(conn, day, now)
            if noticed is None:
                _record_delivered_notices(conn)
        phases["cases"] = clock.perf_counter() - t0

        t0 = clock.perf_counter()
        with engine.connect() as conn:
            framed = case_frames(conn, day, due_within=config.policies.due_horizon)
            resumed = conn.execute(
                select(close_progress.c.last_key, close_progress.c.tally).where(
                    close_progress.c.business_date == day, close_progress.c.phase == "collection"
                )
            ).first()
        if noticed is not None:
            noticed.result()  # a loan whose notice was delivered needs no other
        with engine.connect() as conn:
            notices, notice_due = _credit_notices(conn, day)
            # Reg F §1006.34: each US loan's validation notice after its first communication.
            validations, validated = validation_notices.due_notices(conn, day, config.default_pack)
    chosen, routed = choose_frame(framed.cases, framed.last_sent, config.policies)
    # The same cut on a rerun: the choice and the ranking are functions of the day's facts.
    cut = cut_calls(chosen, framed.cases, config.capacity.calls_per_day)
    phases["choose"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    tally = Tally.from_json(resumed.tally) if resumed is not None else Tally()
    chunks, borrowers = _gate_chunks(
        day,
        [*_actions(cut.actions), *notices, *validations],
        routed,
        notice_due,
        validated,
        now,
        resume_after=resumed.last_key if resumed is not None else None,
    )
    _run_gate(engine, day, config, chunks, borrowers, tally, now, progress, after_chunk)
    phases["gate"] = clock.perf_counter() - t0

    t0 = clock.perf_counter()
    with engine.begin() as conn:
        report = CloseReport(
            business_date=day,
            engine=config.kernel,
            loans_aged=accrual["loans_aged"],
            loan_days=accrual["loan_days"],
            entries_posted=accrual["entries_posted"],
            buckets=_bucket_lines(conn),
            rolls=roll_rates((a, b, n) for a, b, n in accrual["moves"]),
            actions=dict(tally.actions),
            routings=dict(tally.routings),
            blocked=dict(tally.blocked),
            promises=PromiseCounts(
                promised.due, promised.kept, promised.partly_kept, promised.broken
            ),
            cases_open=framed.open_cases,
            queue=QueueCounts(
                config.capacity.calls_per_day,
                cut.planned,
                cut.over_capacity,
                expired,
                open_calls(conn),
            ),
            phases=phases,
        )
        log.store_root(conn, day.isoformat(), now)
        conn.execute(
            update(tables.close_runs)
            .where(tables.close_runs.c.business_date == day)
            .values(summary=json.dumps(report.as_dict(), sort_keys=True, ensure_ascii=False))
        )
        _mark(conn, day, "done", "", now)
    phases["report"] = clock.perf_counter() - t0

    # Tomorrow's close reads today's rows by lists of ids: fresh statistics keep those reads
    # on their indexes (see store/stats). After the commit, so the day's writes are counted.
    t0 = clock.perf_counter()
    analyze_changed(engine)
    phases["analyze"] = clock.perf_counter() - t0
    return replace(report, phases=dict(phases))


def _finished_report(conn: Connection, day: date) -> CloseReport | None:
    """The report kept with a day closed already: a rerun changes nothing and says so."""
    done = conn.execute(
        select(close_progress.c.last_key).where(
            close_progress.c.business_date == day, close_progress.c.phase == "done"
        )
    ).first()
    if done is None:
        return None
    summary = conn.execute(
        select(tables.close_runs.c.summary).where(tables.close_runs.c.business_date == day)
    ).scalar_one()
    return replace(report_from_json(json.loads(summary)), already_closed=True)


def _accrue(
    engine: Engine, day: date, config: CloseConfig, progress: Progress | None, now: datetime
) -> dict[str, Any]:
    """Accrue and age every loan through ``day`` (once: a resumed close reads what the first
    run kept), then the day's moratorium interest relief; the accrual's counts and moves."""
    with engine.connect() as conn:
        accrued = conn.execute(
            select(close_progress.c.tally).where(
                close_progress.c.business_date == day, close_progress.c.phase == "accrual"
            )
        ).scalar()
        before = _bucket_snapshot(conn) if accrued is None else None
    if accrued is None:
        res = close_through(
            engine,
            day,
            (lambda d, n: progress("accrual", d, n)) if progress else None,
            kernel=config.kernel,
            loans_per_chunk=config.loans_per_chunk,
        )
        assert before is not None
        with engine.begin() as conn:
            moves = _moves(before, _bucket_snapshot(conn))
            # Kept with the day, so that a close resumed after a crash still reports the
            # accrual and the roll rates of the whole day.
            accrued = json.dumps(
                {
                    "loans_aged": res.loans_aged,
                    "loan_days": res.loan_days,
                    "entries_posted": res.entries_posted,
                    "moves": moves,
                }
            )
            _mark(conn, day, "accrual", "", now, accrued)
    with engine.begin() as conn:  # after the day's interest fell due; idempotent by ref
        relieve_interest(conn, day, now)
    return json.loads(accrued)  # type: ignore[no-any-return]


def _gate_chunks(
    day: date,
    actions: list[PlannedAction],
    routed: pl.DataFrame,
    notice_due: dict[str, Any],
    validated: dict[str, Any],
    now: datetime,
    resume_after: str | None,
) -> tuple[list[ChunkInput], int]:
    """The day's actions and routings in chunks of borrowers, in borrower order, after the
    last borrower a resumed close had done; and how many borrowers that is."""
    by_borrower: dict[str, list[PlannedAction]] = defaultdict(list)
    for act in actions:
        by_borrower[act.borrower_id].append(act)
    routes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in routed.iter_rows(named=True):
        routes[r["borrower_id"]].append(r)
    ids = sorted(set(by_borrower) | set(routes))
    if resume_after is not None:
        ids = [b for b in ids if b > resume_after]
    chunks = []
    for k in range(0, len(ids), BORROWERS_PER_CHUNK):
        part = ids[k : k + BORROWERS_PER_CHUNK]
        mine = [a for b in part for a in by_borrower.get(b, ())]
        chunks.append(
            ChunkInput(
                day,
                mine,
                [r for b in part for r in routes.get(b, ())],
                {a.loan_id: notice_due[a.loan_id] for a in mine if a.loan_id in notice_due},
                now,
                validations={
                    a.loan_id: validated[a.loan_id] for a in mine if a.loan_id in validated
                },
            )
        )
    return chunks, len(ids)


def _run_gate(
    engine: Engine,
    day: date,
    config: CloseConfig,
    chunks: list[ChunkInput],
    borrowers: int,
    tally: Tally,
    now: datetime,
    progress: Progress | None,
    after_chunk: Callable[[int], None] | None,
) -> None:
    """Gate and apply each chunk in a transaction of its own that also records how far the
    day has got, so a crash resumes after the last chunk committed."""
    gate = config.gate
    # One connection for every chunk's transaction: checking one out of the pool pings the
    # server first, a round trip per chunk.
    with engine.connect() as conn:
        for n, (chunk, plan) in enumerate(plans(engine, chunks, gate, config.workers)):
            with conn.begin():
                tally.add(apply_chunk(conn, chunk, plan, gate))
                _mark(conn, day, "collection", chunk.borrower_ids[-1], now, tally.to_json())
            if progress:
                progress("gate", min((n + 1) * BORROWERS_PER_CHUNK, borrowers), borrowers)
            if after_chunk:
                after_chunk(n)


def _bucket_lines(conn: Connection) -> tuple[BucketLine, ...]:
    """One line per bucket of the active loans, summed in the database (exact: integer fen)."""
    loan_state = tables.loan_state
    overdue = tables.overdue_total()
    owed = tables.outstanding_total()
    buckets = conn.execute(
        select(loan_state.c.bucket, func.count(), func.sum(overdue), func.sum(owed))
        .where(loan_state.c.status == "active")
        .group_by(loan_state.c.bucket)
    ).all()
    return bucket_lines((b, int(n), int(o), int(s)) for b, n, o, s in buckets)


def _expire_calls(conn: Connection, day: date, now: datetime) -> int:
    """Expire the calls whose window has ended (``queue.expire_calls``), once per day: a
    resumed close reports the count its first run kept with the day."""
    kept = conn.execute(
        select(close_progress.c.tally).where(
            close_progress.c.business_date == day, close_progress.c.phase == "queue"
        )
    ).scalar()
    if kept is not None:
        return int(json.loads(kept)["expired"])
    n = expire_calls(conn, now)
    _mark(conn, day, "queue", "", now, json.dumps({"expired": n}))
    return n


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
