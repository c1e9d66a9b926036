"""The payments import's bulk helpers equal the per-loan ledger functions they stand in for."""

from __future__ import annotations

import gc
from datetime import date
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from arrears.core.ledger.account import open_account
from arrears.core.loans.product import Method, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments, open_accounts
from factories import loan_row, refused, succeeded, write_csv

rates = st.one_of(
    st.builds(lambda bp: Rate(Fraction(bp, 100_000), RateBasis.DAILY), st.integers(0, 100)),
    st.builds(lambda bp: Rate(Fraction(bp, 10_000), RateBasis.ANNUAL), st.integers(0, 3600)),
    # beyond the numpy path's range (a rate with a large denominator): the Fraction path
    st.builds(lambda d: Rate(Fraction(1, d), RateBasis.ANNUAL), st.integers(10**6 + 1, 10**7)),
)

terms_st = st.builds(
    LoanTerms,
    loan_id=st.from_regex(r"L[0-9]{1,6}", fullmatch=True),
    principal=st.one_of(st.integers(1, 10**9), st.integers(10**9 + 1, 10**11)),
    rate=rates,
    months=st.integers(1, 60),
    method=st.sampled_from(list(Method)),
    disbursed_on=st.dates(date(2020, 1, 1), date(2027, 12, 31)),
    due_day=st.one_of(st.none(), st.integers(1, 31)),
)

products_st = st.sampled_from(
    [
        Product(),
        Product(product_id="p365", days_per_year=365, min_first_period_days=0),
        Product(product_id="p28", min_first_period_days=28),
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(terms_st, products_st), min_size=1, max_size=30))
def test_open_accounts_equals_open_account(loans: list[tuple[LoanTerms, Product]]) -> None:
    """Schedules built together in numpy (by product) equal ``open_account`` one by one,
    in the given order, for terms inside and outside the numpy path's range."""
    assert open_accounts(loans) == [open_account(t, p) for t, p in loans]


def test_imports_restore_the_cycle_collector(engine: Engine, tmp_path: Path) -> None:
    """The imports pause the cycle collector; it is on again afterwards, also after a refusal."""
    assert gc.isenabled()
    loans = write_csv(tmp_path / "loans.csv", [loan_row("L1")])
    succeeded(import_file(engine, loans))
    assert gc.isenabled()
    bad = write_csv(tmp_path / "bad.csv", [loan_row("L1")])  # L1 exists now: refused
    assert refused(import_file(engine, bad)).field == "loan_id"
    assert gc.isenabled()
    pays = tmp_path / "p.csv"
    pays.write_text("loan_id,amount,paid_on,ref\nL1,10.00,2024-02-20,R1\nL9,1.00,2024-02-20,R2\n")
    assert refused(import_payments(engine, pays)).missing  # L9 is unknown: refused
    assert gc.isenabled()
