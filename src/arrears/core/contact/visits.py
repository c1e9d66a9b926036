"""Field visits, pure: the proposed visit as the compliance gate sees it, and its validation.

The rules themselves (two registered collectors trained in the last 12 months, daytime per
pack, approval on record, prior notice, no visit to a vulnerable customer) live in the gate's
rule packs; this module only builds the proposed ``Contact`` and asks ``compliance.check``, so
a visit is judged by exactly the rules every other contact is judged by.

The whole window must be allowed, so the gate is asked twice: at the window's start and at its
last minute (hours are half-open, so a window ending at 22:00 is fine in CN, one ending at
22:01 is not). The notice rule can be left out while a visit is being assigned (the notice
goes out after the assignment says who is coming); it is applied when the notice is recorded
and whenever the visit is listed for the field team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from arrears.core.compliance import Contact, Context, Pack, check
from arrears.core.compliance.model import Violation

NOTICE_RULE_SUFFIX = ".visit.notice"


@dataclass(frozen=True, slots=True)
class VisitPlan:
    borrower_id: str
    loan_id: str
    collectors: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    address: str = ""


@dataclass(frozen=True, slots=True)
class VisitRefusal:
    """Why a visit may not go ahead: the gate's rule id (or ``visit.window``) and a message."""

    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


def proposed_contact(plan: VisitPlan, at: datetime) -> Contact:
    return Contact(
        at=at,
        debt_id=plan.loan_id,
        channel="visit",
        party="debtor",
        number=plan.address,
        collectors=plan.collectors,
    )


def validate_visit(
    plan: VisitPlan,
    context: Context,
    pack: Pack,
    history: Iterable[Contact] = (),
    *,
    require_notice: bool = True,
) -> list[VisitRefusal]:
    """Every reason the visit may not go ahead; empty when it may."""
    if plan.window_start.utcoffset() is None or plan.window_end.utcoffset() is None:
        return [VisitRefusal("visit.window", "the window must carry a time-zone offset")]
    if plan.window_end <= plan.window_start:
        return [VisitRefusal("visit.window", "the window must end after it starts")]
    past = tuple(history)
    found: dict[str, VisitRefusal] = {}
    last_minute = max(plan.window_start, plan.window_end - timedelta(minutes=1))
    for at in (plan.window_start, last_minute):
        decision = check(past, proposed_contact(plan, at), context, pack)
        for v in decision.violations:
            if not require_notice and v.rule.endswith(NOTICE_RULE_SUFFIX):
                continue
            found.setdefault(v.rule, _refusal(v))
    return list(found.values())


def _refusal(v: Violation) -> VisitRefusal:
    return VisitRefusal(v.rule, v.message)
