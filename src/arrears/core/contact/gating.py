"""From a planned action to the contact the gate checks, and from a decision to evidence.

Pure. The engine hands in the borrower's history and context (read in bulk from the stores)
and gets back, per action, the proposed contact and the gate's decision. A blocked action
becomes an evidence record naming every rule that blocked it; an allowed one, a record of
the plan naming the pack that allowed it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from arrears.core.compliance import Contact, Context, Decision, LenderSettings, Pack, check
from arrears.core.contact.action import PlannedAction, action_key


def local_instant(day: date, at: time, zones: Sequence[tzinfo]) -> datetime:
    """``at`` on ``day`` in the borrower's first (home) zone; the gate checks it in every zone."""
    return datetime.combine(day, at, tzinfo=zones[0])


def window_end(at: datetime) -> datetime:
    """A contact the gate allowed at ``at`` may be made until 20:00 that local day, inside
    every pack's hours; later, the message or the call expires rather than go out at night."""
    late = at.replace(hour=20, minute=0, second=0, microsecond=0)
    return late if late > at else at + timedelta(hours=1)


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


def _action_fields(a: PlannedAction, key: str) -> dict[str, Any]:
    """What every record of a gated contact says of the action: which, for which loan, why."""
    return {
        "key": key,
        "loan_id": a.loan_id,
        "policy": a.policy,
        "step": a.step,
        "channel": a.channel,
        "party": a.party,
        "purpose": a.purpose,
    }


def blocked_payload(g: Gated, pack: Pack) -> dict[str, Any]:
    """The evidence record of a blocked contact: what was proposed and every rule against it."""
    return _action_fields(g.action, g.key) | {
        "proposed_at": g.contact.at.isoformat(),
        "pack": pack.id,
        "rules": [v.rule for v in g.decision.violations],
        "violations": [v.as_dict() for v in g.decision.violations],
    }


def rules_digest(pack: Pack) -> str:
    """A short digest of the pack's rule ids: which rules a planned contact was checked by
    (``arrears compliance rules`` lists them), without writing every id into every record."""
    # Asked once per planned contact (hundreds of thousands a day) of a handful of packs.
    known = _DIGESTS.get(id(pack))
    if known is not None and known[0] is pack:
        return known[1]
    ids = ",".join(sorted(r.id for r in pack.rules))
    digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
    _DIGESTS[id(pack)] = (pack, digest)
    return digest


_DIGESTS: dict[int, tuple[Pack, str]] = {}  # id(pack) -> (the pack itself, its digest)


def planned_payload(
    a: PlannedAction,
    at: datetime,
    recipient_ref: str,
    pack: Pack,
    key: str,
    warnings: Sequence[str] = (),
    **more: Any,
) -> dict[str, Any]:
    """The evidence record of an allowed contact, planned: what will be made, when (``at``), to
    whom (the recipient's keyed reference, ``core.people.references``: never the number or the
    address, so the record outlives their erasure) and which pack allowed it.
    ``key``: the outbox or queue key the contact goes out under; ``warnings``: rules that
    warned; ``more``: what the channel adds (a message's template, body hash and expiry)."""
    out: dict[str, Any] = _action_fields(a, key) | {
        "planned_at": at.isoformat(),
        "business_date": a.business_date.isoformat(),
        "recipient_ref": recipient_ref,
        "pack": pack.id,
        "rules": len(pack.rules),
        "rules_sha256": rules_digest(pack),
    }
    if warnings:
        out["warnings"] = list(warnings)
    return out | more
