"""The Regulation F validation notice's dates and itemised amounts (12 CFR 1006.34). Pure.

* The notice goes in the initial communication or within five days after it (§1006.34(a)(1)).
* The validation period ends 30 days after the consumer receives the notice; receipt may be
  assumed any day up to five days after sending, excluding legal public holidays, Saturdays
  and Sundays (§1006.34(b)(5)). Holidays are an input: the pack knows no calendar.
* The itemisation date is one of five reference dates (§1006.34(b)(3)); here the last payment
  date (iii), else the transaction date, the disbursement (iv). The notice states the amount
  owed on it, the interest, fees, payments and credits since, and the amount now
  (§1006.34(c)(2)(vi)-(viii)); the parts add up to the amount now, exactly, in fen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

SEND_WITHIN_DAYS = 5  # §1006.34(a)(1)(i)(B)
RECEIPT_BUSINESS_DAYS = 5  # §1006.34(b)(5)
PERIOD_DAYS = 30  # §1006.34(b)(5)

# What a journal entry does to the debt, by the entry kinds of ``core.ledger.journal``.
INTEREST_KINDS = frozenset({"interest_due"})
FEE_KINDS = frozenset({"penalty"})
PAYMENT_KINDS = frozenset({"payment", "reversal"})  # a reversal is a payment taken back


def assumed_receipt(sent_on: date, holidays: frozenset[date] = frozenset()) -> date:
    """Five days after sending, not counting Saturdays, Sundays and ``holidays``."""
    day, counted = sent_on, 0
    while counted < RECEIPT_BUSINESS_DAYS:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holidays:
            counted += 1
    return day


def validation_end(sent_on: date, holidays: frozenset[date] = frozenset()) -> date:
    """The last day of the validation period: 30 days after the assumed receipt."""
    return assumed_receipt(sent_on, holidays) + timedelta(days=PERIOD_DAYS)


def send_by(first_communication: date) -> date:
    """The last day the notice may be sent after the initial communication."""
    return first_communication + timedelta(days=SEND_WITHIN_DAYS)


@dataclass(frozen=True, slots=True)
class Itemization:
    """The notice's figures, in fen. ``current_amount`` is the sum of the others (checked)."""

    itemization_date: date
    amount_on_itemization: int
    interest_since: int
    fees_since: int
    payments_since: int
    credits_since: int
    current_amount: int

    def __post_init__(self) -> None:
        total = (
            self.amount_on_itemization
            + self.interest_since
            + self.fees_since
            - self.payments_since
            - self.credits_since
        )
        if total != self.current_amount:
            raise ValueError(f"itemization does not add up: {total} != {self.current_amount}")


@dataclass(frozen=True, slots=True)
class ValidationFacts:
    """What the ``validation_notice`` template states, for one loan."""

    itemization: Itemization
    validation_end: date


def itemize(
    movements: Iterable[tuple[str, date, int]],
    disbursed_on: date,
    accrued_unposted: int = 0,
) -> Itemization:
    """The itemisation from the loan's receivable movements ``(entry kind, effective date,
    amount)`` (a debit to the loan's receivables is positive) and its penalty accrued but not
    yet posted (a fee charged since, to the day)."""
    moves = list(movements)
    paid_on = [on for kind, on, _ in moves if kind == "payment"]
    when = max(paid_on) if paid_on else disbursed_on
    owed = interest = fees = payments = credits = 0
    for kind, on, amount in moves:
        if on <= when:
            owed += amount
        elif kind in INTEREST_KINDS:
            interest += amount
        elif kind in FEE_KINDS:
            fees += amount
        elif kind in PAYMENT_KINDS:
            payments -= amount
        else:  # waivers, write-offs, adjustments: credits (an adjustment up is a negative one)
            credits -= amount
    fees += accrued_unposted
    current = owed + interest + fees - payments - credits
    return Itemization(when, owed, interest, fees, payments, credits, current)
