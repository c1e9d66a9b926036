"""The reference: today's treatments for one borrower, step by step, with the reasons.

`choose` is the specification `choose_frame` is held equal to. The rules, in order:

1. The borrower's policy is `assign(borrower_id, policies)`; their segment is the first of
   the policy's segments they match (or none).
2. Collection is paused by an open dispute, by hardship (when `hardship.pause_contact`), by
   a repayment plan in force, and by an open promise (`promise_until >= business_date`).
   A pause stops collection steps and the legal referral; `plan_reminder` steps run only
   while a plan is in force, whatever else holds.
3. A step fires when its timing holds (DPD band, or dpd == 0 with `days_to_due` in
   `before_due`; a recently broken promise lets `jump_to` steps fire at any DPD >= 1), every
   condition holds (min_overdue, segments, unreachable days, an emergency contact on file for
   emergency-contact steps) and its cadence allows (never sent, or sent `cadence_days` or more
   days ago; a date after the business date counts as not due).
4. A firing visit step with `requires_approval` and no approval on the case becomes a
   `visit_approval` routing instead of an action.
5. Routings: `dispute_review` while a dispute is open, `forbearance` while hardship is
   reported, `legal` from `legal.dpd_from` at or above `legal.min_overdue` unless paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from arrears.core.contact.action import PlannedAction
from arrears.core.money import fmt
from arrears.core.strategy.assign import assign
from arrears.core.strategy.case import CaseView
from arrears.core.strategy.model import Policy, PolicySet, Routing, RoutingKind, Segment, Step


@dataclass(frozen=True)
class Choice:
    actions: tuple[PlannedAction, ...]
    routings: tuple[Routing, ...]


Outcome = Literal["action", "routing", "skipped"]


@dataclass(frozen=True)
class StepTrace:
    """Why a step did or did not fire today. `reasons` lists every check that failed (for a
    skipped step) or the reason it fired."""

    step: str
    outcome: Outcome
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    policy: str
    segment: str | None
    paused_by: tuple[str, ...]
    promise_broken_recently: bool
    steps: tuple[StepTrace, ...]
    choice: Choice


def in_segment(case: CaseView, seg: Segment) -> bool:
    def within(value: int, lo: int | None, hi: int | None) -> bool:
        return (lo is None or value >= lo) and (hi is None or value <= hi)

    return (
        within(case.overdue_amount, seg.overdue_from, seg.overdue_to)
        and within(case.risk_score, seg.risk_from, seg.risk_to)
        and (seg.first_time is None or seg.first_time == (case.prior_cases == 0))
    )


def segment_of(case: CaseView, policy: Policy) -> str | None:
    return next((s.name for s in policy.segments if in_segment(case, s)), None)


def pauses(case: CaseView, policy: Policy) -> tuple[str, ...]:
    out: list[str] = []
    if case.dispute:
        out.append("a dispute is open")
    if case.hardship and policy.hardship_pauses_contact:
        out.append("hardship is reported")
    if case.plan_in_force:
        out.append("a repayment plan is in force")
    if case.promise_until is not None and case.promise_until >= case.business_date:
        out.append(f"a promise to pay is open until {case.promise_until.isoformat()}")
    return tuple(out)


def broken_recently(case: CaseView, policy: Policy) -> bool:
    broken = case.promise_broken_on
    if broken is None:
        return False
    return 0 <= (case.business_date - broken).days <= policy.broken_promise.within_days


def cadence_allows(last: date | None, today: date, cadence_days: int) -> bool:
    return last is None or (today - last).days >= cadence_days


def _timing(case: CaseView, step: Step, jump: bool) -> str | None:
    """None when the step's timing holds today, else why not."""
    if step.dpd_from is None:
        if case.dpd == 0 and case.days_to_due in step.before_due:
            return None
        days = ", ".join(map(str, step.before_due))
        return f"not {days} day(s) before a due date"
    if jump and case.dpd >= 1:
        return None
    upper = "" if step.dpd_to is None else f"..{step.dpd_to}"
    if case.dpd >= step.dpd_from and (step.dpd_to is None or case.dpd <= step.dpd_to):
        return None
    return f"DPD {case.dpd} outside {step.dpd_from}{upper}"


def evaluate_step(
    case: CaseView,
    policy: Policy,
    step: Step,
    segment: str | None,
    paused_by: tuple[str, ...],
    broken: bool,
) -> StepTrace:
    failed: list[str] = []
    if step.purpose == "plan_reminder":
        if not case.plan_in_force:
            failed.append("no repayment plan is in force")
    else:
        failed.extend(f"paused: {p}" for p in paused_by)
    jump = broken and step.name in policy.broken_promise.jump_to
    timing = _timing(case, step, jump)
    if timing is not None:
        failed.append(timing)
    if case.overdue_amount < step.min_overdue:
        failed.append(f"overdue {fmt(case.overdue_amount)} below {fmt(step.min_overdue)}")
    if step.segments and segment not in step.segments:
        failed.append(f"segment {segment or '(none)'} not in {', '.join(step.segments)}")
    if case.unreachable_days < step.unreachable_days_at_least:
        failed.append(
            f"unreachable {case.unreachable_days} day(s), fewer than "
            f"{step.unreachable_days_at_least}"
        )
    if step.party == "emergency_contact" and case.emergency_contacts < 1:
        failed.append("no emergency contact on file")
    last = case.last_sent.get(step.name)
    if not cadence_allows(last, case.business_date, step.cadence_days):
        failed.append(f"last sent {last}, cadence {step.cadence_days} day(s)")
    if failed:
        return StepTrace(step.name, "skipped", tuple(failed))
    if step.channel == "visit" and step.requires_approval and not case.visit_approved:
        return StepTrace(step.name, "routing", (visit_reason(step),))
    jumped = jump and _timing(case, step, False) is not None
    why = "a promise was broken: jumped to this step" if jumped else "all conditions hold"
    return StepTrace(step.name, "action", (why,))


def visit_reason(step: Step) -> str:
    return f"step {step.name}: visit conditions met; needs a supervisor's approval"


# The step a visit request was made for, read back from its reason (``visit_reason``): a
# visit counts as the step's last contact for its cadence from the day it was requested.
VISIT_REASON_STEP = r"^step (\S+): visit conditions met"


DISPUTE_REASON = "a dispute is open: contact paused pending review"
HARDSHIP_REASON = "hardship reported: review for forbearance"


def legal_reason(policy: Policy) -> str:
    assert policy.legal is not None
    return (
        f"DPD {policy.legal.dpd_from} or more with at least "
        f"{fmt(policy.legal.min_overdue)} overdue: legal referral"
    )


def explain(case: CaseView, policies: PolicySet) -> Explanation:
    policy = policies.get(assign(case.borrower_id, policies))
    segment = segment_of(case, policy)
    paused_by = pauses(case, policy)
    broken = broken_recently(case, policy)
    raise_by = policy.broken_promise.raise_priority if broken else 0

    def routing(kind: RoutingKind, reason: str) -> Routing:
        return Routing(
            case.borrower_id, case.loan_id, case.business_date, policy.name, kind, reason
        )

    routings: list[Routing] = []
    if case.dispute:
        routings.append(routing("dispute_review", DISPUTE_REASON))
    if case.hardship:
        routings.append(routing("forbearance", HARDSHIP_REASON))
    traces: list[StepTrace] = []
    actions: list[PlannedAction] = []
    for step in policy.steps:
        trace = evaluate_step(case, policy, step, segment, paused_by, broken)
        traces.append(trace)
        if trace.outcome == "routing":
            routings.append(routing("visit_approval", trace.reasons[0]))
        elif trace.outcome == "action":
            bump = raise_by if step.purpose == "collection" else 0
            actions.append(
                PlannedAction(
                    borrower_id=case.borrower_id,
                    loan_id=case.loan_id,
                    business_date=case.business_date,
                    policy=policy.name,
                    step=step.name,
                    channel=step.channel,
                    party=step.party,
                    template=step.template,
                    local_time=step.at,
                    priority=step.priority + bump,
                    purpose=step.purpose,
                )
            )
    legal = policy.legal
    if (
        legal is not None
        and not paused_by
        and case.dpd >= legal.dpd_from
        and case.overdue_amount >= legal.min_overdue
    ):
        routings.append(routing("legal", legal_reason(policy)))
    return Explanation(
        policy.name,
        segment,
        paused_by,
        broken,
        tuple(traces),
        Choice(tuple(actions), tuple(routings)),
    )


def choose(case: CaseView, policies: PolicySet) -> Choice:
    """Today's actions and routings for one borrower (the pure reference)."""
    return explain(case, policies).choice
