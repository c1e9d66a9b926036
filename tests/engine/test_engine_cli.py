"""`arrears simulate` and `arrears audit` on the command line, good paths and bad."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from arrears.core.compliance import Contact
from arrears.services.collection.history import Attempt, record_attempts
from arrears.services.importer import import_file
from arrears.store.engine import make_engine
from factories import counts, succeeded

SAMPLE = Path(__file__).parents[2] / "src" / "arrears" / "data" / "sample_portfolio.csv"
runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_simulate_then_audit_then_a_night_call_is_found(db_url: str) -> None:
    engine: Engine = make_engine(db_url)
    try:
        succeeded(import_file(engine, SAMPLE))
        res = run("simulate", "--start", "2026-11-20", "--days", "3", "--db", db_url, "--json")
        assert res.exit_code == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["through"] == "2026-11-22" and summary["actions"] > 0
        res = run("audit", "--db", db_url, "--json")
        assert res.exit_code == 0, res.stdout
        clean = json.loads(res.stdout)
        assert clean["contacts"] > 0 and clean["violations"] == []
        # A call at 23:00 Shanghai time that someone recorded by hand: the audit must name it.
        night = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
        call = Contact(at=night, debt_id="L000001", channel="call", number="+86 100 0000 0001")
        with engine.begin() as conn:
            record_attempts(
                conn, [Attempt("manual-night-call", "B000001", call, date(2026, 11, 22))]
            )
        res = run("audit", "--borrower", "B000001", "--db", db_url, "--json")
        assert res.exit_code == 3
        found = json.loads(res.stdout)["violations"]
        assert [f["attempt_key"] for f in found] == ["manual-night-call"]
        assert "cn.hours" in [v["rule"] for v in found[0]["violations"]]
    finally:
        engine.dispose()


def test_simulate_bad_input_exits_2_and_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    succeeded(import_file(engine, SAMPLE))
    before = counts(engine)
    for args in (
        ("--start", "2026-13-01", "--days", "3"),
        ("--start", "2026-11-20", "--days", "0"),
        ("--start", "2026-11-20", "--days", "3", "--policy", "/nonexistent.yaml"),
        ("--start", "2026-11-20", "--days", "3", "--portfolio", "/nonexistent.csv"),
    ):
        res = run("simulate", *args, "--db", db_url)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
    assert counts(engine) == before
    engine.dispose()
