"""What a collection policy achieved over a simulated run, for champion-vs-challenger reports.

Pure: the shell gathers the facts of a run (:class:`RunFacts`, from its close reports and its
database) and this module turns them into :class:`StrategyMetrics`. The definitions, all
over the loans overdue on the run's first day (the cohort a policy is judged on):

* **recovery rate** of a bucket: what those loans paid during the run, each counted up to
  what it owed overdue on the first day, over what they owed overdue then;
* **cure rate**: the share of them that ended the run current or repaid;
* **roll rate** of a bucket: the share of them that ended in a worse bucket;
* **cost per yuan recovered**: the cost of the contacts made (each channel's cost from the
  lender's settings) over the amount recovered;
* **overdue loan-days**: the sum over the days of the loans overdue that day, a measure of
  how long borrowers spent in arrears (and so on the credit record).

Money is integer fen; rates are exact fractions, shown rounded half-up to four places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from arrears.core.ageing.status import BUCKETS
from arrears.core.lender.settings import Costs

CURRENT = "C"
# The contacts a run counts and what each is priced as (``costs.<key>`` in the settings).
CONTACT_KINDS = ("sms", "email", "letter", "call", "emergency_contact", "visit")


@dataclass(frozen=True, slots=True)
class LoanStart:
    bucket: str
    overdue: int  # fen


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the shell read off one run."""

    policy: str
    days: int
    start: Mapping[str, LoanStart]  # loan id -> bucket and overdue after the first close
    end_bucket: Mapping[str, str]  # loan id -> bucket at the end ("C" also for repaid)
    collected: Mapping[str, int]  # loan id -> fen paid during the run
    contacts: Mapping[str, int]  # CONTACT_KINDS -> contacts made
    blocked: Mapping[str, int]  # rule id -> contacts the gate blocked
    promises_kept: int
    promises_broken: int
    overdue_by_day: tuple[int, ...]  # loans overdue after each day's close
    complaints: int = 0  # every complaint, the amount disputed included
    plans_kept: int = 0  # installment plans in force or paid off at the end
    plans_broken: int = 0


@dataclass(frozen=True, slots=True)
class BucketResult:
    bucket: str
    loans: int
    overdue: int  # fen, on the first day
    recovered: int  # fen, each loan capped at its first-day overdue
    cured: int
    rolled: int  # ended in a worse bucket

    @property
    def recovery_rate(self) -> Fraction:
        return Fraction(self.recovered, self.overdue) if self.overdue else Fraction(0)

    @property
    def cure_rate(self) -> Fraction:
        return Fraction(self.cured, self.loans) if self.loans else Fraction(0)

    @property
    def roll_rate(self) -> Fraction:
        return Fraction(self.rolled, self.loans) if self.loans else Fraction(0)


@dataclass(frozen=True, slots=True)
class StrategyMetrics:
    policy: str
    days: int
    buckets: tuple[BucketResult, ...]  # the overdue buckets present on the first day
    contacts: Mapping[str, int]
    cost: Decimal  # yuan
    unpriced: tuple[str, ...]  # contact kinds made that the settings give no cost for
    blocked: Mapping[str, int]
    promises_kept: int
    promises_broken: int
    overdue_by_day: tuple[int, ...]
    complaints: int
    plans_kept: int = 0
    plans_broken: int = 0

    @property
    def cohort(self) -> BucketResult:
        """Every overdue bucket together."""
        return BucketResult(
            "all",
            sum(b.loans for b in self.buckets),
            sum(b.overdue for b in self.buckets),
            sum(b.recovered for b in self.buckets),
            sum(b.cured for b in self.buckets),
            sum(b.rolled for b in self.buckets),
        )

    @property
    def cost_per_yuan(self) -> Decimal | None:
        """Yuan spent per yuan recovered, to four places; None when nothing was recovered."""
        recovered = self.cohort.recovered
        if not recovered:
            return None
        return (self.cost * 100 / recovered).quantize(Decimal("0.0001"), ROUND_HALF_UP)

    @property
    def promise_kept_rate(self) -> Fraction:
        due = self.promises_kept + self.promises_broken
        return Fraction(self.promises_kept, due) if due else Fraction(0)

    @property
    def overdue_loan_days(self) -> int:
        return sum(self.overdue_by_day)


def rate_text(rate: Fraction) -> str:
    """A rate as a decimal string rounded half-up to four places ("0.1250")."""
    q = Decimal(rate.numerator) / Decimal(rate.denominator)
    return str(q.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _worse(a: str, b: str) -> bool:
    return BUCKETS.index(b) > BUCKETS.index(a)


def contact_cost(contacts: Mapping[str, int], costs: Costs) -> tuple[Decimal, tuple[str, ...]]:
    """The cost of the contacts made, and the kinds made that have no cost in the settings."""
    total = Decimal(0)
    unpriced = []
    for kind in CONTACT_KINDS:
        made = contacts.get(kind, 0)
        price = getattr(costs, kind, None)
        if price is None:
            if made:
                unpriced.append(kind)
            continue
        total += price * made
    return total, tuple(unpriced)


def metrics(facts: RunFacts, costs: Costs) -> StrategyMetrics:
    per_bucket: dict[str, list[int]] = {}
    for loan_id, start in facts.start.items():
        if start.bucket == CURRENT:
            continue
        row = per_bucket.setdefault(start.bucket, [0, 0, 0, 0, 0])
        end = facts.end_bucket.get(loan_id, CURRENT)
        row[0] += 1
        row[1] += start.overdue
        row[2] += min(facts.collected.get(loan_id, 0), start.overdue)
        row[3] += end == CURRENT
        row[4] += _worse(start.bucket, end)
    buckets = tuple(BucketResult(b, *per_bucket[b]) for b in BUCKETS if b in per_bucket)
    cost, unpriced = contact_cost(facts.contacts, costs)
    return StrategyMetrics(
        facts.policy,
        facts.days,
        buckets,
        dict(facts.contacts),
        cost,
        unpriced,
        dict(facts.blocked),
        facts.promises_kept,
        facts.promises_broken,
        facts.overdue_by_day,
        facts.complaints,
        facts.plans_kept,
        facts.plans_broken,
    )
