"""What a loan's account says about it on its as-of date: DPD, bucket, class, amounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from arrears.core.ledger.account import Account, Status
from arrears.core.loans.product import Product

CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")
BUCKETS = ("C", "M1", "M2", "M3", "M4", "M5", "M6", "M7")


def bucket(dpd: int) -> str:
    """``C`` current; ``M1`` 1-30 days ... ``M6`` 151-180; ``M7`` over 180."""
    if dpd <= 0:
        return "C"
    return BUCKETS[min(7, (dpd + 29) // 30)]


def classify(dpd: int, thresholds: tuple[int, int, int, int]) -> str:
    """Five categories by DPD strictly above each threshold (defaults 0, 90, 270, 360)."""
    level = sum(1 for t in thresholds if dpd > t)
    return CLASSES[level]


@dataclass(frozen=True, slots=True)
class Amounts:
    principal: int
    interest: int
    penalty: int

    @property
    def total(self) -> int:
        return self.principal + self.interest + self.penalty


@dataclass(frozen=True, slots=True)
class NextDue:
    due_date: date
    amount: int


@dataclass(frozen=True, slots=True)
class Aged:
    loan_id: str
    as_of: date
    status: str
    dpd: int
    bucket: str
    classification: str
    overdue: Amounts
    outstanding: Amounts
    next_due: NextDue | None
    consecutive_overdue: int


def age(acct: Account, product: Product) -> Aged:
    """Read the account on its as-of date. DPD is 0 on a due date and ``D - due`` after it."""
    d = acct.as_of
    overdue = [i for i in acct.installments if i.due_date < d and i.unpaid > 0]
    penalty = acct.penalty_owed + acct.penalty_unposted
    if acct.status is Status.WRITTEN_OFF:
        dpd = (d - overdue[0].due_date).days if overdue else 0
        zero = Amounts(0, 0, 0)
        return Aged(
            acct.loan_id, d, acct.status.value, dpd, bucket(dpd), "loss", zero, zero, None, 0
        )
    dpd = (d - overdue[0].due_date).days if overdue else 0
    over = Amounts(
        sum(i.unpaid_principal for i in overdue),
        sum(i.unpaid_interest for i in overdue),
        penalty,
    )
    outstanding = Amounts(
        sum(i.unpaid_principal for i in acct.installments),
        sum(i.unpaid_interest for i in acct.installments if i.due_date <= d),
        penalty,
    )
    upcoming = [i for i in acct.installments if i.due_date >= d and i.unpaid > 0]
    nxt = NextDue(upcoming[0].due_date, upcoming[0].unpaid) if upcoming else None
    return Aged(
        acct.loan_id,
        d,
        acct.status.value,
        dpd,
        bucket(dpd),
        classify(dpd, product.classification_thresholds),
        over,
        outstanding,
        nxt,
        len(overdue),
    )
