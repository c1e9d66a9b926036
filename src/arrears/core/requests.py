"""What every request a person sends must carry: an idempotency key (the same key again is the
same request) and the instant it was made, with its offset (a wall-clock time alone is
ambiguous across the borrower's and the lender's zones)."""

from __future__ import annotations

from datetime import datetime

from arrears.core.problem import Problem

MAX_KEY = 200  # the key columns


def request_problems(record: str, key: str, at: datetime) -> list[Problem]:
    """A problem for a blank or over-long ``key`` and for an ``at`` without an offset."""
    problems: list[Problem] = []
    if not key.strip() or len(key) > MAX_KEY:
        problems.append(Problem(record, "key", f"must be 1-{MAX_KEY} characters"))
    if at.utcoffset() is None:
        problems.append(Problem(record, "at", "must carry a time-zone offset"))
    return problems
