"""Notices before negative reporting: which loans need one, on which date, as planned actions.

A loan needs a notice when, if nothing is paid, one of its coming reporting dates will carry a
negative item and no notice is on record for it. The notice is due ``notice_days`` (the rule
pack's lead time, ``rules.py``) before that reporting date. One notice covers the loan's later
negative items too.

What a notice says and when the report may follow it:

* It names the date of the report: the loan's first reporting date on or after both the
  item's own reporting date and the day the notice goes out plus the lead time. So the date is
  always in the future, at least ``notice_days`` after the notice, never the missed due date.
* A notice sent after its due day (a loan that fell behind inside the lead time, a back-book
  loan imported long overdue) is *late*: it still names a date ``notice_days`` ahead, and the
  item is reported then, not earlier (``report.gate_reasons`` holds it back until that date).
* One notice per negative item, however long dispatch is down: the key names the loan, the
  missed due date of the item and the attempt (``credit_notice:L1:2026-11-30:1``), not the
  business date, and the close plans none while one is still waiting in the outbox. Only a
  notice that failed or expired undelivered is followed by another (attempt 2, ...).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from arrears.core.compliance.model import Channel
from arrears.core.contact.action import PlannedAction
from arrears.core.credit.codes import NEGATIVE
from arrears.core.credit.history import MonthStatus
from arrears.core.credit.rules import CreditRules
from arrears.core.loans.calendar import month_day

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
    due_day: int | None = None  # the loan's repayment day: its reporting dates fall on it

    @property
    def first_negative(self) -> MonthStatus | None:
        return next((m for m in self.months if m.status in NEGATIVE), None)

    @property
    def notice_due(self) -> date | None:
        first = self.first_negative
        if first is None:
            return None
        return first.reporting_date - timedelta(days=self.rules.notice_days)


def report_on_or_after(outlook: LoanOutlook, earliest: date) -> date:
    """The loan's first reporting date on or after ``earliest``."""
    for m in outlook.months:
        if m.reporting_date >= earliest:
            return m.reporting_date
    # Past the forecast: the reporting day of each month (the month's last day without one).
    year, month = earliest.year, earliest.month
    while True:
        last = calendar.monthrange(year, month)[1]
        found = month_day(year, month, outlook.due_day or last)
        if found >= earliest:
            return found
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


@dataclass(frozen=True, slots=True)
class NoticeDue:
    """A notice to send today: the action, the negative item it is for, the date it names."""

    action: PlannedAction
    item_on: date  # the missed due date of the first negative item (its reporting date if none)
    report_on: date  # the date the notice names; the report waits for it
    late: bool  # sent after its due day: the borrower still gets the full lead time
    attempt: int  # 1, or one more than the notices that failed or expired undelivered

    @property
    def key(self) -> str:
        """The outbox key: one per loan, item and attempt, whatever the business date."""
        return f"{TEMPLATE}:{self.action.loan_id}:{self.item_on.isoformat()}:{self.attempt}"


def due_notices(
    outlooks: Sequence[LoanOutlook],
    notices_on_record: Mapping[str, datetime],
    business_date: date,
    local_time: time = time(10, 0),
    *,
    pending: Set[str] = frozenset(),
    failed: Mapping[str, int] | None = None,
) -> list[NoticeDue]:
    """The notices to send on ``business_date``, in loan order.

    ``pending``: loans with a notice still waiting in the outbox (queued or being sent): none
    is planned for them. ``failed``: per loan, notices that failed or expired undelivered.
    """
    out: list[NoticeDue] = []
    for o in sorted(outlooks, key=lambda o: o.loan_id):
        due, first = o.notice_due, o.first_negative
        if o.loan_id in notices_on_record or o.loan_id in pending:
            continue
        if first is None or due is None or due > business_date:
            continue
        lead = timedelta(days=o.rules.notice_days)
        report_on = report_on_or_after(o, max(first.reporting_date, business_date + lead))
        action = PlannedAction(
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
        item_on = first.first_delinquency or first.reporting_date
        attempt = (failed or {}).get(o.loan_id, 0) + 1
        out.append(NoticeDue(action, item_on, report_on, due < business_date, attempt))
    return out


def plan_notices(
    outlooks: Sequence[LoanOutlook],
    notices_on_record: Mapping[str, datetime],
    business_date: date,
    local_time: time = time(10, 0),
) -> list[PlannedAction]:
    """The ``credit_notice`` actions to make on ``business_date``, in loan order."""
    return [n.action for n in due_notices(outlooks, notices_on_record, business_date, local_time)]


def report_allowed_from(notice_on: date, rules: CreditRules) -> date:
    """The first reporting date a notice given on ``notice_on`` lets negative items onto: the
    lead time must have run (the notice named a date at least that far ahead)."""
    return notice_on + timedelta(days=rules.notice_days)
