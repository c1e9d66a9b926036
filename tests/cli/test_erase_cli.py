"""``arrears erase`` as an operator runs it: --due with --dry-run changes nothing, --json says
what was done, one borrower is refused unless due, and the evidence log verifies after."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from arrears.store import tables as t
from arrears.store.evidence_tables import evidence_records
from factories import loan_row, write_csv

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _book(db_url: str, engine: Engine, tmp_path: Path) -> None:
    """L1 settled (due from 2029-01-15: five years from its drawdown), L2 still active."""
    path = write_csv(tmp_path / "loans.csv", [loan_row("L1"), loan_row("L2")])
    assert run("loans", "import", str(path), "--db", db_url).exit_code == 0
    with engine.begin() as conn:
        conn.execute(
            update(t.loan_state).where(t.loan_state.c.loan_id == "L1").values(status="settled")
        )


def _state(engine: Engine) -> tuple[list[object], int, list[str]]:
    with engine.connect() as conn:
        erased = list(conn.execute(select(t.borrowers.c.erased_on).order_by("borrower_id")))
        records = int(conn.execute(select(func.count()).select_from(evidence_records)).scalar_one())
        names = list(conn.execute(select(t.borrowers.c.name).order_by("borrower_id")).scalars())
    return erased, records, names


def test_due_dry_run_changes_nothing_then_erases_and_the_log_verifies(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _book(db_url, engine, tmp_path)
    held = _state(engine)
    dry = run("erase", "--due", "--date", "2030-01-01", "--dry-run", "--db", db_url, "--json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "on": "2030-01-01",
        "dry_run": True,
        "checked": 1,
        "due": ["B-L1"],
        "erased": [],
        "kept": {},
    }
    assert _state(engine) == held
    text = run("erase", "--due", "--date", "2030-01-01", "--dry-run", "--db", db_url)
    assert "would erase 1: B-L1" in text.stdout
    done = run("erase", "--due", "--date", "2030-01-01", "--db", db_url, "--json")
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["due"] == ["B-L1"] and report["erased"][0]["borrower_id"] == "B-L1"
    assert report["erased"][0]["already_erased"] is False
    assert _state(engine)[2] == ["", "Borrower L2"]
    verified = run("evidence", "verify", "--db", db_url)
    assert verified.exit_code == 0 and "evidence intact" in verified.output


def test_one_borrower_refused_unless_due_and_idempotent(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    _book(db_url, engine, tmp_path)
    open_loan = run("erase", "--borrower", "B-L2", "--date", "2040-01-01", "--db", db_url)
    assert open_loan.exit_code == 2
    assert open_loan.stderr.strip() == (
        "error: borrower B-L2: erasure: not due for erasure (loan_open): "
        "a loan is not settled, written off or closed"
    )
    early = run("erase", "--borrower", "B-L1", "--date", "2029-01-14", "--db", db_url)
    assert early.exit_code == 2 and "until 2029-01-15" in early.stderr
    missing = run("erase", "--borrower", "B-none", "--db", db_url)
    assert missing.exit_code == 1 and "no such borrower" in missing.stderr
    first = run("erase", "--borrower", "B-L1", "--date", "2029-01-15", "--db", db_url)
    assert first.exit_code == 0 and "personal data erased on 2029-01-15" in first.stdout
    again = run("erase", "--borrower", "B-L1", "--date", "2030-01-01", "--db", db_url, "--json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["already_erased"] is True
    assert json.loads(again.stdout)["erased_on"] == "2029-01-15"
    assert _state(engine)[1] == 1  # one borrower.erased record, not two


def test_bad_options_exit_2_with_one_line(db_url: str) -> None:
    for args in (
        ("erase", "--db", db_url),
        ("erase", "--due", "--borrower", "B1", "--db", db_url),
        ("erase", "--borrower", "B1", "--dry-run", "--db", db_url),
        ("erase", "--due", "--date", "2030-02-30", "--db", db_url),
    ):
        res = run(*args)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: ")
