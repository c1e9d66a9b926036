"""Double-entry journal entries. Balances are derived by summing postings, never stored.

Sign convention: debits positive, credits negative; every entry sums to zero. Receivable
accounts (``loan:<id>:principal`` ...) therefore carry positive balances while owed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from arrears.core.loans.product import Component

CASH = "assets:cash"
INCOME_INTEREST = "income:interest"
INCOME_PENALTY = "income:penalty"
EXPENSE_WAIVER = "expense:waiver"
EXPENSE_WRITE_OFF = "expense:write-off"


def receivable(loan_id: str, component: Component) -> str:
    return f"loan:{loan_id}:{component.value}"


class EntryKind(StrEnum):
    DISBURSEMENT = "disbursement"
    INTEREST_DUE = "interest_due"
    PENALTY = "penalty"
    PAYMENT = "payment"
    REVERSAL = "reversal"
    WAIVER = "waiver"
    WRITE_OFF = "write_off"
    ADJUSTMENT = "adjustment"  # re-ageing after a reversal or a back-dated payment
    RESCHEDULE = "reschedule"  # overdue interest and penalty capitalised into a plan


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: int


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # idempotency key: the same key is applied once
    loan_id: str
    kind: EntryKind
    effective_on: date
    postings: tuple[Posting, ...]
    memo: str = ""

    def __post_init__(self) -> None:
        total = sum(p.amount for p in self.postings)
        assert total == 0, f"entry {self.key} does not balance: {total}"
        assert self.postings, f"entry {self.key} has no postings"

    def negated(self, key: str, kind: EntryKind, on: date, memo: str = "") -> Entry:
        postings = tuple(Posting(p.account, -p.amount) for p in self.postings)
        return Entry(key, self.loan_id, kind, on, postings, memo)


def entry(
    key: str, loan_id: str, kind: EntryKind, on: date, legs: Mapping[str, int], memo: str = ""
) -> Entry | None:
    """An entry from account -> amount legs, zero legs dropped; None when nothing moves."""
    postings = tuple(Posting(a, v) for a, v in legs.items() if v != 0)
    if not postings:
        return None
    return Entry(key, loan_id, kind, on, postings, memo)


def balances(entries: Iterable[Entry]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for e in entries:
        for p in e.postings:
            out[p.account] += p.amount
    return {a: v for a, v in out.items() if v != 0}


def difference(target: Mapping[str, int], actual: Mapping[str, int]) -> dict[str, int]:
    """Per account, what must be posted to bring ``actual`` to ``target``."""
    accounts = set(target) | set(actual)
    diff = {a: target.get(a, 0) - actual.get(a, 0) for a in sorted(accounts)}
    return {a: v for a, v in diff.items() if v != 0}


def adjustment(
    loan_id: str, trigger: str, on: date, target: Mapping[str, int], actual: Mapping[str, int]
) -> Entry | None:
    """The one entry that brings a loan's journal balances (``actual``) to its replay's
    (``target``) after history changed under ``trigger`` ("payment:REF"); None when equal."""
    return entry(
        f"{loan_id}:adjust:{trigger}",
        loan_id,
        EntryKind.ADJUSTMENT,
        on,
        difference(target, actual),
        "re-aged",
    )
