"""An independent reference of the payoff rule in exact rational arithmetic, for the payoff
tests: the same month as the planner's (interest first, then every minimum, then the rest of
the budget to the debts in order) with the rounding of each month's interest switchable, so a
plan can be run as the planner runs it (half-up to the fen) or with no rounding at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from arrears.core.borrower.payoff import Debt

HALF = Fraction(1, 2)


@dataclass(frozen=True)
class ExactPlan:
    months: int
    total_interest: Fraction  # fen
    paid: tuple[dict[str, Fraction], ...]  # each month, what each debt was paid (fen)
    charged: tuple[int, ...]  # each month, how many debts were charged interest


def exact_plan(
    debts: Sequence[Debt],
    budget: int,
    order: Sequence[str],
    *,
    rounded: bool,
    max_months: int = 600,
) -> ExactPlan | None:
    """The plan paying ``budget`` fen a month to ``debts`` in ``order``; None past
    ``max_months``. ``rounded``: each month's interest half-up to the fen, as the planner does;
    otherwise kept exact."""
    apr = {d.name: d.apr for d in debts}
    minimum = {d.name: Fraction(d.minimum) for d in debts}
    balance = {d.name: Fraction(d.balance) for d in debts}
    total = Fraction(0)
    paid: list[dict[str, Fraction]] = []
    charged: list[int] = []
    while any(balance.values()):
        if len(paid) == max_months:
            return None
        owing = [n for n in order if balance[n]]
        for n in owing:
            interest = balance[n] * apr[n] / 12
            if rounded:
                interest = Fraction((interest + HALF).__floor__())
            balance[n] += interest
            total += interest
        month = {n: Fraction(0) for n in order}
        left = Fraction(budget)
        for n in order:
            due = min(minimum[n], balance[n])
            month[n] += due
            balance[n] -= due
            left -= due
        for n in order:
            extra = min(left, balance[n])
            month[n] += extra
            balance[n] -= extra
            left -= extra
        paid.append(month)
        charged.append(len(owing))
    return ExactPlan(len(paid), total, tuple(paid), tuple(charged))


def rounding_bound(debts: Sequence[Debt], charged: Sequence[int]) -> Fraction:
    """How far, in fen, a plan's total interest with each month's interest rounded to the fen
    can be from the same plan's in exact arithmetic; ``charged``: the rounded plan's count of
    debts charged interest in each month.

    Let e_t bound the l1 distance between the two plans' balances at the start of month t
    (e_1 = 0) and g = 1 + (the highest APR) / 12:

    * interest multiplies each balance by at most g, so it takes the distance to g * e_t;
      rounding then moves each of the n_t charged debts by at most half a fen: h_t = n_t / 2;
    * the payment is 1-Lipschitz in l1: raising one balance by d weakly raises every balance
      after payment (less of the budget is left for the others) and their sum by at most d
      (it is max(0, owed - budget)). So e_(t+1) <= g * e_t + h_t;
    * month t's interest differs by at most (g - 1) * e_t + h_t = e_(t+1) - e_t, which adds
      up over the M months of the rounded plan to e_(M+1); and if the exact plan still owes
      then (at most e_(M+1), so it pays off the next month while g * e_(M+1) is within the
      budget) its last month's interest is at most (g - 1) * e_(M+1).

    Hence |rounded - exact| <= g * e_(M+1) = g * sum_t h_t * g^(M - t)."""
    g = 1 + max(d.apr for d in debts) / 12
    e = Fraction(0)
    for n in charged:
        e = g * e + Fraction(n, 2)
    return g * e
