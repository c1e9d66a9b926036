"""A payoff plan for several debts under one monthly budget.

Each month, for every debt still owed:

1. interest = balance x APR / 12, rounded half-up to the fen, is added first;
2. then every minimum is paid (at most what the debt now owes);
3. then what is left of the budget goes to the debts in the method's order, the first still
   owed taking all it can before the next gets any.

A debt paid off pays no minimum, so its minimum rolls into what the budget has left for the
others (the "snowball"). The order is fixed at the start:

* ``avalanche``: the highest APR first (the least interest paid in all, of any order, in exact
  arithmetic; with each month's interest rounded to the fen it can pay a few fen more than
  another order: tests/borrower/test_payoff.py bounds how many);
* ``snowball``: the smallest balance first (the first debts gone soonest);
* ``overdue-first``: debts already overdue first (they accrue penalty and are reported to the
  credit bureau), then the rest by APR as in avalanche;
* ``custom``: the order the borrower gives.

Ties break by the other key (balance for avalanche, APR for snowball), then by name, so one
input gives one plan. Money is integer fen throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from arrears.core.money import MoneyError, fmt, parse_amount, parse_rate, round_half_up
from arrears.core.problem import Problem, Result, fail, ok

Method = Literal["avalanche", "snowball", "overdue-first", "custom"]
METHODS: tuple[Method, ...] = ("avalanche", "snowball", "overdue-first", "custom")

# A plan that has not paid everything off in 50 years never will on this budget: the interest
# outruns it. Said so rather than looping.
MAX_MONTHS = 600


@dataclass(frozen=True, slots=True)
class Debt:
    name: str
    balance: int  # fen owed today
    apr: Fraction  # yearly rate, 0.18 for 18%
    minimum: int  # fen due each month
    overdue: bool = False  # already past due (penalty and the credit record at stake)


@dataclass(frozen=True, slots=True)
class DebtMonth:
    name: str
    interest: int
    paid: int
    balance: int  # after this month's interest and payment


@dataclass(frozen=True, slots=True)
class Month:
    n: int  # 1 is the first month of the plan
    debts: tuple[DebtMonth, ...]

    @property
    def paid(self) -> int:
        return sum(d.paid for d in self.debts)


@dataclass(frozen=True, slots=True)
class PayoffPlan:
    method: Method
    order: tuple[str, ...]  # the debts in the order extra money goes to them
    budget: int
    schedule: tuple[Month, ...]
    payoff_month: dict[str, int]  # debt -> the month its balance reached 0 (0: owed nothing)

    @property
    def months(self) -> int:
        return len(self.schedule)

    @property
    def total_interest(self) -> int:
        return sum(d.interest for m in self.schedule for d in m.debts)

    @property
    def total_paid(self) -> int:
        return sum(m.paid for m in self.schedule)

    def as_dict(self) -> dict[str, Any]:
        """What ``arrears plan payoff --json`` prints and the API returns; amounts in yuan."""
        return {
            "method": self.method,
            "order": list(self.order),
            "budget": fmt(self.budget),
            "months": self.months,
            "total_interest": fmt(self.total_interest),
            "total_paid": fmt(self.total_paid),
            "payoff_month": dict(self.payoff_month),
            "schedule": [
                {
                    "month": m.n,
                    "paid": fmt(m.paid),
                    "debts": [
                        {
                            "name": d.name,
                            "interest": fmt(d.interest),
                            "paid": fmt(d.paid),
                            "balance": fmt(d.balance),
                        }
                        for d in m.debts
                    ],
                }
                for m in self.schedule
            ],
        }


def _order(debts: tuple[Debt, ...], method: Method, custom: tuple[str, ...]) -> tuple[str, ...]:
    if method == "custom":
        return custom
    if method == "snowball":
        ranked = sorted(debts, key=lambda d: (d.balance, -d.apr, d.name))
    elif method == "overdue-first":
        ranked = sorted(debts, key=lambda d: (not d.overdue, -d.apr, d.balance, d.name))
    else:
        ranked = sorted(debts, key=lambda d: (-d.apr, d.balance, d.name))
    return tuple(d.name for d in ranked)


def _check(
    debts: tuple[Debt, ...], budget: int, method: Method, custom: tuple[str, ...]
) -> list[Problem]:
    problems: list[Problem] = []
    names = [d.name for d in debts]
    if not debts:
        problems.append(Problem("plan", "debts", "name at least one debt"))
    for d in debts:
        record = f"debt {d.name or '(no name)'}"
        if not d.name.strip():
            problems.append(Problem(record, "name", "must not be empty"))
        if d.balance < 0:
            problems.append(Problem(record, "balance", "must not be negative"))
        if d.minimum < 0:
            problems.append(Problem(record, "minimum", "must not be negative"))
        if d.apr < 0:
            problems.append(Problem(record, "apr", "must not be negative"))
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        problems.append(Problem("plan", "debts", f"named twice: {', '.join(twice)}"))
    if method not in METHODS:
        problems.append(Problem("plan", "method", f"must be one of {', '.join(METHODS)}"))
    if method == "custom" and sorted(custom) != sorted(names):
        problems.append(
            Problem("plan", "order", f"must name every debt once: {', '.join(sorted(names))}")
        )
    # The first month's minimums: a debt whose minimum is more than it owes pays what it owes
    # once the month's interest is on it. Later months' are no more (a debt owing less than
    # its minimum after the interest is paid off that month), so this is the most due.
    minimums = sum(min(d.minimum, d.balance + round_half_up(d.balance * d.apr / 12)) for d in debts)
    if budget < minimums:
        problems.append(
            Problem(
                "plan",
                "budget",
                f"{fmt(budget)} is less than the minimum payments, which add up to "
                f"{fmt(minimums)}; a plan needs at least that each month",
            )
        )
    return problems


def plan_payoff(
    debts: tuple[Debt, ...] | list[Debt],
    budget: int,
    method: Method = "avalanche",
    order: tuple[str, ...] = (),
) -> Result[PayoffPlan]:
    """The month-by-month plan paying ``budget`` fen a month until every debt is paid."""
    debts = tuple(debts)
    problems = _check(debts, budget, method, order)
    if problems:
        return fail(*problems)
    ranked = _order(debts, method, order)
    by_name = {d.name: d for d in debts}
    balance = {d.name: d.balance for d in debts}
    payoff = {d.name: 0 for d in debts if d.balance == 0}
    schedule: list[Month] = []
    while any(balance.values()):
        n = len(schedule) + 1
        if n > MAX_MONTHS:
            return fail(
                Problem(
                    "plan",
                    "budget",
                    f"{fmt(budget)} a month does not pay these debts off in "
                    f"{MAX_MONTHS // 12} years: the interest grows faster than it is paid",
                )
            )
        interest = {
            name: round_half_up(owed * by_name[name].apr / 12)
            for name, owed in balance.items()
            if owed
        }
        for name, added in interest.items():
            balance[name] += added
        paid = {name: 0 for name in balance}
        left = budget
        for name in ranked:  # minimums first, every one before any extra
            due = min(by_name[name].minimum, balance[name])
            paid[name] += due
            balance[name] -= due
            left -= due
        assert left >= 0  # _check: the budget covers the first month's minimums, the most
        for name in ranked:
            extra = min(left, balance[name])
            paid[name] += extra
            balance[name] -= extra
            left -= extra
        for name in ranked:
            if balance[name] == 0 and name not in payoff:
                payoff[name] = n
        schedule.append(
            Month(
                n,
                tuple(
                    DebtMonth(name, interest.get(name, 0), paid[name], balance[name])
                    for name in ranked
                    if name in interest or paid[name]
                ),
            )
        )
    return ok(PayoffPlan(method, ranked, budget, tuple(schedule), payoff))


def compare(
    debts: tuple[Debt, ...] | list[Debt], budget: int, order: tuple[str, ...] = ()
) -> Result[tuple[PayoffPlan, ...]]:
    """The plan by each method (``custom`` too when an order is given), side by side."""
    methods = [m for m in METHODS if m != "custom" or order]
    plans: list[PayoffPlan] = []
    for method in methods:
        plan, problems = plan_payoff(debts, budget, method, order)
        if plan is None:
            return None, problems
        plans.append(plan)
    return ok(tuple(plans))


def parse_debt(text: str) -> Result[Debt]:
    """``NAME:BALANCE:APR:MIN`` with an optional ``:overdue``, as the command line takes a
    debt: ``card:12000:18%:600``, ``family:5000:0:0``, ``jiebei:3000:18.25%:300:overdue``.
    The APR is yearly, a percent or a fraction (18% or 0.18)."""
    record = f"--debt {text}"
    parts = text.split(":")
    overdue = len(parts) == 5 and parts[4].strip().lower() == "overdue"
    if len(parts) not in (4, 5) or (len(parts) == 5 and not overdue):
        return fail(Problem(record, "debt", "write NAME:BALANCE:APR:MIN, or add :overdue"))
    name, balance_text, apr_text, minimum_text = (p.strip() for p in parts[:4])
    problems: list[Problem] = []
    amounts: dict[str, int] = {}
    for field, raw in (("balance", balance_text), ("minimum", minimum_text)):
        try:
            amounts[field] = parse_amount(raw)
        except MoneyError as exc:
            problems.append(Problem(record, field, str(exc)))
    try:
        apr = parse_rate(apr_text)
    except MoneyError as exc:
        problems.append(Problem(record, "apr", str(exc)))
    if not name:
        problems.append(Problem(record, "name", "must not be empty"))
    if problems:
        return fail(*problems)
    return ok(Debt(name, amounts["balance"], apr, amounts["minimum"], overdue))
