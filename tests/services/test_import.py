"""``import_file``: good CSV and Parquet files import; any bad row writes nothing.

Issue 2, item 9: all or nothing; each bad row is listed with its row number (1-based data
row), column and reason; ``--dry-run`` validates only; a missing column is a file error.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, insert, select

from arrears.core.loans.product import LenderType, Product
from arrears.core.problem import Problem, Result
from arrears.services.importer import ImportReport, import_file
from arrears.store import tables as t
from factories import (
    REQUIRED,
    assert_journal_consistent,
    counts,
    import_rows,
    loan_row,
    row_and_column,
    succeeded,
    write_csv,
)


def _errors(res: Result[ImportReport]) -> list[Problem]:
    value, problems = res
    assert value is None and problems, f"expected errors, got {value}"
    return list(problems)


def _installments(engine: Engine, loan_id: str) -> list[tuple[date, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.installments.c.due_date, t.installments.c.principal, t.installments.c.interest)
            .where(t.installments.c.loan_id == loan_id)
            .order_by(t.installments.c.n)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# 1,200.00 over 3 months equal principal at 12% a year from 2024-01-15, due day = drawdown
# day: 400.00 principal a month; interest = 1% a month of the opening balance.
EXPECTED_L1 = [
    (date(2024, 2, 15), 40000, 1200),
    (date(2024, 3, 15), 40000, 800),
    (date(2024, 4, 15), 40000, 400),
]


def test_good_csv_imports_every_table(engine: Engine, tmp_path: Path) -> None:
    rows = [
        loan_row("L1"),
        # same borrower, same name and phone: one borrower, two loans
        loan_row("L2", borrower_id="B-L1", borrower_name="Borrower L1", due_day="20"),
        loan_row("L3", principal="1,000.50", rate="0.0005", rate_basis="daily", method="bullet"),
    ]
    res = import_file(engine, write_csv(tmp_path / "good.csv", rows))
    assert succeeded(res) == ImportReport(loans=3, borrowers=2, dry_run=False)
    c = counts(engine)
    assert c["loans"] == 3 and c["borrowers"] == 2 and c["loan_state"] == 3
    assert c["installments"] == 3 + 3 + 1  # bullet: one installment
    assert c["journal_entries"] == 3  # one disbursement each
    assert c["loan_events"] == 0
    assert _installments(engine, "L1") == EXPECTED_L1
    # due day 20, drawdown 2024-01-15: 20 Jan is 5 days away (< 15) so the first is 20 Feb
    assert [r[0] for r in _installments(engine, "L2")] == [
        date(2024, 2, 20),
        date(2024, 3, 20),
        date(2024, 4, 20),
    ]
    with engine.connect() as conn:
        loan = conn.execute(select(t.loans).where(t.loans.c.loan_id == "L3")).one()
        assert loan.principal == 100050
        assert Fraction(loan.rate) == Fraction(5, 10000) and loan.rate_basis == "daily"
        legs = conn.execute(
            select(t.postings.c.account, t.postings.c.amount)
            .join(t.journal_entries, t.journal_entries.c.entry_id == t.postings.c.entry_id)
            .where(t.journal_entries.c.loan_id == "L1")
        ).all()
    assert sorted(legs) == [("assets:cash", -120000), ("loan:L1:principal", 120000)]
    assert_journal_consistent(engine)


def test_good_parquet_with_typed_columns_imports(engine: Engine, tmp_path: Path) -> None:
    table = pa.table(
        {
            "loan_id": pa.array(["P1", "P2"]),
            "borrower_id": pa.array(["BP1", "BP2"]),
            "borrower_name": pa.array(["张三", "Li Si"]),
            "phone": pa.array(["+86 138 0013 8000", "13900139000"]),
            "principal": pa.array([Decimal("1200.00"), Decimal("5000.50")], pa.decimal128(12, 2)),
            "rate": pa.array(["12%", "0.1"]),
            "rate_basis": pa.array(["annual", "annual"]),
            "months": pa.array([3, 12], pa.int64()),
            "method": pa.array(["equal-principal", "annuity"]),
            "disbursed_on": pa.array([date(2024, 1, 15), date(2024, 3, 1)], pa.date32()),
            "due_day": pa.array([None, 10], pa.int32()),
        }
    )
    path = tmp_path / "good.parquet"
    pq.write_table(table, path)
    res = import_file(engine, path)
    assert succeeded(res) == ImportReport(loans=2, borrowers=2, dry_run=False)
    assert _installments(engine, "P1") == EXPECTED_L1
    with engine.connect() as conn:
        p2 = conn.execute(select(t.loans).where(t.loans.c.loan_id == "P2")).one()
        name = conn.execute(
            select(t.borrowers.c.name).where(t.borrowers.c.borrower_id == "BP1")
        ).scalar_one()
    assert (p2.principal, p2.months, p2.due_day) == (500050, 12, 10)
    assert name == "张三"
    assert_journal_consistent(engine)


# (column, bad value): each must be reported for its own row and column.
BAD_VALUES = [
    *[(col, "") for col in REQUIRED],
    ("phone", "not-a-phone"),
    ("phone", "12"),
    ("principal", "-100.00"),
    ("principal", "0"),
    ("principal", "12o0"),
    ("principal", "100.001"),
    ("rate", "abc"),
    ("rate", "-5%"),
    ("rate", "150%"),  # 150% a year: beyond any lawful consumer loan
    ("rate", "5"),  # a percent typed as a fraction: 500%
    ("rate", "2%"),  # with rate_basis daily below: 2% a day
    ("rate_basis", "monthly"),
    ("months", "0"),
    ("months", "400"),
    ("months", "x"),
    ("months", "1.5"),
    ("method", "balloon"),
    ("disbursed_on", "2024-02-30"),
    ("disbursed_on", "15/01/2024"),
    ("due_day", "32"),
    ("due_day", "0"),
    ("due_day", "x"),
    ("product", "no-such-product"),
    ("currency", "USD"),  # differs from the default product's CNY
]


@pytest.mark.parametrize(("column", "value"), BAD_VALUES, ids=[f"{c}={v!r}" for c, v in BAD_VALUES])
def test_bad_value_names_row_and_column_and_writes_nothing(
    engine: Engine, tmp_path: Path, column: str, value: str
) -> None:
    bad = loan_row("L2")
    bad[column] = value
    if (column, value) == ("rate", "2%"):
        bad["rate_basis"] = "daily"
    rows = [loan_row("L1"), bad, loan_row("L3")]
    before = counts(engine)
    errors = _errors(import_file(engine, write_csv(tmp_path / "bad.csv", rows)))
    assert {row_and_column(e) for e in errors} == {(2, column)}, [str(e) for e in errors]
    assert all(e.reason for e in errors)
    # Line 3 in an editor (the header is line 1), with the loan when the row names one.
    where = "line 3" if bad["loan_id"] == "" else f"line 3 (loan {bad['loan_id']})"
    assert str(errors[0]).startswith(f"{where}: {column}: ")
    assert counts(engine) == before


def test_every_bad_row_is_listed(engine: Engine, tmp_path: Path) -> None:
    rows = [
        loan_row("L1"),
        loan_row("L2", phone="x", months="0"),
        loan_row("L3"),
        loan_row("L4", principal="1.001"),
    ]
    errors = _errors(import_file(engine, write_csv(tmp_path / "bad.csv", rows)))
    assert sorted(row_and_column(e) for e in errors) == [
        (2, "months"),
        (2, "phone"),
        (4, "principal"),
    ]
    assert counts(engine) == {k: 0 for k in counts(engine)}


def test_duplicate_loan_id_within_file(engine: Engine, tmp_path: Path) -> None:
    rows = [loan_row("L1"), loan_row("L2"), loan_row("L1", borrower_id="B-other")]
    before = counts(engine)
    errors = _errors(import_file(engine, write_csv(tmp_path / "dup.csv", rows)))
    assert [row_and_column(e) for e in errors] == [(3, "loan_id")]
    assert "line 2" in errors[0].reason
    assert counts(engine) == before


def test_loan_id_already_in_database(engine: Engine, tmp_path: Path) -> None:
    import_rows(engine, tmp_path, [loan_row("L1")])
    before = counts(engine)
    rows = [loan_row("L2"), loan_row("L1")]
    errors = _errors(import_file(engine, write_csv(tmp_path / "again.csv", rows)))
    assert [row_and_column(e) for e in errors] == [(2, "loan_id")]
    assert "already exists" in errors[0].reason
    assert counts(engine) == before


def test_same_borrower_with_another_name_within_file(engine: Engine, tmp_path: Path) -> None:
    rows = [
        loan_row("L1", borrower_id="B1", borrower_name="Wang Fang"),
        loan_row("L2", borrower_id="B1", borrower_name="Wang Fang"),
        loan_row("L3", borrower_id="B1", borrower_name="Zhang Wei"),
    ]
    errors = _errors(import_file(engine, write_csv(tmp_path / "b.csv", rows)))
    assert [row_and_column(e) for e in errors] == [(3, "borrower_id")]
    assert counts(engine) == {k: 0 for k in counts(engine)}


def test_same_borrower_with_another_name_than_database(engine: Engine, tmp_path: Path) -> None:
    import_rows(engine, tmp_path, [loan_row("L1", borrower_id="B1", borrower_name="Wang Fang")])
    before = counts(engine)
    rows = [
        loan_row("L2", borrower_id="B2"),
        loan_row("L3", borrower_id="B1", borrower_name="Zhang Wei"),
    ]
    errors = _errors(import_file(engine, write_csv(tmp_path / "b.csv", rows)))
    assert [row_and_column(e) for e in errors] == [(2, "borrower_id")]
    assert counts(engine) == before
    # the same borrower with the same details is fine and adds no borrower
    res = import_rows(
        engine, tmp_path, [loan_row("L4", borrower_id="B1", borrower_name="Wang Fang")]
    )
    assert (res.loans, res.borrowers) == (1, 0)


def test_missing_column_is_a_file_error(engine: Engine, tmp_path: Path) -> None:
    cols = [c for c in REQUIRED if c != "phone"]
    errors = _errors(import_file(engine, write_csv(tmp_path / "m.csv", [loan_row()], cols)))
    assert [row_and_column(e) for e in errors] == [(0, "phone")]
    assert str(errors[0]).startswith("file: phone:")
    assert counts(engine) == {k: 0 for k in counts(engine)}


def test_missing_column_in_parquet_is_a_file_error(engine: Engine, tmp_path: Path) -> None:
    row = loan_row()
    table = pa.table({c: [row[c]] for c in REQUIRED if c not in ("months", "method")})
    pq.write_table(table, tmp_path / "m.parquet")
    errors = _errors(import_file(engine, tmp_path / "m.parquet"))
    assert sorted(row_and_column(e) for e in errors) == [(0, "method"), (0, "months")]
    assert counts(engine) == {k: 0 for k in counts(engine)}


@pytest.mark.parametrize(
    "name", ["missing.csv", "loans.xlsx", "header-only.csv", "broken.parquet", "latin1.csv"]
)
def test_unreadable_files_are_file_errors(engine: Engine, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "loans.xlsx":
        path.write_bytes(b"PK\x03\x04")
    elif name == "header-only.csv":
        write_csv(path, [])
    elif name == "broken.parquet":
        path.write_bytes(b"not parquet at all")
    elif name == "latin1.csv":
        path.write_bytes(",".join(REQUIRED).encode() + b"\n\xe9\xff\xfe\n")
    errors = _errors(import_file(engine, path))
    assert [row_and_column(e)[0] for e in errors] == [0]
    assert counts(engine) == {k: 0 for k in counts(engine)}


def test_dry_run_validates_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    rows = [loan_row("L1"), loan_row("L2")]
    path = write_csv(tmp_path / "good.csv", rows)
    before = counts(engine)
    assert succeeded(import_file(engine, path, dry_run=True)) == ImportReport(2, 2, True)
    assert counts(engine) == before
    # a bad file in dry-run reports the same errors
    bad = write_csv(tmp_path / "bad.csv", [loan_row("L1", months="x")])
    assert [row_and_column(e) for e in _errors(import_file(engine, bad, dry_run=True))] == [
        (1, "months")
    ]
    assert counts(engine) == before
    # and the dry-run did not consume the ids: the real import still works
    assert succeeded(import_file(engine, path)) == ImportReport(2, 2, False)


def test_failed_import_after_a_good_one_keeps_the_good_one_intact(
    engine: Engine, tmp_path: Path
) -> None:
    import_rows(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    before = counts(engine)
    errors = _errors(
        import_file(
            engine, write_csv(tmp_path / "bad.csv", [loan_row("L3"), loan_row("L4", months="0")])
        )
    )
    assert [row_and_column(e) for e in errors] == [(2, "months")]
    assert counts(engine) == before
    assert_journal_consistent(engine, ["L1", "L2"])


# --- the 4x LPR cap for non-licensed (private) lenders ------------------------------------


def _add_private_product(engine: Engine) -> None:
    spec = Product(product_id="p2p", lender_type=LenderType.PRIVATE).to_json()
    with engine.begin() as conn:
        conn.execute(insert(t.products), [{"product_id": "p2p", "spec": spec}])


# The cap: 4 x the one-year LPR of 3.10% = 12.40% a year, on the agreed rate and on the
# overdue rate, which is the agreed rate x 1.5 (the default penalty multiplier).
CAP = Fraction(4) * Fraction(310, 10000)
assert Fraction(124, 1000) == CAP


@pytest.mark.parametrize(
    ("rate", "basis", "allowed"),
    [
        ("24%", "annual", False),  # agreed 24% > 12.4%
        ("8%", "annual", True),  # agreed 8%, overdue 12% <= 12.4%
        ("8.26%", "annual", True),  # overdue 12.39% <= 12.4%
        ("8.4%", "annual", False),  # agreed 8.4% is under, but overdue 12.6% is over
        ("0.02%", "daily", True),  # 0.02% x 360 = 7.2% a year; overdue 10.8%
        ("0.03%", "daily", False),  # 10.8% a year; overdue 16.2%
    ],
)
def test_private_lender_rate_cap(
    engine: Engine, tmp_path: Path, rate: str, basis: str, allowed: bool
) -> None:
    _add_private_product(engine)
    pct = Fraction(rate.rstrip("%")) / 100
    annual = pct * 360 if basis == "daily" else pct
    assert (max(annual, annual * Fraction(3, 2)) <= CAP) is allowed  # the hand rule
    before = counts(engine)
    row = loan_row("L1", rate=rate, rate_basis=basis, product="p2p")
    res = import_file(engine, write_csv(tmp_path / "p2p.csv", [row]))
    if allowed:
        assert succeeded(res) == ImportReport(1, 1, False)
        with engine.connect() as conn:
            pid = conn.execute(select(t.loans.c.product_id)).scalar_one()
        assert pid == "p2p"
    else:
        errors = _errors(res)
        assert [row_and_column(e) for e in errors] == [(1, "rate")]
        assert "12.40%" in errors[0].reason
        assert counts(engine) == before


def test_licensed_default_product_has_no_lpr_cap(engine: Engine, tmp_path: Path) -> None:
    res = import_file(engine, write_csv(tmp_path / "ok.csv", [loan_row("L1", rate="24%")]))
    assert succeeded(res) == ImportReport(1, 1, False)


@pytest.mark.parametrize(
    ("column", "limit"), [("loan_id", 64), ("borrower_id", 64), ("borrower_name", 200)]
)
def test_overlong_text_is_a_row_error_on_every_backend(
    engine: Engine, tmp_path: Path, column: str, limit: int
) -> None:
    # the schema's column widths: PostgreSQL would refuse the insert, SQLite would store it
    fits = loan_row("L1")
    fits[column] = "x" * limit
    too_long = loan_row("L2")
    too_long[column] = "y" * (limit + 1)
    before = counts(engine)
    errors = _errors(import_file(engine, write_csv(tmp_path / "long.csv", [fits, too_long])))
    assert [row_and_column(e) for e in errors] == [(2, column)]
    assert counts(engine) == before
    assert succeeded(import_file(engine, write_csv(tmp_path / "ok.csv", [fits]))) == ImportReport(
        1, 1, False
    )


# --- Borrower profile and emergency-contact columns (issue 3, item 2) ---

PROFILE_ROW = {
    "language": "en",
    "timezones": "America/New_York,America/Los_Angeles",
    "email": "b1@example.com",
    "address": "1 Example Street, Springfield",
    "risk_score": "720",
    "vulnerable": "true",
    "rule_pack": "us-reg-f",
    "emergency1_name": "Pat Doe",
    "emergency1_phone": "+1 212 555 0101",
    "emergency1_relation": "spouse",
    "emergency2_name": "",
    "emergency2_phone": "",
    "emergency2_relation": "",
}
PROFILE_COLUMNS = [*REQUIRED, "due_day", "product", "currency", *PROFILE_ROW]


def _with_profile(loan_id: str, **overrides: str) -> dict[str, str]:
    return {**loan_row(loan_id), **PROFILE_ROW, **overrides}


def _profile_counts(engine: Engine) -> tuple[int, int]:
    from arrears.store import profile_tables as pt

    with engine.connect() as conn:
        return (
            len(conn.execute(select(pt.borrower_profiles)).all()),
            len(conn.execute(select(pt.emergency_contacts)).all()),
        )


def test_profile_and_contacts_are_written(engine: Engine, tmp_path: Path) -> None:
    from arrears.store import profile_tables as pt

    rows = [
        _with_profile("L1"),
        _with_profile("L2", borrower_id="B-L1", borrower_name="Borrower L1"),
    ]
    res = import_file(engine, write_csv(tmp_path / "p.csv", rows, PROFILE_COLUMNS))
    assert succeeded(res) == ImportReport(2, 1, False)
    with engine.connect() as conn:
        p = conn.execute(select(pt.borrower_profiles)).one()
        c = conn.execute(select(pt.emergency_contacts)).one()
    assert p.borrower_id == "B-L1"
    assert (p.language, p.timezones, p.email, p.risk_score, bool(p.vulnerable), p.rule_pack) == (
        "en",
        "America/New_York,America/Los_Angeles",
        "b1@example.com",
        720,
        True,
        "us-reg-f",
    )
    assert (c.seq, c.name, c.phone, c.relation) == (1, "Pat Doe", "+1 212 555 0101", "spouse")


def test_older_file_without_profile_columns_gets_default_profiles(
    engine: Engine, tmp_path: Path
) -> None:
    from arrears.store import profile_tables as pt

    import_rows(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    with engine.connect() as conn:
        rows = conn.execute(select(pt.borrower_profiles).order_by("borrower_id")).all()
    # The defaults of migration 0003: zh-CN, Asia/Shanghai, score 500, not vulnerable, cn.
    assert [tuple(r)[1:] for r in rows] == [
        ("zh-CN", "Asia/Shanghai", None, None, 500, False, "cn")
    ] * 2
    assert _profile_counts(engine)[1] == 0


@pytest.mark.parametrize("flag", ["true", "True", "1", "yes", "false", "0", "no", ""])
def test_vulnerable_accepts_common_spellings(engine: Engine, tmp_path: Path, flag: str) -> None:
    from arrears.store import profile_tables as pt

    path = write_csv(tmp_path / "v.csv", [_with_profile("L1", vulnerable=flag)], PROFILE_COLUMNS)
    succeeded(import_file(engine, path))
    with engine.connect() as conn:
        stored = conn.execute(select(pt.borrower_profiles.c.vulnerable)).scalar_one()
    assert bool(stored) is (flag.lower() in ("true", "1", "yes"))


BAD_PROFILE = [
    ("language", "fr", "not one of zh-CN, en"),
    ("timezones", "Mars/Olympus", "not an IANA time zone"),
    ("timezones", "Asia/Shanghai,Nowhere/City", "'Nowhere/City' is not an IANA time zone"),
    ("email", "not-an-email", "not an email address"),
    ("risk_score", "1001", "must be 0..1000"),
    ("risk_score", "-1", "must be 0..1000"),
    ("risk_score", "high", "not a whole number"),
    ("vulnerable", "maybe", "not true or false"),
    ("rule_pack", "de-bgb", "not one of cn, us-reg-f, uk-conc"),
    ("emergency1_phone", "call me", "not a phone number"),
    ("emergency1_phone", "13800138000", "the borrower's own phone"),
    ("emergency1_relation", "", "is empty while the contact's other columns are set"),
    ("emergency2_name", "Lee Roe", "is empty"),  # a name without phone and relation
    ("address", "x" * 501, "longer than 500 characters"),
]


@pytest.mark.parametrize(
    ("column", "value", "reason"), BAD_PROFILE, ids=[f"{c}={v[:12]!r}" for c, v, _ in BAD_PROFILE]
)
def test_bad_profile_value_names_row_column_reason_and_writes_nothing(
    engine: Engine, tmp_path: Path, column: str, value: str, reason: str
) -> None:
    rows = [_with_profile("L1"), _with_profile("L2", **{column: value}), _with_profile("L3")]
    before = counts(engine), _profile_counts(engine)
    errors = _errors(import_file(engine, write_csv(tmp_path / "bad.csv", rows, PROFILE_COLUMNS)))
    assert {row_and_column(e)[0] for e in errors} == {2}, [str(e) for e in errors]
    expected_col = column if column != "emergency2_name" else "emergency2_phone"
    assert any(row_and_column(e)[1] == expected_col for e in errors), [str(e) for e in errors]
    assert any(reason in str(e) for e in errors), [str(e) for e in errors]
    assert (counts(engine), _profile_counts(engine)) == before


def test_same_borrower_with_another_profile_within_file(engine: Engine, tmp_path: Path) -> None:
    rows = [
        _with_profile("L1", borrower_id="B1", borrower_name="Wang Fang"),
        _with_profile("L2", borrower_id="B1", borrower_name="Wang Fang", risk_score="100"),
    ]
    path = write_csv(tmp_path / "b.csv", rows, PROFILE_COLUMNS)
    errors = _errors(import_file(engine, path))
    assert [row_and_column(e) for e in errors] == [(2, "risk_score")]
    assert "line 2" in errors[0].reason
    assert counts(engine) == {k: 0 for k in counts(engine)}


def test_parquet_timestamp_in_a_date_column_is_refused(engine: Engine, tmp_path: Path) -> None:
    from datetime import datetime

    row = loan_row()
    cols: dict[str, list[object]] = {c: [row[c]] for c in REQUIRED}
    cols["disbursed_on"] = [datetime(2024, 1, 15, 9, 30)]
    pq.write_table(pa.table(cols), tmp_path / "ts.parquet")
    errors = _errors(import_file(engine, tmp_path / "ts.parquet"))
    assert [row_and_column(e) for e in errors] == [(1, "disbursed_on")]
    assert counts(engine) == {k: 0 for k in counts(engine)}
