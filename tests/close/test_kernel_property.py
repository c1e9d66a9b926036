"""The columnar close equals the per-loan reference, loan by loan, day by day, to the fen.

Issue 3, item 1. The reference is ``ledger.account.accrue_loan_day`` (entries and the new account)
and ``services.accounts.state_row`` (the read-outs); the kernel must reproduce both for random
products, loans and payment histories, over day ranges that cross due dates and month ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.core.ageing.status import BUCKETS, CLASSES
from arrears.core.close import kernel as k
from arrears.core.close.frames import BASE_COLUMNS, entries_to_domain, frames_from_accounts
from arrears.core.ledger.account import (
    ONE_DAY,
    Account,
    accrue_loan_day,
    apply_payment,
    open_account,
    payoff_amount,
    waive,
    write_off,
)
from arrears.core.ledger.journal import Entry
from arrears.core.loans.product import Component, Method, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.services.accounts import state_row
from factories import succeeded

rates = st.one_of(
    st.builds(lambda bp: Rate(Fraction(bp, 100_000), RateBasis.DAILY), st.integers(1, 100)),
    st.builds(lambda bp: Rate(Fraction(bp, 10_000), RateBasis.ANNUAL), st.integers(0, 3600)),
    # rates with long decimals: large penalty-rate denominators
    st.builds(lambda n: Rate(Fraction(n, 10**9), RateBasis.ANNUAL), st.integers(1, 300_000_000)),
)

thresholds = st.lists(st.integers(0, 400), min_size=4, max_size=4).map(lambda xs: tuple(sorted(xs)))

products_st = st.builds(
    Product,
    grace_days=st.integers(0, 5),
    penalty_multiplier=st.sampled_from([Fraction(1), Fraction(3, 2), Fraction(7, 4), Fraction(2)]),
    penalty_base=st.sampled_from(list(PenaltyBase)),
    classification_thresholds=thresholds,
)


@st.composite
def terms_st(draw: st.DrawFn, loan_id: str, base: date) -> LoanTerms:
    return LoanTerms(
        loan_id,
        draw(st.integers(100, 50_000_000)),
        draw(rates),
        draw(st.integers(1, 24)),
        draw(st.sampled_from(list(Method))),
        base + timedelta(days=draw(st.integers(0, 60))),
        draw(st.one_of(st.none(), st.integers(1, 31))),
    )


# a loan's history before the test window: (days before the next event, what happens)
history_st = st.lists(
    st.tuples(
        st.integers(0, 60),
        st.one_of(
            st.tuples(st.just("pay"), st.integers(1, 1000)),  # thousandths of the payoff
            st.tuples(st.just("waive"), st.integers(1, 1000)),  # of the penalty owed
            st.tuples(st.just("write_off"), st.just(0)),
        ),
    ),
    max_size=4,
)


@dataclass(frozen=True)
class Loan:
    acct: Account
    product: Product


def build_loan(terms: LoanTerms, product: Product, history: list[tuple[int, Any]]) -> Account:
    acct, _ = open_account(terms, product)
    for n, (gap, (what, share)) in enumerate(history):
        for _ in range(gap):
            acct, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
        ref, on = f"r{n}", acct.as_of
        if what == "pay":
            amount = max(1, payoff_amount(acct, product, on) * share // 1000)
            res, _ = apply_payment(acct, product, ref, amount, on)
            if res is not None:
                acct = res[0]
        elif what == "waive":
            owed = max(1, acct.penalty_owed * share // 1000)
            w, _ = waive(acct, ref, Component.PENALTY, owed, on)
            if w is not None:
                acct = w[0]
        else:
            s, _ = write_off(acct, ref, on)
            if s is not None:
                acct = s[0]
    return acct


def reference_row(acct: Account, product: Product) -> dict[str, Any]:
    return state_row(acct, product)


def kernel_rows(state: pl.DataFrame) -> dict[str, dict[str, Any]]:
    out = k.readouts(state).with_columns(
        pl.col("status").cast(pl.String),
        pl.col("bucket").replace_strict(list(range(len(BUCKETS))), list(BUCKETS)),
        pl.col("classification").replace_strict(list(range(len(CLASSES))), list(CLASSES)),
    )
    return {r["loan_id"]: r for r in out.iter_rows(named=True)}


def entry_set(entries: list[Entry]) -> set[tuple[Any, ...]]:
    return {(e.key, e.loan_id, e.kind, e.effective_on, e.postings) for e in entries}


@st.composite
def portfolio_st(draw: st.DrawFn) -> list[Loan]:
    n = draw(st.integers(1, 6))
    prods = draw(st.lists(products_st, min_size=1, max_size=3))
    base = draw(st.dates(date(2024, 1, 1), date(2025, 6, 30)))
    loans = []
    for i in range(n):
        terms = draw(terms_st(f"L{i}", base))
        product = draw(st.sampled_from(prods))
        acct = build_loan(terms, product, draw(history_st))
        loans.append(Loan(acct, product))
    return loans


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(portfolio_st(), st.integers(1, 62))
def test_kernel_equals_reference_every_loan_every_day(loans: list[Loan], days: int) -> None:
    accts = {ln.acct.loan_id: ln.acct for ln in loans}
    prods = {ln.acct.loan_id: ln.product for ln in loans}
    state, insts = frames_from_accounts([(ln.acct, ln.product) for ln in loans])
    ids = state["loan_id"].to_list()
    # every loan's starting read-outs already agree (the aggregates are derived right)
    got = kernel_rows(state)
    for lid, a in accts.items():
        assert got[lid] == reference_row(a, prods[lid]), lid
    start = min(a.as_of for a in accts.values())
    through = max(a.as_of for a in accts.values()) + timedelta(days=days)
    all_entries: list[Entry] = []
    day = start
    while day < through:
        day += ONE_DAY
        want: list[Entry] = []
        for lid, a in accts.items():
            if a.as_of == day - ONE_DAY:
                accts[lid], new = accrue_loan_day(a, prods[lid], day)
                want.extend(new)
        res = k.accrue_portfolio_day(state, insts, k.day_number(day))
        state = res.state
        assert entry_set(entries_to_domain(res.entries, ids)) == entry_set(want), day
        assert res.entries.height == len(want)
        all_entries.extend(want)
        got = kernel_rows(state)
        for lid, a in accts.items():
            assert got[lid] == reference_row(a, prods[lid]), (lid, day)
    # the multi-day driver from the first state gives the same end and the same entries
    state0, insts0 = frames_from_accounts([(ln.acct, ln.product) for ln in loans])
    adv = k.accrue_portfolio_through(state0, insts0, k.day_number(through))
    got = kernel_rows(adv.state)
    for lid, a in accts.items():
        assert got[lid] == reference_row(a, prods[lid]), lid
    assert entry_set(entries_to_domain(adv.entries, ids)) == entry_set(all_entries)
    assert adv.loan_days == sum((through - ln.acct.as_of).days for ln in loans)


def test_penalty_that_overflows_int64_is_computed_exactly() -> None:
    # A base of 10^12 fen at a rate of 1/(10^9 - 1) a day: 2*base*num + den fits, but a rate
    # with a huge numerator does not; the kernel must fall back to exact integers.
    terms = LoanTerms(
        "BIG",
        10**15,
        Rate(Fraction(999_999_999, 10**9), RateBasis.DAILY),
        1,
        Method.BULLET,
        date(2024, 1, 1),
        None,
    )
    product = Product()
    acct, _ = open_account(terms, product)
    due = acct.installments[0].due_date
    while acct.as_of < due + timedelta(days=2):
        acct, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
    state, insts = frames_from_accounts([(acct, product)])
    nxt, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
    res = k.accrue_portfolio_day(state, insts, k.day_number(acct.as_of + ONE_DAY))
    row = kernel_rows(res.state)["BIG"]
    assert row["penalty_unposted"] == nxt.penalty_unposted
    # the day's accrual really is beyond int64 arithmetic's reach
    base = int(state["pen_base"][0])
    assert 2 * base * int(state["rate_num"][0]) > 2**63


def test_written_off_loan_reads_zero_while_its_installments_fall_due() -> None:
    # The state keeps a written-off loan's amounts at zero (so the read-outs need no masking)
    # while its DPD keeps counting from the oldest overdue installment: installments falling
    # due and overdue after the write-off must not leak into the read-outs.
    terms = LoanTerms(
        "WO",
        1_200_000,
        Rate(Fraction(5, 10_000), RateBasis.DAILY),
        6,
        Method.ANNUITY,
        date(2024, 1, 10),
        None,
    )
    product = Product(grace_days=2)
    acct = build_loan(terms, product, [(45, ("write_off", 0))])
    assert acct.status.value == "written_off"
    state, insts = frames_from_accounts([(acct, product)])
    ids = state["loan_id"].to_list()
    assert kernel_rows(state)["WO"] == reference_row(acct, product)
    for _ in range(120):  # four more installments fall due and overdue
        acct, want = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
        res = k.accrue_portfolio_day(state, insts, k.day_number(acct.as_of))
        state = res.state
        assert entries_to_domain(res.entries, ids) == want == []
        row = kernel_rows(state)["WO"]
        assert row == reference_row(acct, product), acct.as_of
    assert row["dpd"] > 90 and row["overdue_principal"] == 0 and row["classification"] == "loss"


@given(st.lists(st.integers(0, 400), min_size=1, max_size=50))
def test_grace_windows_cover_every_grace_present(graces: list[int]) -> None:
    # accrue_loan_day looks at the installments crossing due + grace for each grace this returns;
    # a grace left out would leave those loans' penalty base short
    arr = np.array(graces, dtype=np.int32)
    assert set(np.unique(arr).tolist()) <= set(k._graces(arr))


def advance_reference(
    loans: list[tuple[Account, Product]], through: date
) -> tuple[dict[str, dict[str, Any]], list[Entry]]:
    """Every loan closed day by day to ``through`` by the per-loan reference."""
    rows, entries = {}, []
    for acct, product in loans:
        while acct.as_of < through:
            acct, new = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
            entries.extend(new)
        rows[acct.loan_id] = reference_row(acct, product)
    return rows, entries


def advance_from_stored(
    loans: list[tuple[Account, Product]], through: date
) -> tuple[dict[str, dict[str, Any]], list[Entry], int]:
    """The runner's way: the stored read-outs and only the installments from the window on."""
    full, insts = frames_from_accounts(loans)
    base = full.select(BASE_COLUMNS)
    stored = pl.DataFrame([reference_row(a, p) for a, p in loans]).select(
        pl.col(c).cast(t) for c, t in k.STORED_SCHEMA.items()
    )
    window = insts.filter(pl.col("due") >= k.window_start(base))
    state = k.from_stored(base, stored, window)
    # the aggregates are those derived from every installment (the penalty base too, on
    # every loan that can accrue)
    live = full["status"] != "written_off"
    assert state.filter(live).equals(full.filter(live))
    adv = k.accrue_portfolio_through(state, window, k.day_number(through))
    ids = state["loan_id"].to_list()
    return kernel_rows(adv.state), entries_to_domain(adv.entries, ids), insts.height - window.height


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(portfolio_st(), st.integers(1, 62))
def test_kernel_from_stored_readouts_and_a_window_equals_reference(
    loans: list[Loan], days: int
) -> None:
    pairs = [(ln.acct, ln.product) for ln in loans]
    through = max(a.as_of for a, _ in pairs) + timedelta(days=days)
    got, got_entries, _ = advance_from_stored(pairs, through)
    want, want_entries = advance_reference(pairs, through)
    assert got == want
    assert entry_set(got_entries) == entry_set(want_entries)
    assert len(got_entries) == len(want_entries)


def test_window_keeps_installments_in_grace_that_start_accruing() -> None:
    # Overdue installments before the window (left out, carried by the read-outs), one fallen
    # due within the grace period (read: it joins the penalty base during the days closed),
    # one falling due and one going overdue in the days closed, over a month end. A window
    # starting at as_of instead of as_of - grace would leave the penalty base short.
    terms = LoanTerms(
        "G",
        2_400_000,
        Rate(Fraction(6, 10_000), RateBasis.DAILY),
        12,
        Method.EQUAL_PRINCIPAL,
        date(2024, 1, 15),
        None,
    )
    product = Product(grace_days=5, penalty_base=PenaltyBase.INSTALLMENT)
    acct, _ = open_account(terms, product)
    fourth = acct.installments[3].due_date
    while acct.as_of < fourth + timedelta(days=2):  # three overdue, the fourth in grace
        acct, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
    acct = succeeded(apply_payment(acct, product, "p", 150_000, acct.as_of))[0]
    pairs = [(acct, product)]
    assert sum(i.due_date < acct.as_of and i.unpaid > 0 for i in acct.installments) == 4
    through = acct.installments[4].due_date + timedelta(days=3)
    assert through.month != acct.as_of.month
    got, got_entries, dropped = advance_from_stored(pairs, through)
    want, want_entries = advance_reference(pairs, through)
    assert dropped >= 3  # the window really left installments out
    assert got == want
    assert entry_set(got_entries) == entry_set(want_entries)
    assert any(e.kind.value == "penalty" for e in want_entries)
    assert want["G"]["overdue_penalty"] > 0


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(portfolio_st(), st.integers(1, 62), st.data())
def test_kernel_equals_reference_under_moratoria(
    loans: list[Loan], days: int, data: st.DataObject
) -> None:
    """With moratoria (UK Breathing Space: no penalty on the days in force) on some loans, the
    kernel's ``accrue_portfolio_through`` equals the per-loan reference advancing day by day
    with those days not accruing, loan by loan, to the fen, entries included."""
    accts = {ln.acct.loan_id: ln.acct for ln in loans}
    prods = {ln.acct.loan_id: ln.product for ln in loans}
    start = min(a.as_of for a in accts.values())
    through = max(a.as_of for a in accts.values()) + timedelta(days=days)
    pauses: dict[str, list[tuple[date, date]]] = {}
    for lid in accts:
        for _ in range(data.draw(st.integers(0, 2))):
            first = start + timedelta(days=data.draw(st.integers(0, days + 30)))
            last = first + timedelta(days=data.draw(st.integers(0, 70)))
            pauses.setdefault(lid, []).append((first, last))
    want: list[Entry] = []
    for lid, a in accts.items():
        ranges = tuple(pauses.get(lid, ()))
        while a.as_of < through:
            day = a.as_of + ONE_DAY
            a, new = accrue_loan_day(
                a, prods[lid], day, accrues=not any(f <= day <= t for f, t in ranges)
            )
            want.extend(new)
        accts[lid] = a
    state, insts = frames_from_accounts([(ln.acct, ln.product) for ln in loans])
    ids = state["loan_id"].to_list()
    rows = [
        (ids.index(lid), k.day_number(f), k.day_number(t))
        for lid, ranges in pauses.items()
        for f, t in ranges
    ]
    frame = pl.DataFrame(rows, schema=k.PAUSE_SCHEMA, orient="row")
    adv = k.accrue_portfolio_through(state, insts, k.day_number(through), frame)
    got = kernel_rows(adv.state)
    for lid, a in accts.items():
        assert got[lid] == reference_row(a, prods[lid]), lid
    assert entry_set(entries_to_domain(adv.entries, ids)) == entry_set(want)
