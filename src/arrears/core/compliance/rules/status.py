"""Pauses: a repayment plan in force or an open dispute stops collection contacts.

Reminders about the plan itself are not collection and stay allowed. A broken plan is simply
no longer in force (`plan_in_force` false), so collection resumes without a special case.
"""

from __future__ import annotations

from collections.abc import Iterator

from arrears.core.compliance.pack import Situation


def _collecting(situation: Situation) -> bool:
    proposed = situation.proposed
    return proposed.is_contact and proposed.purpose != "plan_reminder"


def paused_by_plan(situation: Situation) -> Iterator[str]:
    if _collecting(situation) and situation.context.plan_in_force:
        yield "a repayment plan is in force; only plan reminders may be sent"


def paused_by_dispute(situation: Situation) -> Iterator[str]:
    if _collecting(situation) and situation.context.dispute_open:
        yield "the borrower's dispute is open"
