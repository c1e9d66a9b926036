"""From a planned action to the contact the gate checks, and from a decision to evidence.

Pure. The engine hands in the borrower's history and context (read in bulk from the stores)
and gets back, per action, the proposed contact and the gate's decision. A blocked action
becomes an evidence record naming every rule that blocked it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from typing import Any

from arrears.core.compliance import Contact, Context, Decision, LenderSettings, Pack, check
from arrears.core.contact.action import PlannedAction, action_key


def local_instant(day: date, at: time, zones: Sequence[tzinfo]) -> datetime:
    """``at`` on ``day`` in the borrower's first (home) zone; the gate checks it in every zone."""
    return datetime.combine(day, at, tzinfo=zones[0])


@dataclass(frozen=True)
class Gated:
    action: PlannedAction
    key: str
    contact: Contact
    decision: Decision


def gate_action(
    action: PlannedAction,
    history: Sequence[Contact],
    context: Context,
    pack: Pack,
    *,
    number: str,
    content: str,
    settings: LenderSettings | None = None,
) -> Gated:
    """Check one planned action as the contact it would be."""
    proposed = Contact(
        at=local_instant(action.business_date, action.local_time, context.timezones),
        debt_id=action.loan_id,
        channel=action.channel,
        party=action.party,
        number=number,
        content=content,
        purpose=action.purpose,
    )
    return Gated(
        action, action_key(action), proposed, check(history, proposed, context, pack, settings)
    )


def blocked_payload(g: Gated, pack: Pack) -> dict[str, Any]:
    """The evidence record of a blocked contact: what was proposed and every rule against it."""
    a = g.action
    return {
        "key": g.key,
        "loan_id": a.loan_id,
        "policy": a.policy,
        "step": a.step,
        "channel": a.channel,
        "party": a.party,
        "purpose": a.purpose,
        "proposed_at": g.contact.at.isoformat(),
        "pack": pack.id,
        "rules": [v.rule for v in g.decision.violations],
        "violations": [v.as_dict() for v in g.decision.violations],
    }
