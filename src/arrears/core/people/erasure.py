"""When a borrower's personal data is erased at the end of retention: a pure rule.

A borrower is due for erasure on a day when every loan of theirs is settled, written off or
closed, nothing is under way for them (an open case, complaint, dispute, installment plan,
moratorium or visit would still need their name, number or address), and the retention
period has run from their last activity.

The period is the longer of the lender's ``retention.personal_data_years`` and the rule pack's
record retention (``record_retention_years``, or ``recording_retention_years`` where longer):
the pack's period is a floor set by law (Reg F §1006.100: three years after the last
collection activity), and erasing a borrower's numbers sooner would empty the records the
regulator may ask for. The lender's setting governs whenever it is the longer one.

Years are calendar years (``add_years``): 29 February rolls forward to 1 March, so the period
never ends early; the borrower is due on the anniversary itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.rules.clock import add_years

# Loan statuses with nothing left to collect ("closed": a loan a lender's import marks ended).
FINISHED = frozenset({"settled", "written_off", "closed"})


class Reason(StrEnum):
    """Why a borrower is, or is not, due for erasure; the first that applies is given."""

    DUE = "due"
    ALREADY_ERASED = "already_erased"
    NO_ACTIVITY = "no_activity"  # nothing says when the period began: kept, not guessed
    LOAN_OPEN = "loan_open"
    CASE_OPEN = "case_open"
    COMPLAINT_OPEN = "complaint_open"
    DISPUTE_OPEN = "dispute_open"
    PLAN_UNDER_WAY = "plan_under_way"
    MORATORIUM_IN_FORCE = "moratorium_in_force"
    VISIT_UNDER_WAY = "visit_under_way"
    RETENTION_RUNNING = "retention_running"


_WORDS = {
    Reason.DUE: "due for erasure",
    Reason.ALREADY_ERASED: "already erased",
    Reason.NO_ACTIVITY: "no activity on record to count the retention period from",
    Reason.LOAN_OPEN: "a loan is not settled, written off or closed",
    Reason.CASE_OPEN: "a collection case is open",
    Reason.COMPLAINT_OPEN: "a complaint is open",
    Reason.DISPUTE_OPEN: "a dispute is open",
    Reason.PLAN_UNDER_WAY: "an installment plan is under way",
    Reason.MORATORIUM_IN_FORCE: "a moratorium is in force",
    Reason.VISIT_UNDER_WAY: "a field visit is under way",
    Reason.RETENTION_RUNNING: "the retention period has not run",
}


@dataclass(frozen=True, slots=True)
class Horizon:
    """How many years personal data is kept after the last activity, and whose rule says so."""

    years: int
    governs: Literal["settings", "pack"]


def horizon(personal_data_years: int, pack: Limits | None) -> Horizon:
    """The longer of the lender's setting and the pack's record retention; on a tie the
    setting is named (it is the one the lender can change)."""
    if personal_data_years < 1:
        raise ValueError(f"personal_data_years must be at least 1, got {personal_data_years}")
    floors = () if pack is None else (pack.record_retention_years, pack.recording_retention_years)
    law = max((y for y in floors if y is not None), default=0)
    if law > personal_data_years:
        return Horizon(law, "pack")
    return Horizon(personal_data_years, "settings")


@dataclass(frozen=True, slots=True)
class Standing:
    """What the database says about one borrower, as the rule needs it."""

    loan_statuses: tuple[str, ...]  # one per loan; a loan never closed by the day: "active"
    last_activity: date | None  # the latest day anything happened on their loans or chain
    open_cases: int = 0
    open_complaints: int = 0
    open_disputes: int = 0  # debt disputes awaiting verification, credit disputes unresolved
    plans_under_way: int = 0  # pending, countered or active
    moratoria_in_force: int = 0  # on the day asked about
    visits_under_way: int = 0  # requested, approved, assigned or noticed
    erased_on: date | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    due: bool
    reason: Reason
    # The first day the borrower is (or would be, were nothing under way) due; None when
    # there is no activity to count from.
    due_from: date | None
    horizon: Horizon

    @property
    def words(self) -> str:
        if self.reason is Reason.RETENTION_RUNNING and self.due_from is not None:
            return (
                f"{_WORDS[self.reason]}: kept {self.horizon.years} years "
                f"({self.horizon.governs}), until {self.due_from.isoformat()}"
            )
        return _WORDS[self.reason]


def _under_way(s: Standing) -> Reason | None:
    if any(status not in FINISHED for status in s.loan_statuses):
        return Reason.LOAN_OPEN
    checks = (
        (s.open_cases, Reason.CASE_OPEN),
        (s.open_complaints, Reason.COMPLAINT_OPEN),
        (s.open_disputes, Reason.DISPUTE_OPEN),
        (s.plans_under_way, Reason.PLAN_UNDER_WAY),
        (s.moratoria_in_force, Reason.MORATORIUM_IN_FORCE),
        (s.visits_under_way, Reason.VISIT_UNDER_WAY),
    )
    return next((reason for count, reason in checks if count), None)


def verdict(standing: Standing, on: date, kept: Horizon) -> Verdict:
    """Is the borrower due for erasure on ``on``, and if not, why."""
    due_from = None
    if standing.last_activity is not None:
        due_from = add_years(standing.last_activity, kept.years)
    if standing.erased_on is not None:
        return Verdict(False, Reason.ALREADY_ERASED, due_from, kept)
    blocked = _under_way(standing)
    if blocked is not None:
        return Verdict(False, blocked, due_from, kept)
    if due_from is None:
        return Verdict(False, Reason.NO_ACTIVITY, None, kept)
    if on < due_from:
        return Verdict(False, Reason.RETENTION_RUNNING, due_from, kept)
    return Verdict(True, Reason.DUE, due_from, kept)
