"""The synthetic generator: deterministic, within its documented ranges, and its payments
follow the contractual schedule (``schedule_for`` is the reference)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import available_timezones

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.core.loans import schedule_columns as sc
from arrears.core.loans.product import DEFAULT_PRODUCT, LenderType, Method, Product
from arrears.core.loans.schedule import LoanTerms, schedule_for
from arrears.core.money import Rate, RateBasis, parse_amount, parse_rate
from arrears.core.sim.generate import generate
from arrears.services.portfolio_files import write_table

AS_OF = date(2026, 11, 28)
# The column list promised to importers and other helpers (README, "Import format").
EXPECTED_COLUMNS = [
    "loan_id", "borrower_id", "borrower_name", "phone", "principal", "rate", "rate_basis",
    "months", "method", "disbursed_on", "due_day", "product", "currency",
    "language", "timezones", "email", "address", "risk_score", "vulnerable", "rule_pack",
    "emergency1_name", "emergency1_phone", "emergency1_relation",
    "emergency2_name", "emergency2_phone", "emergency2_relation", "behaviour",
]  # fmt: skip
# Fiction ranges: no Chinese mobile prefix starts 10; NANP 555-0100..0199; Ofcom 07700 900xxx.
FAKE_PHONE = re.compile(r"^(\+86 100 \d{4} \d{4}|\+1 \d{3} 555 01\d{2}|\+44 7700 900\d{3})$")


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    return generate(10_000, 11, AS_OF).loans


def _terms(r: dict[str, object]) -> LoanTerms:
    return LoanTerms(
        str(r["loan_id"]),
        parse_amount(str(r["principal"])),
        Rate.parse(str(r["rate"]), str(r["rate_basis"])),
        int(str(r["months"])),
        Method(str(r["method"])),
        r["disbursed_on"],  # type: ignore[arg-type]
        None if r["due_day"] is None else int(str(r["due_day"])),
    )


@pytest.mark.parametrize("ext", [".parquet", ".csv"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, ext: str) -> None:
    files = []
    for k, seed in enumerate((5, 5, 6)):
        p = generate(500, seed, AS_OF)
        loans, pays = tmp_path / f"l{k}{ext}", tmp_path / f"p{k}{ext}"
        write_table(p.loans, loans)
        write_table(p.payments, pays)
        files.append((loans.read_bytes(), pays.read_bytes()))
    assert files[0] == files[1]
    assert files[0][0] != files[2][0] and files[0][1] != files[2][1]


def test_columns_and_ids(big: pl.DataFrame) -> None:
    assert big.columns == EXPECTED_COLUMNS
    assert big.height == 10_000
    assert big["loan_id"].n_unique() == 10_000
    assert big["loan_id"][0] == "L000001" and big["loan_id"][-1] == "L010000"


def test_every_behaviour_present_in_shares_near_the_documented_ones(big: pl.DataFrame) -> None:
    by_borrower = big.unique("borrower_id")["behaviour"].to_list()
    shares = {k: v / len(by_borrower) for k, v in Counter(by_borrower).items()}
    documented = {"on_time": 0.55, "late": 0.18, "cured": 0.10, "chronic": 0.09, "never": 0.08}
    assert set(shares) == set(documented)
    for k, share in documented.items():
        assert abs(shares[k] - share) < 0.03, (k, shares[k])
    # one behaviour per borrower
    assert big.group_by("borrower_id").agg(pl.col("behaviour").n_unique())["behaviour"].max() == 1


def test_amounts_terms_dates_within_documented_ranges(big: pl.DataFrame) -> None:
    fen = [parse_amount(x) for x in big["principal"]]
    assert min(fen) >= 500_00 and max(fen) <= 200_000_00
    assert all(f % 100_00 == 0 for f in fen)  # whole hundreds of yuan
    median = sorted(fen)[len(fen) // 2]
    assert 3_000_00 <= median <= 8_000_00  # log-normal around 5,000 yuan
    assert set(big["months"].to_list()) == {3, 6, 12, 24}
    assert set(big["method"].to_list()) == {m.value for m in Method}
    days = [(AS_OF - d).days for d in big["disbursed_on"]]
    assert min(days) >= 1 and max(days) <= 365
    due = [d for d in big["due_day"].to_list() if d is not None]
    assert due and min(due) >= 1 and max(due) <= 28
    per_borrower = big.group_by("borrower_id").len()["len"]
    assert set(per_borrower.to_list()) == {1, 2, 3}


def test_rates_within_product_ranges(big: pl.DataFrame) -> None:
    for rate, basis in set(zip(big["rate"], big["rate_basis"], strict=True)):
        value = parse_rate(rate)
        if basis == "daily":  # Jiebei: 0.02%-0.05% a day
            assert Fraction(2, 10_000) <= value <= Fraction(5, 10_000), rate
        else:
            assert basis == "annual"
            assert Fraction(72, 1000) <= value <= Fraction(24, 100), rate


def test_private_lender_cap_is_respected() -> None:
    private = Product(product_id="p2p", lender_type=LenderType.PRIVATE)
    cap = private.rate_cap_annual
    assert cap == Fraction(124, 1000)  # 4 x 3.10% LPR
    loans = generate(2000, 3, AS_OF, private).loans
    assert set(loans["product"].to_list()) == {"p2p"}
    for rate, basis in set(zip(loans["rate"], loans["rate_basis"], strict=True)):
        annual = Rate.parse(rate, basis).annual(private.days_per_year)
        assert max(annual, annual * private.penalty_multiplier) <= cap, rate


def test_profiles_and_contacts_are_well_formed_and_fake(big: pl.DataFrame) -> None:
    zones = available_timezones()
    b = big.unique("borrower_id")
    assert set(b["language"].to_list()) == {"zh-CN", "en"}
    assert set(b["rule_pack"].to_list()) == {"cn", "us-reg-f", "uk-conc"}
    for tz in b["timezones"]:
        assert all(z in zones for z in tz.split(",")), tz
    assert any("," in tz for tz in b["timezones"])  # some borrowers are in two zones
    scores = b["risk_score"].to_list()
    assert min(scores) >= 0 and max(scores) <= 1000
    assert 0 < sum(b["vulnerable"].to_list()) < 0.1 * b.height
    assert all(FAKE_PHONE.match(p) for p in b["phone"]), "borrower phones in fiction ranges"
    assert b["phone"].n_unique() == b.height, "no two borrowers share a number (sign-in by SMS)"
    for k in (1, 2):
        has = b.filter(pl.col(f"emergency{k}_name").is_not_null())
        assert has.height > 0
        assert has[f"emergency{k}_phone"].null_count() == 0
        assert has[f"emergency{k}_relation"].null_count() == 0
        assert all(FAKE_PHONE.match(p) for p in has[f"emergency{k}_phone"])
        assert (has[f"emergency{k}_phone"] != has["phone"]).all()
    emails = b["email"].drop_nulls()
    assert emails.len() > 0 and all(e.endswith("@example.com") for e in emails)
    # The never-payers are riskier than the on-time payers.
    mean = b.group_by("behaviour").agg(pl.col("risk_score").mean())
    m = dict(zip(mean["behaviour"], mean["risk_score"], strict=True))
    assert m["never"] > m["on_time"] + 200


def test_columnar_schedules_equal_schedule_for_on_generated_loans() -> None:
    loans = generate(3000, 4, AS_OF).loans
    terms = [_terms(r) for r in loans.iter_rows(named=True)]
    _assert_columnar_equals_reference(terms)


def _assert_columnar_equals_reference(terms: list[LoanTerms]) -> None:
    epoch = sc.EPOCH
    cols = sc.LoanColumns(
        np.array([x.principal for x in terms], dtype=np.int64),
        np.array([x.rate.value.numerator for x in terms], dtype=np.int64),
        np.array([x.rate.value.denominator for x in terms], dtype=np.int64),
        np.array([x.rate.basis is RateBasis.DAILY for x in terms]),
        np.array([x.months for x in terms], dtype=np.int64),
        np.array([sc.METHOD_CODES[x.method.value] for x in terms], dtype=np.int64),
        np.array([(x.disbursed_on - epoch).days for x in terms], dtype=np.int64),
        np.array([x.due_day or 0 for x in terms], dtype=np.int64),
    )
    s = sc.schedules(cols, DEFAULT_PRODUCT.days_per_year, DEFAULT_PRODUCT.min_first_period_days)
    got: dict[int, list[tuple[int, date, date, int, int]]] = {}
    for k in range(len(s.loan)):
        got.setdefault(int(s.loan[k]), []).append(
            (
                int(s.n[k]),
                epoch + timedelta(days=int(s.start[k])),
                epoch + timedelta(days=int(s.due[k])),
                int(s.principal[k]),
                int(s.interest[k]),
            )
        )
    for k, x in enumerate(terms):
        want = [
            (i.n, i.start, i.due_date, i.principal, i.interest)
            for i in schedule_for(x, DEFAULT_PRODUCT)
        ]
        assert got[k] == want, x


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**9),
            st.sampled_from(["0.02%", "0.05%", "0.035%", "4.9%", "7.2%", "18%", "24%", "0.1234%"]),
            st.sampled_from(list(RateBasis)),
            st.integers(1, 36),
            st.sampled_from(list(Method)),
            st.dates(date(2023, 1, 1), date(2027, 12, 31)),
            st.one_of(st.none(), st.integers(1, 31)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_columnar_schedules_equal_schedule_for_on_any_terms(
    rows: list[tuple[int, str, RateBasis, int, Method, date, int | None]],
) -> None:
    # Month ends, due days 29-31 and leap years included: the clamping rules must agree.
    terms = []
    for k, (p, rate, basis, months, method, on, due_day) in enumerate(rows):
        r = Rate.parse(rate, basis)
        if basis is RateBasis.DAILY and r.value > Fraction(1, 100):
            r = Rate(r.value / 100, basis)
        terms.append(LoanTerms(f"H{k}", p, r, months, method, on, due_day))
    _assert_columnar_equals_reference(terms)


def test_payments_follow_the_schedule_and_the_behaviour() -> None:
    p = generate(2000, 9, AS_OF)
    loans = {r["loan_id"]: r for r in p.loans.iter_rows(named=True)}
    pays = p.payments
    assert pays.columns == ["loan_id", "amount", "paid_on", "ref"]
    assert pays["ref"].n_unique() == pays.height
    assert max(pays["paid_on"]) <= AS_OF
    by_loan: dict[str, list[tuple[date, int, str]]] = {}
    for r in pays.iter_rows(named=True):
        by_loan.setdefault(r["loan_id"], []).append(
            (r["paid_on"], parse_amount(r["amount"]), r["ref"])
        )
    seen = Counter()
    for loan_id, r in loans.items():
        sched = schedule_for(_terms(r), DEFAULT_PRODUCT)
        due = [i for i in sched if i.due_date <= AS_OF]
        got = by_loan.get(loan_id, [])
        kind = r["behaviour"]
        seen[kind] += 1
        if kind == "never":
            assert got == []
        elif kind == "on_time":
            assert got == [(i.due_date, i.payment, f"{loan_id}-P{i.n:02d}") for i in due]
        elif kind == "late":
            assert len(got) <= len(due)
            for (on, amount, ref), i in zip(got, due, strict=False):
                # The installment and the penalty of its days late (that the ledger agrees is
                # what clears it is tested by importing, in test_behaviour_model.py).
                assert ref == f"{loan_id}-P{i.n:02d}" and amount >= i.payment
                assert amount == i.payment or (on - i.due_date).days > DEFAULT_PRODUCT.grace_days
                assert 3 <= (on - i.due_date).days <= 40
                later = [j.due_date for j in sched if j.n == i.n + 1]
                assert not later or on < later[0], "paid before the next falls due"
        elif kind == "chronic":
            assert [g[2] for g in got] == [f"{loan_id}-P{i.n:02d}" for i in due if i.n % 2 == 1]
        if kind in ("never", "on_time", "chronic"):  # nothing late is paid: no penalty
            assert sum(g[1] for g in got) <= sum(i.payment for i in sched)
    assert all(seen[k] > 0 for k in ("on_time", "late", "cured", "chronic", "never"))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(0, 1, AS_OF)
    with pytest.raises(ValueError, match="unknown format"):
        write_table(pl.DataFrame({"a": [1]}), Path("x.xlsx"))
