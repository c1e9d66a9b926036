"""Pauses: a repayment plan in force or an open dispute stops collection contacts.

Reminders about the plan itself are not collection and stay allowed. A broken plan is simply
no longer in force (`plan_in_force` false), so collection resumes without a special case.
"""

from __future__ import annotations

from collections.abc import Iterator

from arrears.core.compliance.pack import Situation
from arrears.core.compliance.rules.clock import local_date


def _collecting(situation: Situation) -> bool:
    proposed = situation.proposed
    return proposed.is_contact and proposed.purpose != "plan_reminder"


def paused_by_plan(situation: Situation) -> Iterator[str]:
    if _collecting(situation) and situation.context.plan_in_force:
        yield "a repayment plan is in force; only plan reminders may be sent"


def paused_by_dispute(situation: Situation) -> Iterator[str]:
    if _collecting(situation) and situation.context.dispute_open:
        yield "the borrower's dispute is open"


def paused_by_moratorium(situation: Situation) -> Iterator[str]:
    """Breathing Space: no contact asking for payment of a moratorium debt while it is in
    force (a plan reminder asks for payment too), on any local date the contact falls on."""
    proposed = situation.proposed
    if not proposed.is_contact:
        return
    days = {local_date(proposed.at, zone) for zone in situation.context.timezones}
    for m in situation.context.moratoria:
        debts = [d for d in proposed.debts if m.covers(d)]
        if debts and any(m.in_force(day) for day in days):
            until = m.ends_on.isoformat() if m.ends_on is not None else "not yet ended"
            yield f"a {m.kind} moratorium from {m.starts_on} ({until}) covers {', '.join(debts)}"


def paused_for_verification(situation: Situation) -> Iterator[str]:
    """Reg F §1006.38: a written dispute or original-creditor request in the validation period
    stops collection of the debt until verification (or the creditor's name) is sent."""
    if not _collecting(situation):
        return
    held = [d for d in situation.proposed.debts if d in situation.context.verification_pending]
    if held:
        yield f"debt {', '.join(held)} is disputed in writing; verification not yet sent"
