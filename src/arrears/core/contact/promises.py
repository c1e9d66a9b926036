"""Promises to pay: the pure evaluation the close runs for every open promise.

Reading of "by the promised date": ``on`` is a business date whose day is over (the close for
``on`` runs after it ends). Payments dated up to and including the promised date count; a
payment dated after it does not rescue the promise. So a promise due on the 10th is still open
when checked on the 9th with nothing paid, and broken (or partly kept) when checked on the 10th
or later with less than the amount paid on or before the 10th. Paying the whole amount early
keeps the promise at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class PromiseStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    PARTLY_KEPT = "partly_kept"
    BROKEN = "broken"


@dataclass(frozen=True, slots=True)
class Promise:
    """A borrower's promise, made on ``promised_on``, to pay ``amount`` fen by ``due_on``."""

    loan_id: str
    promised_on: date
    amount: int
    due_on: date

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError("a promise is for a positive amount")
        if self.due_on < self.promised_on:
            raise ValueError("a promise falls due on or after the day it was made")


@dataclass(frozen=True, slots=True)
class PaymentMade:
    """A payment (net of reversals) credited to the promise's loan on ``paid_on``, in fen."""

    paid_on: date
    amount: int


@dataclass(frozen=True, slots=True)
class PromiseCheck:
    status: PromiseStatus
    paid: int  # fen counted towards the promise


def paid_towards(promise: Promise, payments: Iterable[PaymentMade], on: date) -> int:
    """Fen paid from the day the promise was made to the earlier of ``on`` and its date."""
    last = min(on, promise.due_on)
    return sum(p.amount for p in payments if promise.promised_on <= p.paid_on <= last)


def check_promise(
    promise: Promise, payments_since: Iterable[PaymentMade], on: date
) -> PromiseCheck:
    """The promise's status at the end of business date ``on``."""
    paid = paid_towards(promise, payments_since, on)
    if paid >= promise.amount:
        return PromiseCheck(PromiseStatus.KEPT, paid)
    if on < promise.due_on:
        return PromiseCheck(PromiseStatus.OPEN, paid)
    return PromiseCheck(PromiseStatus.PARTLY_KEPT if paid > 0 else PromiseStatus.BROKEN, paid)
