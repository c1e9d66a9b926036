"""Property tests of the journal invariants (DESIGN.md principle 3, issue 2 "Done when").

A loan is driven the way the close and the payment service drive it (one day at a time,
payments after the day's close); after every step the journal must balance, the receivable
balances derived from the journal must equal what the account says is owed, no receivable may
go negative, and every fen paid must have been allocated. At the end, a replay from the terms
and events alone must reproduce the account and the journal exactly.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.core.ledger.account import (
    Account,
    accrue_loan_day,
    apply_payment,
    open_account,
    payoff_amount,
    receivable_balances,
)
from arrears.core.ledger.journal import CASH, Entry, balances
from arrears.core.ledger.replay import Payment, replay
from arrears.core.loans.product import Component, Method, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from factories import refused, succeeded

rates = st.one_of(
    st.builds(
        lambda bp: Rate(Fraction(bp, 100_000), RateBasis.DAILY), st.integers(5, 100)
    ),  # 0.005% .. 0.1% a day
    st.builds(
        lambda bp: Rate(Fraction(bp, 10_000), RateBasis.ANNUAL), st.integers(0, 2400)
    ),  # 0% .. 24% a year
)

terms_st = st.builds(
    LoanTerms,
    loan_id=st.just("L1"),
    principal=st.integers(100, 5_000_000),
    rate=rates,
    months=st.sampled_from([1, 3, 6, 12, 24]),
    method=st.sampled_from(list(Method)),
    disbursed_on=st.dates(date(2024, 1, 1), date(2025, 12, 31)),
    due_day=st.one_of(st.none(), st.integers(1, 31)),
)

products_st = st.builds(
    Product,
    grace_days=st.integers(0, 5),
    penalty_base=st.sampled_from(list(PenaltyBase)),
    waterfall=st.sampled_from(
        [
            (Component.PENALTY, Component.INTEREST, Component.PRINCIPAL),
            (Component.INTEREST, Component.PRINCIPAL, Component.PENALTY),
            (Component.PRINCIPAL, Component.INTEREST, Component.PENALTY),
        ]
    ),
)

# (days after the previous payment, share of the payoff in thousandths)
payments_st = st.lists(st.tuples(st.integers(0, 120), st.integers(1, 1200)), max_size=8)


def receivables(entries: list[Entry]) -> dict[str, int]:
    return {a: v for a, v in balances(entries).items() if a.startswith("loan:")}


def check_step(acct: Account, entries: list[Entry]) -> None:
    for e in entries:
        assert sum(p.amount for p in e.postings) == 0, e
    derived = receivables(entries)
    assert all(v >= 0 for v in derived.values()), derived
    assert derived == receivable_balances(acct)
    acct.check()


def drive(
    terms: LoanTerms, product: Product, plan: list[tuple[int, int]], through: date
) -> tuple[Account, list[Entry], list[Payment], int]:
    acct, entries = open_account(terms, product)
    check_step(acct, entries)
    paid = allocated = 0
    made: list[Payment] = []
    day = terms.disbursed_on
    targets = []
    for gap, share in plan:
        day = day + timedelta(days=gap)
        targets.append((day, share))
    k = 0
    while True:
        while k < len(targets) and targets[k][0] == acct.as_of:
            on, share = targets[k]
            k += 1
            payoff = payoff_amount(acct, product, on)
            amount = max(1, payoff * share // 1000)
            ref = f"p{k}"
            res = apply_payment(acct, product, ref, amount, on)
            if amount > payoff or acct.status.value != "active":
                refused(res)
                continue
            acct, new, alloc = succeeded(res)
            entries += new
            paid += amount
            allocated += alloc.total
            made.append(Payment(ref, amount, on))
            check_step(acct, entries)
        if acct.as_of >= through:
            break
        acct, new = accrue_loan_day(acct, product, acct.as_of + timedelta(days=1))
        entries += new
        check_step(acct, entries)
    assert paid == allocated
    return acct, entries, made, paid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=terms_st, product=products_st, plan=payments_st, extra=st.integers(0, 400))
def test_journal_invariants_and_replay(
    terms: LoanTerms, product: Product, plan: list[tuple[int, int]], extra: int
) -> None:
    through = terms.disbursed_on + timedelta(days=sum(g for g, _ in plan) + extra)
    acct, entries, made, paid = drive(terms, product, plan, through)

    # Cash: out with the disbursement, back in with every payment.
    assert balances(entries).get(CASH, 0) == paid - terms.principal

    # A replay from the terms and events alone rebuilds the account and the journal exactly.
    again = succeeded(replay(terms, product, list(made), through))
    assert again.account == acct
    assert [(e.key, e.postings) for e in again.entries] == [(e.key, e.postings) for e in entries]
    assert sum(a.total for a in again.allocations.values()) == paid


@settings(max_examples=150, deadline=None)
@given(terms=terms_st, product=products_st)
def test_paying_the_payoff_settles_the_loan(terms: LoanTerms, product: Product) -> None:
    """Whatever day the borrower settles, the payoff leaves nothing owed in the journal."""
    acct, entries = open_account(terms, product)
    for _ in range(45):
        acct, new = accrue_loan_day(acct, product, acct.as_of + timedelta(days=1))
        entries += new
    payoff = payoff_amount(acct, product, acct.as_of)
    acct, new, alloc = succeeded(apply_payment(acct, product, "all", payoff, acct.as_of))
    entries += new
    assert acct.status.value == "settled"
    assert receivables(entries) == {}
    assert alloc.total == payoff
    # One fen more than the payoff is refused, and refusing changes nothing.
    acct2, _ = open_account(terms, product)
    for _ in range(45):
        acct2, _ = accrue_loan_day(acct2, product, acct2.as_of + timedelta(days=1))
    over = refused(apply_payment(acct2, product, "over", payoff + 1, acct2.as_of))
    assert over.field == "amount" and over.record == "ref over"


def test_penalty_accrues_from_the_day_after_due_plus_grace() -> None:
    """Hand-computed: 1,200.00 over 3 months equal principal at 0.05% a day, never paid.

    Installment 1 falls due 2025-02-10 (disbursed 2025-01-10): principal 400.00, interest
    1,200.00 x 0.05% x 31 days = 18.60. Penalty per day = 418.60 x 0.05% x 1.5 = 0.31395,
    rounded half-up to 0.31. With 2 grace days it starts on 2025-02-13: by 2025-02-15 three
    days have accrued, 0.93.
    """
    terms = LoanTerms(
        "L1", 120_000, Rate.parse("0.05%", "daily"), 3, Method.EQUAL_PRINCIPAL, date(2025, 1, 10)
    )
    product = Product(grace_days=2)
    acct, _ = open_account(terms, product)
    by_day: dict[date, int] = defaultdict(int)
    while acct.as_of < date(2025, 2, 15):
        before = acct.penalty_unposted + acct.penalty_owed
        acct, _ = accrue_loan_day(acct, product, acct.as_of + timedelta(days=1))
        by_day[acct.as_of] = acct.penalty_unposted + acct.penalty_owed - before
    assert acct.installments[0].principal == 40_000
    assert acct.installments[0].interest == 1_860
    assert by_day[date(2025, 2, 12)] == 0  # last grace day
    assert by_day[date(2025, 2, 13)] == 31
    assert acct.penalty_unposted + acct.penalty_owed == 93
