"""What the policy chooses, case by case, against the rules as written in the brief and
docs/policy.md. Every scenario runs through both the reference `choose` and `choose_frame`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import time, timedelta
from typing import Any

import pytest

from arrears.core.strategy import (
    BrokenPromise,
    CaseView,
    Legal,
    PolicySet,
    Segment,
    cases_frame,
    choose,
    choose_frame,
    explain,
)
from arrears.services.policy_files import default_policy_set

from .helpers import TODAY, case, one, step

DEFAULT = default_policy_set()
Result = tuple[list[tuple[str, int]], list[str]]


def by_reference(c: CaseView, ps: PolicySet) -> Result:
    got = choose(c, ps)
    return [(a.step, a.priority) for a in got.actions], [r.kind for r in got.routings]


def by_frame(c: CaseView, ps: PolicySet) -> Result:
    frame, last = cases_frame([c])
    actions, routings = choose_frame(frame, last, ps)
    return (
        list(zip(actions["step"].to_list(), actions["priority"].to_list(), strict=True)),
        routings["kind"].to_list(),
    )


IMPLS = pytest.mark.parametrize("run", [by_reference, by_frame], ids=["reference", "frame"])
Run = Callable[[CaseView, PolicySet], Result]
ago = lambda days: TODAY - timedelta(days=days)  # noqa: E731


def fen(yuan: int) -> int:
    return yuan * 100


SCENARIOS: list[tuple[str, dict[str, Any], Result]] = [
    ("D-3 reminder", {"days_to_due": 3}, ([("sms_pre_due", 0)], [])),
    ("D-2 nothing", {"days_to_due": 2}, ([], [])),
    ("D-1 reminder", {"days_to_due": 1}, ([("sms_pre_due", 0)], [])),
    ("D-1 already sent today", {"days_to_due": 1, "last_sent": {"sms_pre_due": TODAY}}, ([], [])),
    ("DPD 1 first-time: SMS only", {"dpd": 1}, ([("sms_overdue", 0)], [])),
    (
        "DPD 1 high risk: SMS and early call",
        {"dpd": 1, "risk_score": 700},
        ([("sms_overdue", 0), ("call_early", 20)], []),
    ),
    (
        "DPD 3 repeat borrower: early call",
        {"dpd": 3, "prior_cases": 2},
        ([("sms_overdue", 0), ("call_early", 20)], []),
    ),
    ("DPD 4: daily call for everyone", {"dpd": 4}, ([("sms_overdue", 0), ("call_debtor", 10)], [])),
    (
        "SMS cadence 3: sent 2 days ago",
        {"dpd": 6, "last_sent": {"sms_overdue": ago(2)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "SMS cadence 3: sent 3 days ago",
        {"dpd": 6, "last_sent": {"sms_overdue": ago(3)}},
        ([("sms_overdue", 0), ("call_debtor", 10)], []),
    ),
    (
        "last_sent after the business date does not fire",
        {"dpd": 6, "last_sent": {"sms_overdue": ago(-1)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "emergency contact once unreachable 10 days",
        {"dpd": 15, "unreachable_days": 10, "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10), ("sms_emergency_contact", 5)], []),
    ),
    (
        "emergency contact: unreachable 9 days is too soon",
        {"dpd": 15, "unreachable_days": 9, "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "emergency contact: none on file",
        {
            "dpd": 15,
            "unreachable_days": 30,
            "emergency_contacts": 0,
            "last_sent": {"sms_overdue": ago(1)},
        },
        ([("call_debtor", 10)], []),
    ),
    (
        "emergency contact: DPD 14 is too early",
        {"dpd": 14, "unreachable_days": 30, "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "visit due, not approved: routing, no visit",
        {
            "dpd": 60,
            "overdue_amount": fen(3000),
            "unreachable_days": 14,
            "last_sent": {"sms_overdue": ago(1), "sms_emergency_contact": ago(1)},
        },
        ([("call_debtor", 10)], ["visit_approval"]),
    ),
    (
        "visit: reached within the last 14 days, the calls are working",
        {
            "dpd": 60,
            "overdue_amount": fen(3000),
            "unreachable_days": 13,
            "visit_approved": True,
            "last_sent": {"sms_overdue": ago(1), "sms_emergency_contact": ago(1)},
        },
        ([("call_debtor", 10)], []),
    ),
    (
        "visit due and approved",
        {
            "dpd": 60,
            "overdue_amount": fen(3000),
            "unreachable_days": 14,
            "visit_approved": True,
            "last_sent": {"sms_overdue": ago(1), "sms_emergency_contact": ago(1)},
        },
        ([("call_debtor", 10), ("home_visit", 30)], []),
    ),
    (
        "visit: 2999.99 overdue is below the bar",
        {
            "dpd": 60,
            "overdue_amount": fen(3000) - 1,
            "unreachable_days": 14,
            "visit_approved": True,
            "last_sent": {"sms_overdue": ago(1), "sms_emergency_contact": ago(1)},
        },
        ([("call_debtor", 10)], []),
    ),
    (
        "visit cadence 30 days",
        {
            "dpd": 80,
            "overdue_amount": fen(3000),
            "unreachable_days": 14,
            "visit_approved": True,
            "last_sent": {
                "sms_overdue": ago(1),
                "sms_emergency_contact": ago(1),
                "home_visit": ago(29),
            },
        },
        ([("call_debtor", 10)], []),
    ),
    (
        "legal referral at DPD 120 and 1000.00",
        {"dpd": 120, "overdue_amount": fen(1000), "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10)], ["legal"]),
    ),
    (
        "no legal referral at DPD 119",
        {"dpd": 119, "overdue_amount": fen(1000), "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "no legal referral below 1000.00",
        {"dpd": 150, "overdue_amount": fen(1000) - 1, "last_sent": {"sms_overdue": ago(1)}},
        ([("call_debtor", 10)], []),
    ),
    (
        "open promise (through today) pauses collection and legal",
        {"dpd": 130, "overdue_amount": fen(5000), "promise_until": TODAY},
        ([], []),
    ),
    (
        "promise expired yesterday: collection resumes",
        {"dpd": 5, "promise_until": ago(1)},
        ([("sms_overdue", 0), ("call_debtor", 10)], []),
    ),
    (
        "promise broken 5 days ago at DPD 2: jump to daily calls, priority raised",
        {"dpd": 2, "promise_broken_on": ago(5)},
        ([("sms_overdue", 20), ("call_debtor", 30)], []),
    ),
    (
        "promise broken 14 days ago still escalates",
        {"dpd": 2, "promise_broken_on": ago(14)},
        ([("sms_overdue", 20), ("call_debtor", 30)], []),
    ),
    (
        "promise broken 15 days ago no longer escalates",
        {"dpd": 2, "promise_broken_on": ago(15)},
        ([("sms_overdue", 0)], []),
    ),
    (
        "hardship: forbearance, contact paused",
        {"dpd": 30, "hardship": True, "unreachable_days": 30},
        ([], ["forbearance"]),
    ),
    (
        "dispute: review, contact and legal paused",
        {"dpd": 200, "overdue_amount": fen(9000), "dispute": True},
        ([], ["dispute_review"]),
    ),
    (
        "plan in force: plan reminder instead of pre-due reminder",
        {"days_to_due": 3, "plan_in_force": True},
        ([("plan_reminder", 0)], []),
    ),
    ("plan in force, overdue: collection paused", {"dpd": 10, "plan_in_force": True}, ([], [])),
    (
        "plan in force with a dispute: plan reminders still go",
        {"days_to_due": 1, "plan_in_force": True, "dispute": True},
        ([("plan_reminder", 0)], ["dispute_review"]),
    ),
]


@IMPLS
@pytest.mark.parametrize(("name", "fields", "expected"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_default_policy(run: Run, name: str, fields: dict[str, Any], expected: Result) -> None:
    assert run(case(**fields), DEFAULT) == expected


@IMPLS
def test_hardship_without_pause_keeps_contact(run: Run) -> None:
    ps = one(step("sms", cadence_days=3), hardship_pauses_contact=False)
    assert run(case(dpd=5, hardship=True), ps) == ([("sms", 0)], ["forbearance"])


@IMPLS
def test_segments_first_match_wins_and_bounds_are_inclusive(run: Run) -> None:
    segs = (
        Segment("big", overdue_from=fen(5000), overdue_to=fen(9000)),
        Segment("risky", risk_from=600, risk_to=800),
        Segment("new", first_time=True),
    )
    ps = one(
        step("for_big", segments=("big",)),
        step("for_risky", segments=("risky",)),
        step("for_new", segments=("new",)),
        step("for_all"),
        segments=segs,
    )
    fire = lambda **kw: [s for s, _ in run(case(dpd=1, **kw), ps)[0]]  # noqa: E731
    assert fire(overdue_amount=fen(9000), risk_score=700) == ["for_big", "for_all"]
    assert fire(overdue_amount=fen(9000) + 1, risk_score=700) == ["for_risky", "for_all"]
    assert fire(overdue_amount=fen(4999), risk_score=800) == ["for_risky", "for_all"]
    assert fire(overdue_amount=0, risk_score=801) == ["for_new", "for_all"]
    assert fire(overdue_amount=0, risk_score=599, prior_cases=1) == ["for_all"]


@IMPLS
def test_visit_without_required_approval_is_an_action(run: Run) -> None:
    ps = one(step("v", channel="visit", requires_approval=False))
    assert run(case(dpd=1), ps) == ([("v", 0)], [])


@IMPLS
def test_broken_promise_jump_ignores_band_but_not_other_conditions(run: Run) -> None:
    ps = one(
        step("late_call", channel="call", dpd_from=30, min_overdue=fen(100), priority=1),
        broken_promise=BrokenPromise(within_days=3, raise_priority=5, jump_to=("late_call",)),
    )
    broke = {"promise_broken_on": ago(0)}
    assert run(case(dpd=1, overdue_amount=fen(100), **broke), ps) == ([("late_call", 6)], [])
    assert run(case(dpd=1, overdue_amount=fen(99), **broke), ps) == ([], [])
    assert run(case(dpd=0, days_to_due=1, overdue_amount=fen(100), **broke), ps) == ([], [])
    # A break recorded after the business date is not a recent break.
    assert run(case(dpd=1, overdue_amount=fen(100), promise_broken_on=ago(-1)), ps) == ([], [])


@IMPLS
def test_legal_with_zero_minimum(run: Run) -> None:
    ps = one(step("s", dpd_from=500), legal=Legal(dpd_from=90))
    assert run(case(dpd=90), ps) == ([], ["legal"])
    assert run(case(dpd=89), ps) == ([], [])


def test_actions_carry_policy_step_template_time_and_purpose() -> None:
    got = choose(
        case(dpd=60, overdue_amount=fen(3000), unreachable_days=14, visit_approved=True), DEFAULT
    )
    visit = next(a for a in got.actions if a.step == "home_visit")
    assert (visit.policy, visit.channel, visit.party, visit.template, visit.local_time) == (
        "default",
        "visit",
        "debtor",
        "home_visit_script",
        time(10, 0),
    )
    assert (visit.borrower_id, visit.loan_id, visit.business_date) == ("B1", "L1", TODAY)
    got = choose(case(dpd=0, days_to_due=1, plan_in_force=True), DEFAULT)
    assert [a.purpose for a in got.actions] == ["plan_reminder"]
    routed = choose(case(dpd=60, overdue_amount=fen(3000), unreachable_days=14), DEFAULT).routings[
        0
    ]
    assert (routed.policy, routed.kind, routed.borrower_id) == ("default", "visit_approval", "B1")
    assert "home_visit" in routed.reason and "approval" in routed.reason


def test_explain_says_why_steps_are_skipped() -> None:
    ex = explain(case(dpd=15, unreachable_days=3, promise_until=TODAY), DEFAULT)
    traces = {t.step: t for t in ex.steps}
    assert ex.paused_by == (f"a promise to pay is open until {TODAY.isoformat()}",)
    ec = traces["sms_emergency_contact"]
    assert ec.outcome == "skipped"
    assert ec.reasons == (
        f"paused: a promise to pay is open until {TODAY.isoformat()}",
        "unreachable 3 day(s), fewer than 10",
    )
    assert ex.choice.actions == ()


def test_never_paying_borrower_escalates_in_the_seed_order() -> None:
    """Day by day from D-3 to DPD 130, never reached, never paying, visit approved once asked:
    each treatment first appears in the seed's order (reminders, SMS, calls, emergency
    contacts, visit, legal) and repeats at its cadence."""
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    sent: dict[str, Any] = {}
    approved = False
    start = TODAY
    for offset in range(-3, 131):
        day = start + timedelta(days=offset + 3)
        c = case(
            business_date=day,
            dpd=max(offset, 0),
            days_to_due=-offset if offset <= 0 else None,
            overdue_amount=fen(4000) if offset > 0 else 0,
            unreachable_days=max(offset, 0),
            prior_cases=0,
            visit_approved=approved,
            last_sent=dict(sent),
        )
        got = choose(c, DEFAULT)
        for a in got.actions:
            first.setdefault(a.step, offset)
            counts[a.step] = counts.get(a.step, 0) + 1
            sent[a.step] = day
        for r in got.routings:
            first.setdefault(r.kind, offset)
            if r.kind == "visit_approval":
                approved = True  # a supervisor approves the next morning
    order = [
        "sms_pre_due",
        "sms_overdue",
        "call_debtor",
        "sms_emergency_contact",
        "visit_approval",
        "home_visit",
        "legal",
    ]
    assert [first[k] for k in order] == [-3, 1, 4, 15, 60, 61, 120]
    assert counts["sms_pre_due"] == 2  # D-3 and D-1
    assert counts["call_debtor"] == 127  # daily from DPD 4 to 130
    assert counts["sms_overdue"] == len(range(1, 131, 3))
    assert counts["sms_emergency_contact"] == len(range(15, 131, 7))
    assert counts["home_visit"] == len(range(61, 131, 30))
    assert "call_early" not in first  # a first-time, low-risk borrower


def test_reference_is_pure() -> None:
    c = case(dpd=5)
    assert choose(c, DEFAULT) == choose(replace(c), DEFAULT)
