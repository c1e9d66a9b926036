"""Import defects a user found (issue 15): each refused with exit 2, nothing written, and every
error naming the line a person sees in an editor (header = line 1), the loan or ref, the field."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from factories import counts, loan_row, write_csv

runner = CliRunner()
PAYMENT_COLUMNS = ["loan_id", "amount", "paid_on", "ref"]


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _loans(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "loans.csv", [loan_row("L1"), loan_row("L2")])
    assert run("loans", "import", str(path), "--db", db_url, "--today", "2024-06-01").exit_code == 0


def _payments(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(tmp_path / "payments.csv", rows, PAYMENT_COLUMNS)


def _pay(db_url: str, tmp_path: Path, *rows: tuple[str, str, str, str]) -> Result:
    """Import (loan_id, amount, paid_on, ref) rows on 2024-06-01, after loans L1 and L2."""
    path = _payments(tmp_path, [dict(zip(PAYMENT_COLUMNS, r, strict=True)) for r in rows])
    return run("payments", "import", str(path), "--db", db_url, "--today", "2024-06-01")


def test_a_loan_disbursed_after_today_is_refused(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    rows = [loan_row("L1"), loan_row("L2", disbursed_on="2030-01-01")]
    before = counts(engine)
    res = run(
        "loans",
        "import",
        str(write_csv(tmp_path / "l.csv", rows)),
        "--db",
        db_url,
        "--today",
        "2026-12-05",
    )
    assert res.exit_code == 2
    first = res.stderr.strip().splitlines()[0]
    assert first.startswith("line 3 (loan L2): disbursed_on: "), first
    assert "2030-01-01" in first and "2026-12-05" in first
    assert counts(engine) == before


def test_a_31_digit_principal_is_refused_not_crashed(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    rows = [loan_row("L1", principal="1" * 31)]
    before = counts(engine)
    res = run("loans", "import", str(write_csv(tmp_path / "l.csv", rows)), "--db", db_url)
    assert res.exit_code == 2, res.stderr
    assert res.stderr.strip().startswith("line 2 (loan L1): principal: "), res.stderr
    assert "largest amount" in res.stderr
    assert counts(engine) == before


def test_a_payment_dated_after_today_is_refused(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _loans(db_url, tmp_path)
    before = counts(engine)
    res = _pay(
        db_url,
        tmp_path,
        ("L1", "100.00", "2024-02-15", "BANK-1"),
        ("L2", "100.00", "2030-01-01", "BANK-2"),
    )
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("line 3 (ref BANK-2): paid_on: "), res.stderr
    assert counts(engine) == before  # BANK-1, good on its own, is not applied either


def test_a_payment_beyond_the_ledger_range_is_refused(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _loans(db_url, tmp_path)
    before = counts(engine)
    res = _pay(db_url, tmp_path, ("L1", "9" * 31, "2024-02-15", "B-9"))
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("line 2 (ref B-9): amount: "), res.stderr
    assert counts(engine) == before


def test_header_only_files_are_refused_alike(db_url: str, engine: Engine, tmp_path: Path) -> None:
    _loans(db_url, tmp_path)
    before = counts(engine)
    loans = run("loans", "import", str(write_csv(tmp_path / "l.csv", [])), "--db", db_url)
    payments = run("payments", "import", str(_payments(tmp_path, [])), "--db", db_url)
    assert loans.exit_code == payments.exit_code == 2
    assert "has no data rows" in loans.stderr and "has no data rows" in payments.stderr
    # The whole file is at fault: said once, not "file: file: ...".
    assert payments.stderr.strip().startswith("file: has no data rows"), payments.stderr
    assert counts(engine) == before


def test_a_bad_today_is_a_usage_error(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [loan_row("L1")])
    res = run("loans", "import", str(path), "--db", db_url, "--today", "tomorrow")
    assert res.exit_code == 2 and "--today" in res.stderr


def test_errors_found_against_the_database_name_the_line(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _loans(db_url, tmp_path)
    before = counts(engine)
    res = _pay(
        db_url,
        tmp_path,
        ("L1", "100.00", "2024-02-15", "BANK-1"),
        ("NOPE", "100.00", "2024-02-15", "BANK-2"),
    )
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("line 3 (loan NOPE): loan_id: "), res.stderr
    assert counts(engine) == before
