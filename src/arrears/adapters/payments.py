"""The way a borrower's payment comes in: ``start(payment)`` begins it with a payment system,
``result(attempt)`` says what became of it. One shape for every payment system; the portal's
pay page talks to this and nothing else.

A real adapter (a bank's or a wallet's checkout) would answer ``pending`` from ``start`` and
hand the borrower to the provider; the provider's callback then applies the money through
the ledger (``services.events``) with the provider's own reference, and ``result`` reports it.

``DemoPayments`` is the development channel: there is no provider, so ``start`` applies the
payment through the ledger at once, exactly as the API's payment route does: it is given
``services.events.pay_in`` (adapters sit below the services, so the function is passed in),
and the attempt's key is the payment's ref. The same attempt
twice (a double-clicked button, a reloaded form) is the same ref, which the ledger applies
once. It moves no real money and says so on the page: it is never a pretend success, the
ledger shows what it applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from sqlalchemy import Connection, select

from arrears.core.problem import Problem, Result
from arrears.store import tables

Status = Literal["succeeded", "pending", "failed"]


@dataclass(frozen=True, slots=True)
class PaymentStart:
    """One attempt to pay: ``attempt`` is unique per attempt (per borrower), so a resubmitted
    form names the same attempt."""

    attempt: str
    borrower_id: str
    loan_id: str
    amount: int  # fen
    on: date  # the business day it is applied on


@dataclass(frozen=True, slots=True)
class PaymentResult:
    attempt: str
    status: Status
    loan_id: str
    amount: int
    ref: str  # the payment's ref on the ledger (the provider's reference)
    already_applied: bool = False
    problems: tuple[Problem, ...] = ()


class PaymentAdapter(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def demo(self) -> bool:
        """True for a channel that moves no real money (the page says so)."""
        ...

    def start(self, conn: Connection, payment: PaymentStart) -> PaymentResult: ...

    def result(self, conn: Connection, borrower_id: str, attempt: str) -> PaymentResult | None:
        """What became of the borrower's ``attempt`` (None: no such attempt of theirs)."""
        ...


MAX_ATTEMPT = 64


class Applied(Protocol):
    @property
    def already_applied(self) -> bool: ...


# The ledger's payment inside the caller's transaction: (conn, loan_id, fen, on, ref).
ApplyPayment = Callable[[Connection, str, int, date, str], Result[Applied]]


class DemoPayments:
    """The development channel: the payment is applied through the ledger at once."""

    name = "demo"
    demo = True

    def __init__(self, apply: ApplyPayment) -> None:
        self.apply = apply

    @staticmethod
    def ref(borrower_id: str, attempt: str) -> str:
        return f"demo:{borrower_id}:{attempt}"

    def start(self, conn: Connection, payment: PaymentStart) -> PaymentResult:
        ref = self.ref(payment.borrower_id, payment.attempt)
        if not payment.attempt.strip() or len(payment.attempt) > MAX_ATTEMPT:
            problem = Problem("payment", "attempt", f"must be 1-{MAX_ATTEMPT} characters")
            return PaymentResult(
                payment.attempt, "failed", payment.loan_id, payment.amount, ref, problems=(problem,)
            )
        savepoint = conn.begin_nested()  # a refused payment leaves nothing behind
        done, problems = self.apply(conn, payment.loan_id, payment.amount, payment.on, ref)
        if done is None:
            savepoint.rollback()
            return PaymentResult(
                payment.attempt,
                "failed",
                payment.loan_id,
                payment.amount,
                ref,
                problems=tuple(problems),
            )
        savepoint.commit()
        return PaymentResult(
            payment.attempt,
            "succeeded",
            payment.loan_id,
            payment.amount,
            ref,
            already_applied=done.already_applied,
        )

    def result(self, conn: Connection, borrower_id: str, attempt: str) -> PaymentResult | None:
        e = tables.loan_events
        ref = self.ref(borrower_id, attempt)
        row = conn.execute(select(e.c.loan_id, e.c.amount, e.c.kind).where(e.c.ref == ref)).first()
        if row is None or row.kind != "payment":
            return None
        return PaymentResult(attempt, "succeeded", row.loan_id, int(row.amount), ref)
