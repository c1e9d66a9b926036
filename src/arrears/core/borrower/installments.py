"""Installment requests (协商分期还款): the lender's policy as data, the preview of a plan on
the ledger, and the policy's decision.

The preview is the ledger's own re-ageing (:func:`arrears.core.ledger.plan.reschedule`) run on
the account as it stands, so what the borrower is shown is what acceptance will post. The
decision is one of:

* ``approve``: within every ``auto`` limit, the policy approves it on its own;
* ``refer``: within the hard ``limits`` but outside an ``auto`` one: a supervisor decides,
  and may counter-offer other terms;
* ``refuse``: beyond a hard limit (longer than 60 months, an installment below the minimum).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Literal

from arrears.core.ledger.account import Account
from arrears.core.ledger.plan import MAX_MONTHS, Reschedule, plan_amounts, reschedule
from arrears.core.loans.calendar import add_months
from arrears.core.loans.product import Product
from arrears.core.money import MoneyError, fmt, parse_amount
from arrears.core.problem import Problem, Result, fail, ok

Outcome = Literal["approve", "refer", "refuse"]


@dataclass(frozen=True, slots=True)
class InstallmentPolicy:
    reasons: tuple[str, ...]
    max_months: int
    min_monthly: int  # fen
    auto_max_months: int
    auto_min_monthly: int
    auto_max_waived: Fraction  # of the penalty owed
    auto_reasons: tuple[str, ...]
    first_due_months: int
    grace_days: int


def _int(
    obj: Mapping[str, Any], key: str, where: str, lo: int, hi: int
) -> tuple[int, list[Problem]]:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        return 0, [Problem(where, key, f"must be a whole number from {lo} to {hi}")]
    return value, []


def _money(obj: Mapping[str, Any], key: str, where: str) -> tuple[int, list[Problem]]:
    value = obj.get(key)
    if not isinstance(value, str):
        return 0, [Problem(where, key, 'must be an amount in quotes, e.g. "100.00"')]
    try:
        return parse_amount(value), []
    except MoneyError as exc:
        return 0, [Problem(where, key, str(exc))]


def parse_policy(obj: Any, source: str) -> Result[InstallmentPolicy]:
    """The policy file read; every problem named by its key."""
    if not isinstance(obj, Mapping):
        return fail(Problem(source, "top", "must be a mapping"))
    problems: list[Problem] = []
    reasons = obj.get("reasons")
    if not isinstance(reasons, list) or not reasons or not all(isinstance(r, str) for r in reasons):
        problems.append(Problem(source, "reasons", "must be a list of reason ids"))
        reasons = []
    raw_limits, raw_auto = obj.get("limits"), obj.get("auto")
    limits: Mapping[str, Any] = raw_limits if isinstance(raw_limits, Mapping) else {}
    auto: Mapping[str, Any] = raw_auto if isinstance(raw_auto, Mapping) else {}
    max_months, p1 = _int(limits, "max_months", f"{source} limits", 1, MAX_MONTHS)
    min_monthly, p2 = _money(limits, "min_monthly", f"{source} limits")
    auto_months, p3 = _int(auto, "max_months", f"{source} auto", 1, MAX_MONTHS)
    auto_min, p4 = _money(auto, "min_monthly", f"{source} auto")
    waived, p5 = _int(auto, "max_penalty_waived_percent", f"{source} auto", 0, 100)
    first_due, p6 = _int(obj, "first_due_months", source, 1, 3)
    grace, p7 = _int(obj, "grace_days", source, 0, 30)
    problems += p1 + p2 + p3 + p4 + p5 + p6 + p7
    auto_reasons = auto.get("reasons")
    if not isinstance(auto_reasons, list) or not set(auto_reasons) <= set(reasons):
        problems.append(Problem(f"{source} auto", "reasons", "must be a list of the reasons above"))
        auto_reasons = []
    if not problems and (auto_months > max_months or auto_min < min_monthly):
        problems.append(Problem(f"{source} auto", "max_months", "auto must lie within limits"))
    if problems:
        return fail(*problems)
    return ok(
        InstallmentPolicy(
            tuple(reasons),
            max_months,
            min_monthly,
            auto_months,
            auto_min,
            Fraction(waived, 100),
            tuple(auto_reasons),
            first_due,
            grace,
        )
    )


@dataclass(frozen=True, slots=True)
class Preview:
    """What the plan is, as the ledger will post it."""

    loan_id: str
    on: date
    months: int
    first_due: date
    due_dates: tuple[date, ...]
    amounts: tuple[int, ...]  # fen, each installment
    principal: int  # unpaid principal put in the plan
    interest: int  # overdue interest capitalised
    penalty_owed: int  # the penalty owed on the day, before any waiver
    waive_penalty: int

    @property
    def total(self) -> int:
        return sum(self.amounts)

    @property
    def monthly(self) -> int:
        return self.amounts[0]

    @property
    def last(self) -> int:
        return self.amounts[-1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "on": self.on.isoformat(),
            "months": self.months,
            "first_due": self.first_due.isoformat(),
            "monthly": fmt(self.monthly),
            "last": fmt(self.last),
            "total": fmt(self.total),
            "principal": fmt(self.principal),
            "interest_capitalised": fmt(self.interest),
            "penalty_owed": fmt(self.penalty_owed),
            "penalty_waived": fmt(self.waive_penalty),
            "schedule": [
                {"due_date": d.isoformat(), "amount": fmt(a)}
                for d, a in zip(self.due_dates, self.amounts, strict=True)
            ],
        }


def months_for(total: int, monthly: int) -> int:
    """The fewest installments of at most ``monthly`` that repay ``total`` (ceiling division)."""
    assert monthly > 0
    return max(1, -(-total // monthly))


def preview(
    acct: Account,
    product: Product,
    policy: InstallmentPolicy,
    ref: str,
    months: int,
    waive_penalty: int,
) -> Result[Preview]:
    """The plan of ``months`` on ``acct`` (closed through its business date), as posted."""
    on = acct.as_of
    first_due = add_months(on, policy.first_due_months)
    if not 1 <= months <= policy.max_months:
        return fail(Problem(f"plan {ref}", "months", f"must be 1 to {policy.max_months}"))
    step, problems = reschedule(
        acct, product, Reschedule(ref, on, months, first_due, waive_penalty)
    )
    if step is None:
        return fail(*problems)
    after, _ = step
    plan = [i for i in after.installments if i.n > max(j.n for j in acct.installments)]
    # The penalty owed on the day: posted + accrued, what the re-ageing posted first.
    owed = acct.penalty_owed + acct.penalty_unposted
    interest = sum(i.unpaid_interest for i in acct.installments if i.due_date <= on)
    principal = sum(i.unpaid_principal for i in acct.installments)
    amounts = tuple(i.principal for i in plan)
    assert amounts == plan_amounts(principal + interest + owed - waive_penalty, months)
    return ok(
        Preview(
            acct.loan_id,
            on,
            months,
            first_due,
            tuple(i.due_date for i in plan),
            amounts,
            principal,
            interest,
            owed,
            waive_penalty,
        )
    )


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]  # why it is referred or refused, in plain words (en)


def decide(policy: InstallmentPolicy, plan: Preview, reason: str) -> Decision:
    """The policy's decision on a previewed plan requested for ``reason``."""
    hard: list[str] = []
    if plan.months > policy.max_months:
        hard.append(f"longer than {policy.max_months} months")
    if plan.monthly < policy.min_monthly and plan.months > 1:
        hard.append(f"installments below the minimum of {policy.min_monthly} fen")
    if hard:
        return Decision("refuse", tuple(hard))
    refer: list[str] = []
    if plan.months > policy.auto_max_months:
        refer.append(f"longer than the {policy.auto_max_months} months approved automatically")
    if plan.monthly < policy.auto_min_monthly and plan.months > 1:
        refer.append(f"installments below {policy.auto_min_monthly} fen need a supervisor")
    if plan.waive_penalty > policy.auto_max_waived * plan.penalty_owed:
        refer.append("more penalty waived than approved automatically")
    if reason not in policy.auto_reasons:
        refer.append(f"the reason {reason!r} needs a supervisor")
    return Decision("refer", tuple(refer)) if refer else Decision("approve", ())
