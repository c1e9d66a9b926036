"""The fast walker equals the daily reference, and the daily reference equals the ledger's own
replay, on a generated portfolio with payments, waivers and write-offs."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from arrears.core.credit.history import credit_history
from arrears.core.credit.walk import Snapshot, walk
from arrears.core.ledger.replay import Event, Payment, Waiver, WriteOff, replay
from arrears.core.loans.product import DEFAULT_PRODUCT, Component, Method, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis, parse_amount
from arrears.core.sim.sample import sample_portfolio

AS_OF = date(2026, 6, 30)


def portfolio(n: int, seed: int) -> list[tuple[LoanTerms, list[Event]]]:
    rows, pays = sample_portfolio(n, seed, AS_OF)
    rng = random.Random(seed)
    by_loan: dict[str, list[Event]] = {}
    for p in pays:
        by_loan.setdefault(p.loan_id, []).append(Payment(p.ref, p.amount, p.on))
    out = []
    for r in rows:
        due_day = rng.choice((None, None, 1, 10, 28, 31))
        t = LoanTerms(
            r["loan_id"],
            parse_amount(r["principal"]),
            Rate.parse(r["rate"], RateBasis(r["rate_basis"])),
            int(r["months"]),
            Method(r["method"]),
            date.fromisoformat(r["disbursed_on"]),
            due_day,
        )
        evs = by_loan.get(r["loan_id"], [])
        if due_day is not None:
            evs = []  # the sample's payment dates follow the drawdown day; pay in bulk instead
            day = t.disbursed_on + timedelta(days=rng.randrange(30, 200))
            if day <= AS_OF:
                evs.append(Payment(f"{t.loan_id}-B", 50000, day))
        roll = rng.random()
        if roll < 0.1:
            evs.append(WriteOff(f"{t.loan_id}-W", t.disbursed_on + timedelta(days=200)))
        elif roll < 0.2:
            evs.append(Waiver(f"{t.loan_id}-V", Component.PENALTY, 1, AS_OF))
        out.append((t, evs))
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, Snapshot) and isinstance(b, Snapshot):
        x, y = a.account, b.account
        return (
            x.installments == y.installments
            and x.status == y.status
            and x.as_of == y.as_of
            and x.prepaid_principal == y.prepaid_principal
            and x.penalty_owed + x.penalty_unposted == y.penalty_owed + y.penalty_unposted
            and (a.last_payment_on, a.closed_on, a.closed_by)
            == (b.last_payment_on, b.closed_on, b.closed_by)
        )
    return a == b


@pytest.mark.parametrize(
    "product",
    [DEFAULT_PRODUCT, Product(product_id="g3", grace_days=3, penalty_base=PenaltyBase.PRINCIPAL)],
)
def test_fast_walk_equals_daily_walk(product: Product) -> None:
    for t, evs in portfolio(40, 11):
        dates = [t.disbursed_on + timedelta(days=k) for k in range(0, 600, 13)]
        fast = walk(t, product, evs, dates, engine="fast")
        daily = walk(t, product, evs, dates, engine="daily")
        assert fast.keys() == daily.keys()
        for day in fast:
            assert _same(fast[day], daily[day]), (t.loan_id, day)
        h1 = credit_history(t, product, evs, AS_OF, engine="fast")
        h2 = credit_history(t, product, evs, AS_OF, engine="daily")
        assert h1 == h2, t.loan_id


def test_daily_walk_equals_the_ledger_replay() -> None:
    for t, evs in portfolio(12, 5):
        dates = [t.disbursed_on + timedelta(days=k) for k in (0, 31, 95, 190, 300)]
        got = walk(t, DEFAULT_PRODUCT, evs, dates, engine="daily")
        for day in dates:
            ref, _ = replay(t, DEFAULT_PRODUCT, evs, day)
            reading = got[day]
            if ref is None:
                assert not isinstance(reading, Snapshot), (t.loan_id, day)
            else:
                assert isinstance(reading, Snapshot)
                assert reading.account == ref.account, (t.loan_id, day)
