"""`choose_frame` equals the reference `choose` on random cases under random policy sets."""

from __future__ import annotations

import random
from datetime import date, time, timedelta
from types import MappingProxyType
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.core.strategy import (
    BrokenPromise,
    CaseFrameError,
    CaseView,
    Legal,
    Policy,
    PolicySet,
    Segment,
    Step,
    cases_frame,
    choose,
    choose_frame,
    policy_set,
)
from factories import succeeded

STEP_NAMES = ["a", "b", "c", "d", "e", "f"]
SEGMENT_NAMES = ["s1", "s2", "s3"]
BASE = date(2026, 3, 10)


def opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | s


# Pauses are rare, so that most generated cases reach the step conditions.
rarely = st.sampled_from([False, False, False, False, True])


@st.composite
def segments(draw: st.DrawFn) -> tuple[Segment, ...]:
    names = draw(st.lists(st.sampled_from(SEGMENT_NAMES), unique=True, max_size=3))
    out = []
    for n in names:
        lo, hi = sorted(draw(st.lists(st.integers(0, 20_000), min_size=2, max_size=2)))
        rlo, rhi = sorted(draw(st.lists(st.integers(0, 1000), min_size=2, max_size=2)))
        out.append(
            Segment(
                n,
                overdue_from=draw(st.sampled_from([None, lo])),
                overdue_to=draw(st.sampled_from([None, hi])),
                first_time=draw(opt(st.booleans())),
                risk_from=draw(st.sampled_from([None, rlo])),
                risk_to=draw(st.sampled_from([None, rhi])),
            )
        )
    return tuple(out)


@st.composite
def steps(draw: st.DrawFn, name: str, seg_names: list[str]) -> Step:
    channel = draw(st.sampled_from(["sms", "call", "email", "letter", "visit"]))
    purpose = draw(st.sampled_from(["collection", "collection", "plan_reminder"]))
    party = (
        "debtor"
        if channel == "visit" or purpose != "collection"
        else draw(st.sampled_from(["debtor", "emergency_contact"]))
    )
    timing: dict[str, Any]
    if draw(st.booleans()):
        lo = draw(st.sampled_from([1, 1, 2, 4, 15, 30, 60]) | st.integers(1, 90))
        if purpose != "collection":
            lo = draw(st.sampled_from([0, lo]))
        hi = draw(st.none() | st.none() | st.integers(lo, 120))
        timing = {"dpd_from": lo, "dpd_to": hi}
    else:
        timing = {
            "before_due": tuple(
                draw(st.lists(st.integers(0, 5), unique=True, min_size=1, max_size=3))
            )
        }
    return Step(
        name=name,
        channel=channel,
        party=party,
        template=f"t_{name}",
        at=time(draw(st.integers(0, 23)), draw(st.integers(0, 59))),
        cadence_days=draw(st.integers(1, 10)),
        min_overdue=draw(st.sampled_from([0, 0, 0, 500, 5_000, 50_000])),
        segments=tuple(draw(st.lists(st.sampled_from(seg_names), unique=True)))
        if seg_names and draw(rarely)
        else (),
        unreachable_days_at_least=draw(st.sampled_from([0, 0, 0, 3, 10])),
        requires_approval=channel == "visit" and draw(st.booleans()),
        priority=draw(st.integers(-5, 30)),
        purpose=purpose,
        **timing,
    )


@st.composite
def policies(draw: st.DrawFn, name: str) -> Policy:
    segs = draw(segments())
    names = draw(st.lists(st.sampled_from(STEP_NAMES), unique=True, min_size=1, max_size=6))
    ss = tuple(draw(steps(n, [s.name for s in segs])) for n in names)
    jumpable = [s.name for s in ss if s.dpd_from is not None and s.purpose == "collection"]
    broken = BrokenPromise(
        within_days=draw(st.integers(0, 10)),
        raise_priority=draw(st.integers(0, 20)),
        jump_to=tuple(draw(st.lists(st.sampled_from(jumpable), unique=True))) if jumpable else (),
    )
    legal = draw(opt(st.builds(Legal, st.integers(1, 150), st.sampled_from([0, 10_000]))))
    return Policy(name, ss, segs, broken, draw(st.booleans()), legal)


@st.composite
def policy_sets(draw: st.DrawFn) -> PolicySet:
    k = draw(st.integers(1, 3))
    cuts = sorted(draw(st.lists(st.integers(1, 99), unique=True, min_size=k - 1, max_size=k - 1)))
    shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    members = [(draw(policies(f"pol{i}")), s) for i, s in enumerate(shares)]
    ps = succeeded(policy_set(members))
    return ps


@st.composite
def cases(draw: st.DrawFn, borrower: str) -> CaseView:
    day = BASE + timedelta(days=draw(st.integers(0, 3)))
    dpd = draw(
        st.sampled_from([0, 0, 1, 2, 3, 4, 5, 10, 15, 30, 60, 61, 90, 91, 150])
        | st.integers(0, 200)
    )
    # Day offsets cluster on the cadence and window boundaries the rules compare against.
    edges = st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 14]) | st.integers(-20, 40)
    near = edges.map(lambda d: day - timedelta(days=d))
    sent = draw(st.dictionaries(st.sampled_from(STEP_NAMES), near, max_size=3))
    return CaseView(
        borrower_id=borrower,
        loan_id=f"L-{borrower}",
        business_date=day,
        dpd=dpd,
        days_to_due=draw(opt(st.integers(0, 6))) if dpd == 0 else None,
        overdue_amount=draw(st.sampled_from([0, 499, 500, 5_000, 50_000, 10**6, 10**8])),
        outstanding_amount=draw(st.integers(0, 10**9)),
        risk_score=draw(st.integers(0, 1000)),
        prior_cases=draw(st.integers(0, 3)),
        promise_until=draw(st.none() | st.none() | near),
        promise_broken_on=draw(st.none() | near),
        hardship=draw(rarely),
        dispute=draw(rarely),
        plan_in_force=draw(rarely),
        unreachable_days=draw(st.integers(0, 30)),
        visit_approved=draw(st.booleans()),
        emergency_contacts=draw(st.integers(0, 2)),
        last_sent=MappingProxyType(sent),
    )


@st.composite
def portfolios(draw: st.DrawFn) -> list[CaseView]:
    n = draw(st.integers(1, 25))
    return [draw(cases(f"B{i}")) for i in range(n)]


def random_case(rng: random.Random, borrower: str) -> CaseView:
    """A plain random case for bulk checks, its values clustered on the rules' boundaries."""
    day = BASE + timedelta(days=rng.randint(0, 3))
    dpd = rng.choice(
        [0, 0, 1, 2, 3, 4, 5, 10, 14, 15, 30, 59, 60, 61, 90, 120, 150, rng.randint(0, 200)]
    )

    def near() -> date:
        return day - timedelta(
            days=rng.choice([-1, 0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 14, rng.randint(-20, 40)])
        )

    def rarely() -> bool:
        return rng.random() < 0.15

    return CaseView(
        borrower_id=borrower,
        loan_id=f"L-{borrower}",
        business_date=day,
        dpd=dpd,
        days_to_due=rng.choice([None, 0, 1, 2, 3, 4, 5]) if dpd == 0 else None,
        overdue_amount=rng.choice(
            [0, 499, 500, 5_000, 50_000, 10**6, 10**8, rng.randint(0, 10**7)]
        ),
        outstanding_amount=rng.randint(0, 10**9),
        risk_score=rng.randint(0, 1000),
        prior_cases=rng.choice([0, 0, 1, 2]),
        promise_until=near() if rarely() else None,
        promise_broken_on=near() if rng.random() < 0.3 else None,
        hardship=rarely(),
        dispute=rarely(),
        plan_in_force=rarely(),
        unreachable_days=rng.choice([0, 2, 3, 4, 9, 10, 11, 30, rng.randint(0, 60)]),
        visit_approved=rng.random() < 0.5,
        emergency_contacts=rng.choice([0, 1, 1, 2]),
        last_sent=MappingProxyType({n: near() for n in STEP_NAMES if rng.random() < 0.25}),
    )


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in frame.iter_rows()]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=policy_sets(), portfolio=portfolios())
def test_frame_equals_reference(ps: PolicySet, portfolio: list[CaseView]) -> None:
    _check(ps, portfolio)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=policy_sets(), seed=st.integers(0, 2**32))
def test_frame_equals_reference_in_bulk(ps: PolicySet, seed: int) -> None:
    """Many cases per policy set: hypothesis picks the policies, a seeded generator the cases."""
    rng = random.Random(seed)
    _check(ps, [random_case(rng, f"B{i:04d}") for i in range(400)])


def _check(ps: PolicySet, portfolio: list[CaseView]) -> None:
    frame, last = cases_frame(portfolio)
    actions, routings = choose_frame(frame, last, ps)
    want_actions: list[tuple[Any, ...]] = []
    want_routings: list[tuple[Any, ...]] = []
    for c in portfolio:  # the frame keeps the cases' order
        got = choose(c, ps)
        want_actions += [
            (
                a.borrower_id,
                a.loan_id,
                a.business_date,
                a.policy,
                a.step,
                a.channel,
                a.party,
                a.template,
                a.local_time,
                a.priority,
                a.purpose,
            )
            for a in got.actions
        ]
        want_routings += [
            (r.borrower_id, r.loan_id, r.business_date, r.policy, r.kind, r.reason)
            for r in got.routings
        ]
    assert _rows(actions) == want_actions
    assert _rows(routings) == want_routings


def test_bad_frames_are_named() -> None:
    from .helpers import case, one, step

    ps = one(step("s"))
    frame, last = cases_frame([case(dpd=1)])
    with pytest.raises(CaseFrameError, match="cases: missing column"):
        choose_frame(frame.drop("dpd"), last, ps)
    with pytest.raises(CaseFrameError, match="cases: column hardship has nulls"):
        choose_frame(frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("hardship")), last, ps)
    with pytest.raises(CaseFrameError, match="last_sent: missing column"):
        choose_frame(frame, last.drop("last_date"), ps)
    with pytest.raises(CaseFrameError, match="cases"):
        choose_frame(frame.with_columns(pl.lit("x").alias("dpd")), last, ps)


def test_duplicate_last_sent_rows_take_the_latest() -> None:
    from .helpers import case, one, step

    ps = one(step("s", cadence_days=3))
    frame, _ = cases_frame([case(dpd=1)])
    last = pl.DataFrame(
        {
            "borrower_id": ["B1", "B1"],
            "step": ["s", "s"],
            "last_date": [BASE - timedelta(days=5), BASE - timedelta(days=1)],
        }
    )
    actions, _ = choose_frame(frame, last, ps)
    assert actions.height == 0
