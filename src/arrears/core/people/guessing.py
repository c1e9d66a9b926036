"""How many wrong codes a borrower, and everyone together, may try: the decision, pure.

Two limits. Per borrower: ``borrower_failures`` refused codes within ``borrower_window`` lock
that borrower's verification for ``lockout`` from the last of them. Across the code space:
more than ``global_failures`` refused codes within ``global_window``, by anyone, stop every
verification until the window has moved on, so that trying a few codes on each of many
borrowers cannot search the space either. Attempts refused *because* of a lock are not
failures: hammering a locked borrower does not extend the lock, and learns nothing.
docs/verification.md turns these numbers into the chance that guessing ever succeeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class GuessLimits:
    borrower_failures: int = 5
    borrower_window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(hours=1)
    global_failures: int = 1000
    global_window: timedelta = timedelta(minutes=15)

    @property
    def lookback(self) -> timedelta:
        """How far back a borrower's failures can still matter."""
        return self.borrower_window + self.lockout


DEFAULT_LIMITS = GuessLimits()


@dataclass(frozen=True, slots=True)
class Gate:
    """May this attempt be checked? ``locked_until`` when the borrower is locked; ``busy``
    when the global budget is spent."""

    allowed: bool
    locked_until: datetime | None = None
    busy: bool = False


def borrower_locked_until(
    failures: Sequence[datetime], now: datetime, limits: GuessLimits = DEFAULT_LIMITS
) -> datetime | None:
    """The end of the lock that ``failures`` (refused codes, any order) put on a borrower at
    ``now``, or None. A lock starts at any failure that is the n-th within the window."""
    times = sorted(failures)
    n = limits.borrower_failures
    until: datetime | None = None
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] <= limits.borrower_window:
            end = times[i] + limits.lockout
            if end > now and (until is None or end > until):
                until = end
    return until


def gate(
    borrower_failures: Sequence[datetime],
    global_failures: int,
    now: datetime,
    limits: GuessLimits = DEFAULT_LIMITS,
) -> Gate:
    """``global_failures``: refused codes, by anyone, within ``limits.global_window``."""
    until = borrower_locked_until(borrower_failures, now, limits)
    if until is not None:
        return Gate(False, locked_until=until)
    if global_failures >= limits.global_failures:
        return Gate(False, busy=True)
    return Gate(True)
