"""Notices before negative reporting: which loans need one, on which date, as planned actions.

A loan needs a notice when, if nothing is paid, one of its coming reporting dates will carry a
negative item and no notice is on record for it. The notice is due ``notice_days`` before that
reporting date; a notice that could not go out on time is still planned (late) on every later
business date, because until it is on record the negative item is withheld from exports. One
notice covers the loan's later negative items too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from arrears.core.compliance.model import Channel
from arrears.core.contact.action import PlannedAction
from arrears.core.credit.codes import NEGATIVE
from arrears.core.credit.history import MonthStatus
from arrears.core.credit.rules import CreditRules

TEMPLATE = "credit_notice"
POLICY = "credit"
STEP = "credit_notice"


@dataclass(frozen=True, slots=True)
class LoanOutlook:
    """What a loan's coming months will read if nothing is paid (from ``history.forecast``)."""

    loan_id: str
    borrower_id: str
    rules: CreditRules
    # The loan's months, oldest first: those read already and those coming if nothing is paid.
    # A negative item already passed without a notice makes the notice due at once.
    months: tuple[MonthStatus, ...]
    channel: Channel | None = None  # None: the pack's default channel

    @property
    def first_negative(self) -> MonthStatus | None:
        return next((m for m in self.months if m.status in NEGATIVE), None)

    @property
    def notice_due(self) -> date | None:
        first = self.first_negative
        if first is None:
            return None
        return first.reporting_date - timedelta(days=self.rules.notice_days)


def plan_notices(
    outlooks: Sequence[LoanOutlook],
    notices_on_record: Mapping[str, datetime],
    business_date: date,
    local_time: time = time(10, 0),
) -> list[PlannedAction]:
    """The ``credit_notice`` actions to make on ``business_date``, in loan order."""
    out: list[PlannedAction] = []
    for o in sorted(outlooks, key=lambda o: o.loan_id):
        due = o.notice_due
        if o.loan_id in notices_on_record or due is None or due > business_date:
            continue
        out.append(
            PlannedAction(
                borrower_id=o.borrower_id,
                loan_id=o.loan_id,
                business_date=business_date,
                policy=POLICY,
                step=STEP,
                channel=o.channel or o.rules.notice_channel,
                party="debtor",
                template=TEMPLATE,
                local_time=local_time,
                priority=0,
                purpose="collection",
            )
        )
    return out
