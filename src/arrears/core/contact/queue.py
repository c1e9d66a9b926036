"""The agent work queue's order, pure.

Highest priority first; among equals the longest overdue (DPD), then the largest overdue
amount, then borrower id ascending so that the order is total and the same on every database.
Python's sort is stable, so items equal on all four keep their input order (their item id
when they come from the database).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from arrears.core.compliance.model import Party


@dataclass(frozen=True, slots=True)
class QueueItem:
    item_id: int
    key: str
    borrower_id: str
    loan_id: str
    policy: str
    step: str
    party: Party
    number: str
    script: str
    priority: int
    dpd: int
    amount: int  # overdue fen when enqueued
    due_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    done_at: datetime | None = None
    outcome: str | None = None


def order_key(item: QueueItem) -> tuple[int, int, int, str]:
    return (-item.priority, -item.dpd, -item.amount, item.borrower_id)


def ordered(items: Iterable[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=order_key)
