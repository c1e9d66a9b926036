"""Interest relief for the days a moratorium is in force.

The Debt Respite Scheme (Breathing Space Moratorium and Mental Health Crisis Moratorium)
(England and Wales) Regulations 2020, reg. 7(2)-(3): while a moratorium is in force the
creditor must not add interest, fees or charges that accrue on the moratorium debt during the
moratorium. The schedule's interest falls due on the installment's due date and covers the
period ``[start, due_date)``; the part of it that accrued on days in force is the period's
interest pro rata by days:

    relief = round_half_up(interest x days in force in [start, due_date) / days in the period)

rounded half-up to the fen once per installment (the same rounding as the daily penalty).
Penalty is not accrued on those days at all (:func:`arrears.core.ledger.account.accrue_loan_day`);
interest, whose amount the schedule fixes at drawdown, is posted on its date and the relief
waived against it, so that the schedule, the kernel and the replay stay one computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from arrears.core.ledger.account import Pauses, accruing_days
from arrears.core.money import round_half_up


@dataclass(frozen=True, slots=True)
class Relief:
    """Interest of installment ``n`` of ``loan_id`` not to be charged: ``amount`` fen."""

    loan_id: str
    n: int
    due_date: date
    amount: int
    days_in_force: int
    period_days: int

    @property
    def ref(self) -> str:
        """The waiver's ref: one relief per installment, however often the close runs."""
        return f"relief:{self.loan_id}:{self.n}"


def days_in_force(pauses: Pauses, first: date, last: date) -> int:
    """Days in ``[first, last]`` covered by any of ``pauses`` (overlapping ranges count once)."""
    if last < first:
        return 0
    return (last - first).days + 1 - accruing_days(pauses, first, last)


def interest_relief(
    loan_id: str, n: int, start: date, due_date: date, interest: int, pauses: Pauses
) -> Relief | None:
    """The relief owed on one installment's interest, or None when no day of it was in force."""
    period = (due_date - start).days
    if interest <= 0 or period <= 0 or not pauses:
        return None
    paused = days_in_force(pauses, start, date.fromordinal(due_date.toordinal() - 1))
    if paused == 0:
        return None
    amount = round_half_up(Fraction(interest * paused, period))  # paused <= period: <= interest
    return Relief(loan_id, n, due_date, amount, paused, period) if amount else None
