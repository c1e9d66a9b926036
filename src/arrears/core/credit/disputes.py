"""Disputes (异议) as data: which are open at an instant, which are past their deadline, and
which corrections apply. A dispute concerns one month of one loan.

Deadlines: the outcome is due by the end of ``deadline`` (a date; opened on D with a 20-day
period gives D + 20). An open dispute is flagged in exports up to and including its deadline;
after it, the disputed record is withheld until an outcome is recorded (the furnisher could not
verify it in time, so it must not keep reporting it). A correction replaces the month's status
in every read-out and export made after the outcome was recorded (it is re-reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from arrears.core.credit.codes import Code
from arrears.core.credit.history import CreditHistory

Outcome = Literal["corrected", "upheld"]


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: int
    loan_id: str
    month: str
    reason: str
    opened_at: datetime
    deadline: date
    outcome: Outcome | None = None
    outcome_reason: str | None = None
    corrected_status: Code | None = None
    resolved_at: datetime | None = None

    def open_at(self, at: datetime) -> bool:
        return self.opened_at <= at and (self.resolved_at is None or self.resolved_at > at)

    def overdue_at(self, at: datetime) -> bool:
        """Open and past the end of its deadline day (``at`` compared in UTC)."""
        return self.open_at(at) and at.date() > self.deadline

    def correction_at(self, at: datetime) -> Code | None:
        if self.outcome == "corrected" and self.resolved_at is not None and self.resolved_at <= at:
            return self.corrected_status
        return None


def apply_corrections(
    history: CreditHistory, disputes: Iterable[Dispute], at: datetime
) -> CreditHistory:
    """Months corrected by a dispute resolved by ``at`` read the corrected status."""
    fixes: dict[str, Code] = {}
    for d in sorted(disputes, key=lambda d: (d.resolved_at or d.opened_at, d.dispute_id)):
        code = d.correction_at(at)
        if code is not None:
            fixes[d.month] = code
    if not fixes:
        return history
    months = tuple(
        replace(m, status=fixes[m.month], corrected_from=m.status) if m.month in fixes else m
        for m in history.months
    )
    return replace(history, months=months)


def open_disputes(disputes: Sequence[Dispute], at: datetime) -> list[Dispute]:
    return [d for d in disputes if d.open_at(at)]
