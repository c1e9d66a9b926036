"""Reading the contact history for the policy and the gate's context, pure.

"Unreachable" is counted from the last conversation with the debtor, or from the day the case
opened when there has never been one: a borrower the lender has not yet tried for long is not
"unreachable", so third parties stay off limits (the gate's third-party rules) until the
policy's threshold has passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from arrears.core.compliance.model import REFUSED, Contact


def unreachable_days(last_conversation: date | None, opened_on: date | None, on: date) -> int:
    """Whole days since the debtor was last spoken with (or since the case opened)."""
    since = last_conversation or opened_on
    return 0 if since is None else max(0, (on - since).days)


def is_reachable(
    last_conversation: date | None, opened_on: date | None, on: date, after_days: int
) -> bool:
    """False once the debtor has been unreachable for ``after_days`` days or more."""
    return unreachable_days(last_conversation, opened_on, on) < after_days


def refused_numbers(history: Iterable[Contact]) -> frozenset[str]:
    """Numbers of people other than the debtor who asked not to be contacted again."""
    return frozenset(c.number for c in history if c.party != "debtor" and c.outcome == REFUSED)
