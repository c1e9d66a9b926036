"""A treatment the collection policy chose for a borrower today, before the compliance gate.

This is the one shape shared by the policy (which proposes), the engine (which gates, records
and enqueues), the channels (which render and deliver) and the agent queue (which works calls).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from arrears.core.compliance.model import Channel, Party, Purpose


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One contact the policy wants made on ``business_date``.

    ``step`` names the policy step that chose it (e.g. ``sms_overdue``) and ``policy`` the named
    policy the borrower is assigned to (champion/challenger): every action carries both so that
    results can be compared by policy. ``template`` is the message template for automated
    channels (sms, email, letter) and the script for calls and visits. ``priority`` orders the
    agent queue: higher first. ``local_time`` is when, in the borrower's own time zone, the
    policy wants it made; the engine turns it into an aware instant per zone for the gate.
    """

    borrower_id: str
    loan_id: str
    business_date: date
    policy: str
    step: str
    channel: Channel
    party: Party
    template: str
    local_time: time = time(10, 0)
    priority: int = 0
    purpose: Purpose = "collection"


def action_key(action: PlannedAction) -> str:
    """The idempotency key of an action: one per borrower, step and business day.

    The close, the agent queue and the contact history all key on it, so a rerun close, a
    redelivered callback or a second dispatcher each apply an action once.
    """
    return f"{action.business_date.isoformat()}:{action.borrower_id}:{action.step}"
