"""The set-based cases and choose phases hold equal to the per-borrower code they replaced.

A generated portfolio is run through simulated days (``arrears.core.sim``: borrowers who pay late
or never, calls answered or not, promises kept and broken, visits requested, approved and
made, credit notices delivered), and every day each phase is run both ways on the same
database state:

* writes (``sync_cases``, ``check_promises``, recording delivered credit notices): the
  reference (``close_reference``, the old per-borrower code) runs inside a savepoint, the
  tables it touched and the whole evidence log are read, the savepoint is rolled back, the
  new code runs, and the tables and evidence must be the same, record for record (hashes
  included), and so must the returned counts;
* the policy's input: ``case_frames`` must equal the old ``case_views`` turned into frames by
  the old ``_frames``, and the new ``case_views`` the old one, row for row;
* the report: the close's bucket lines and roll rates must equal those the old per-loan reads
  give from the state before and after the close.

Between days, flags the simulation does not produce are set on some cases (hardship, dispute,
a plan in force), some borrowers lose their profile (default risk score) or their emergency
contacts, so that every column of the policy's input takes more than one value. The test
then checks that each kind of event did happen, so that it cannot pass by comparing nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import close_reference as ref
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Connection, Engine, delete, select, update

import arrears.services.close.day as day_mod
import arrears.services.simulation.operation as run_mod
from arrears.core.close.report import CloseReport, bucket_lines, roll_rates
from arrears.core.strategy.frame import choose_frame
from arrears.core.strategy.model import PolicySet
from arrears.services.close.day import CloseConfig
from arrears.services.collection import case_frames as case_frames_mod
from arrears.services.collection import cases as cases_mod
from arrears.services.collection import promises as promises_mod
from arrears.services.collection.case_frames import CaseFrames
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.services.simulation.operation import simulate
from arrears.store.case_tables import cases, promises
from arrears.store.credit_tables import credit_notices
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

START = date(2026, 1, 5)
DAYS = 45
LOANS = 60
SEED = 11


def _visits_sooner(policies: PolicySet) -> PolicySet:
    """The default policy with its home visit not waiting for two weeks of failed calls: in a
    45-day run of 60 loans the default asks for none, and the visit facts must occur."""
    members = tuple(
        replace(
            m,
            policy=replace(
                m.policy,
                steps=tuple(
                    replace(s, unreachable_days_at_least=0) if s.channel == "visit" else s
                    for s in m.policy.steps
                ),
            ),
        )
        for m in policies.members
    )
    return replace(policies, members=members)


POLICIES = _visits_sooner(default_policy_set())
WITH_CASES = ("cases", "promises", "evidence")  # the credit notices go beside them

pytestmark = pytest.mark.slow


def _state(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """What the cases phase may write, ids that a rolled-back sequence may skip left out."""
    c, p, n, r = cases, promises, credit_notices, evidence_records
    return {
        "cases": sorted(
            tuple(row)
            for row in conn.execute(
                select(*(col for col in c.columns if col.name != "case_id"))
            ).all()
        ),
        "promises": [tuple(row) for row in conn.execute(select(p).order_by(p.c.promise_id))],
        "credit_notices": sorted(
            (row.key, row.loan_id, row.sent_at, row.channel)
            for row in conn.execute(select(n)).all()
        ),
        "evidence": [
            tuple(row)
            for row in conn.execute(
                select(r.c.borrower_id, r.c.seq, r.c.at, r.c.kind, r.c.payload, r.c.hash).order_by(
                    r.c.borrower_id, r.c.seq
                )
            )
        ],
    }


def _both_ways(
    name: str,
    new: Callable[..., Any],
    old: Callable[..., Any],
    seen: Counter[str],
    only: tuple[str, ...] | None = None,
) -> Callable[..., Any]:
    """``only``: the tables to compare, when other steps of the close write the rest at the
    same time (on PostgreSQL the credit notices are recorded beside the cases)."""

    def state(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
        full = _state(conn)
        return full if only is None else {k: full[k] for k in only}

    def run(conn: Connection, *args: Any) -> Any:
        before = state(conn)
        point = conn.begin_nested()
        expected = old(conn, *args)
        wanted = state(conn)
        point.rollback()
        assert state(conn) == before  # the savepoint really undid the reference's writes
        got = new(conn, *args)
        after = state(conn)
        for table in wanted:
            assert after[table] == wanted[table], f"{name}: {table} differs"
        assert got == expected, name
        seen[f"{name}.calls"] += 1
        if "evidence" in after:
            seen[f"{name}.evidence"] += len(after["evidence"]) - len(before["evidence"])
        return got

    return run


def _frames_both_ways(
    seen: Counter[str],
) -> Callable[[Connection, date, int | None], CaseFrames]:
    def run(conn: Connection, day: date, due_within: int | None = None) -> CaseFrames:
        got = case_frames_mod.case_frames(conn, day)
        # What the close reads: the next due date only as far ahead as a step reminds. The
        # same frame but for the days to due beyond that, and the same choice of the day.
        assert due_within == POLICIES.due_horizon >= 0
        near = case_frames_mod.case_frames(conn, day, due_within=due_within)
        far = pl.col("days_to_due") > due_within
        assert_frame_equal(
            near.cases,
            got.cases.with_columns(
                pl.when(far).then(None).otherwise("days_to_due").alias("days_to_due")
            ),
        )
        seen["days_to_due_beyond"] += int(got.cases.select(far.sum()).item())
        chosen, routed = choose_frame(got.cases, got.last_sent, POLICIES)
        near_chosen, near_routed = choose_frame(near.cases, near.last_sent, POLICIES)
        assert_frame_equal(near_chosen, chosen)
        assert_frame_equal(near_routed, routed)
        pre_due = [s.name for m in POLICIES.members for s in m.policy.steps if s.before_due]
        seen["pre_due_actions"] += int(chosen["step"].is_in(pre_due).sum())
        views = ref.case_views(conn, day)
        want_cases, want_sent = ref.frames(views, day)
        assert_frame_equal(got.cases, want_cases)
        order = ["borrower_id", "step"]
        assert_frame_equal(got.last_sent.sort(order), want_sent.sort(order))
        assert got.open_cases == sum(1 for v in views if v["case_id"] is not None)
        assert case_frames_mod.case_views(conn, day) == views
        frame = got.cases
        seen["borrowers"] += frame.height
        seen["open_cases"] += got.open_cases
        seen["last_sent"] += got.last_sent.height
        for flag in ("hardship", "dispute", "plan_in_force", "visit_approved"):
            seen[flag] += int(frame[flag].sum())
        seen["promise_until"] += frame["promise_until"].is_not_null().sum()
        seen["promise_broken_on"] += frame["promise_broken_on"].is_not_null().sum()
        seen["days_to_due"] += frame["days_to_due"].is_not_null().sum()
        seen["unreachable_7"] += int((frame["unreachable_days"] >= 7).sum())
        seen["default_risk"] += int((frame["risk_score"] == 500).sum())
        seen["no_emergency"] += int((frame["emergency_contacts"] == 0).sum())
        seen["prior_cases"] += int((frame["prior_cases"] > 0).sum())
        seen["several_loans"] += sum(1 for v in views if v["loans"] > 1)
        return near

    return run


def _close_both_ways(seen: Counter[str]) -> Callable[..., CloseReport]:
    real = run_mod.close_business_day

    def run(engine: Engine, day: date, config: CloseConfig, **kw: Any) -> CloseReport:
        with engine.connect() as conn:
            before = ref.bucket_snapshot(conn)
        report = real(engine, day, config, **kw)
        with engine.connect() as conn:
            after = ref.active_loans(conn)
        moves = Counter((before[lid], b) for lid, b, _, _ in after if lid in before)
        assert report.buckets == bucket_lines((b, 1, int(o), int(s)) for _, b, o, s in after)
        assert report.rolls == roll_rates((a, b, n) for (a, b), n in moves.items())
        seen["rolls_moved"] += sum(n for (a, b), n in moves.items() if a != b)
        return report

    return run


def _stir(engine: Engine, day: date, report: CloseReport) -> None:
    """Between days: case flags and profile facts the simulation does not produce itself."""
    rng = random.Random(day.toordinal())
    with engine.begin() as conn:
        open_ids = sorted(
            conn.execute(select(cases.c.borrower_id).where(cases.c.closed_on.is_(None))).scalars()
        )
        marked = {scenario.NEVER, scenario.PROMISER}  # their story is the other tests'
        for b in (x for x in open_ids if x not in marked):
            roll = rng.random()
            if roll < 0.04:
                flag = rng.choice(("hardship", "dispute", "plan_in_force"))
                cases_mod.set_case_flag(conn, b, flag, rng.random() < 0.7)
            elif roll < 0.06:
                conn.execute(delete(borrower_profiles).where(borrower_profiles.c.borrower_id == b))
            elif roll < 0.08:
                conn.execute(
                    delete(emergency_contacts).where(emergency_contacts.c.borrower_id == b)
                )
            elif roll < 0.10:
                conn.execute(
                    update(borrower_profiles)
                    .where(borrower_profiles.c.borrower_id == b)
                    .values(risk_score=rng.randrange(0, 1001))
                )


def test_set_based_cases_and_choose_equal_the_per_borrower_code(
    db_url: str, monkeypatch: Any
) -> None:
    engine = make_engine(db_url)
    try:
        sc = scenario.build(engine, START, loans=LOANS, seed=SEED, pack="cn", days=DAYS)
        seen: Counter[str] = Counter()
        monkeypatch.setattr(
            day_mod,
            "sync_cases",
            _both_ways("sync", cases_mod.sync_cases, ref.sync_cases, seen, only=WITH_CASES),
        )
        monkeypatch.setattr(
            day_mod,
            "check_promises",
            _both_ways(
                "promises",
                promises_mod.check_promises,
                ref.check_promises,
                seen,
                only=WITH_CASES,
            ),
        )
        monkeypatch.setattr(
            day_mod,
            "_record_delivered_notices",
            _both_ways(
                "notices",
                day_mod._record_delivered_notices,
                ref.record_delivered_notices,
                seen,
                only=("credit_notices",),
            ),
        )
        monkeypatch.setattr(day_mod, "case_frames", _frames_both_ways(seen))
        monkeypatch.setattr(run_mod, "close_business_day", _close_both_ways(seen))
        config = CloseConfig(POLICIES, default_pack="cn")
        result = simulate(
            engine,
            START,
            DAYS,
            config,
            sc.behaviours,
            sc.payments,
            seed=SEED,
            on_day=lambda d, r: _stir(engine, d, r),
        )
        with engine.connect() as conn:
            statuses = Counter(conn.execute(select(promises.c.status)).scalars())
            closed = conn.execute(
                select(cases.c.case_id).where(cases.c.closed_on.is_not(None))
            ).all()
    finally:
        engine.dispose()
    # Every phase ran every day, and each kind of fact occurred at least once.
    assert seen["sync.calls"] == seen["promises.calls"] == seen["notices.calls"] == DAYS
    assert seen["sync.evidence"] > 0 and len(closed) > 0, seen
    assert seen["promises.evidence"] > 0 and statuses["kept"] and statuses["broken"], statuses
    with make_engine(db_url).connect() as conn:
        assert conn.execute(select(credit_notices.c.key)).first() is not None
    for fact in (
        "open_cases",
        "last_sent",
        "hardship",
        "dispute",
        "plan_in_force",
        "visit_approved",
        "promise_until",
        "promise_broken_on",
        "days_to_due",
        "unreachable_7",
        "default_risk",
        "no_emergency",
        "prior_cases",
        "rolls_moved",
        "days_to_due_beyond",
        "pre_due_actions",
    ):
        assert seen[fact] > 0, (fact, seen)
    assert result.visits_reported > 0 and result.promises > 0


def test_moves_and_frames_of_nothing() -> None:
    """Empty portfolios: no rows in, empty frames and no moves out (no schema surprises)."""
    empty = pl.DataFrame(schema={"loan_id": pl.String(), "bucket": pl.String()})
    assert day_mod._moves(empty, empty) == []
    one = pl.DataFrame({"loan_id": ["a", "b", "c"], "bucket": ["C", "M1", "M1"]})
    two = pl.DataFrame({"loan_id": ["a", "b", "d"], "bucket": ["M1", "M1", "C"]})
    assert day_mod._moves(one, two) == [["C", "M1", 1], ["M1", "M1", 1]]
