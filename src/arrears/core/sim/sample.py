"""A small synthetic portfolio with payment behaviour, for the demo and tests.

Deterministic for a seed. Behaviours: ``on_time`` pays every installment on its due date;
``late`` pays each 3-40 days late; ``cured`` misses two installments then catches up;
``chronic`` pays every other installment; ``never`` pays nothing. Late payers pay the
installment amount, so penalty is left owing, as happens in life.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from arrears.core.loans.product import DEFAULT_PRODUCT, Method
from arrears.core.loans.schedule import LoanTerms, schedule_for
from arrears.core.money import Rate, RateBasis, fmt

BEHAVIOURS = (("on_time", 50), ("late", 20), ("cured", 10), ("chronic", 10), ("never", 10))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


@dataclass(frozen=True, slots=True)
class SamplePayment:
    loan_id: str
    amount: int
    on: date
    ref: str


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def sample_portfolio(
    n: int, seed: int, as_of: date
) -> tuple[list[dict[str, str]], list[SamplePayment]]:
    """``n`` loans disbursed in the year before ``as_of``, and their payments up to it."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    pays: list[SamplePayment] = []
    borrowers = max(1, int(n * 0.8))
    for k in range(n):
        borrower = rng.randrange(borrowers)
        row, terms = _loan(rng, f"L{k + 1:06d}", borrower, seed, as_of)
        rows.append(row)
        pays.extend(_payments(rng, terms, _pick(rng, BEHAVIOURS), as_of))
    return rows, pays


def _name_and_phone(seed: int, borrower: int) -> tuple[str, str]:
    """The borrower's name and phone, the same on each of their loans (drawn by borrower)."""
    brng = random.Random(f"{seed}:{borrower}")
    name = brng.choice(SURNAMES) + brng.choice(GIVEN) + brng.choice(GIVEN)
    phone = "1" + str(brng.choice((3, 5, 8))) + "".join(str(brng.randrange(10)) for _ in range(9))
    return name, phone


def _loan(
    rng: random.Random, loan_id: str, borrower: int, seed: int, as_of: date
) -> tuple[dict[str, str], LoanTerms]:
    """One loan's import row and its terms."""
    name, phone = _name_and_phone(seed, borrower)
    daily = rng.random() < 0.7
    rate = (
        f"{rng.choice(('0.02', '0.03', '0.035', '0.04', '0.05'))}%"
        if daily
        else f"{rng.choice(('7.2', '9.9', '12', '15.4', '18'))}%"
    )
    months = rng.choice((3, 6, 12, 12, 12, 24))
    method = rng.choice(
        (Method.ANNUITY, Method.ANNUITY, Method.EQUAL_PRINCIPAL, Method.INTEREST_FIRST)
    )
    principal = rng.choice((500, 1000, 2000, 3000, 5000, 8000, 10000, 20000, 50000)) * 100
    disbursed = as_of - timedelta(days=rng.randrange(20, 365))
    row = {
        "loan_id": loan_id,
        "borrower_id": f"B{borrower + 1:06d}",
        "borrower_name": name,
        "phone": phone,
        "principal": fmt(principal),
        "rate": rate,
        "rate_basis": "daily" if daily else "annual",
        "months": str(months),
        "method": method.value,
        "disbursed_on": disbursed.isoformat(),
        "due_day": "",
    }
    basis = RateBasis.DAILY if daily else RateBasis.ANNUAL
    return row, LoanTerms(loan_id, principal, Rate.parse(rate, basis), months, method, disbursed)


def _payments(
    rng: random.Random, terms: LoanTerms, behaviour: str, as_of: date
) -> list[SamplePayment]:
    """The loan's payments up to ``as_of`` as its borrower's ``behaviour`` makes them."""
    loan_id = terms.loan_id
    sched = schedule_for(terms, DEFAULT_PRODUCT)
    pays: list[SamplePayment] = []
    missed = 0
    for inst in sched:
        if behaviour == "never":
            break
        on = inst.due_date
        amount = inst.payment
        if behaviour == "late":
            on += timedelta(days=rng.randrange(3, 41))
        elif behaviour == "chronic" and inst.n % 2 == 0:
            continue
        elif behaviour == "cured" and missed < 2:
            missed += 1
            continue
        elif behaviour == "cured" and missed == 2:
            # Catch up on the two missed installments along with this one.
            amount += sum(i.payment for i in sched[inst.n - 3 : inst.n - 1])
            missed += 1
        if on > as_of:
            break
        pays.append(SamplePayment(loan_id, amount, on, f"{loan_id}-P{inst.n:02d}"))
    return pays
