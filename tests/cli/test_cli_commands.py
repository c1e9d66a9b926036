"""The command line, end to end on each backend: happy paths, JSON shapes, bad input.

Issue 2, items 5, 7, 9, 10: bad input exits 2 with a one-line ``error: ...`` on stderr and
changes nothing. JSON shapes are the ones the issue names. Expected figures are computed by
hand for the loan used throughout: 1,200.00 over 3 months, equal principal, 12% a year,
drawn 2024-01-15 (installments 400.00 + 12.00 / 8.00 / 4.00 due on the 15th; penalty per
overdue day = base / 2000 rounded half-up per day).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from factories import REQUIRED, counts, loan_row, write_csv

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    res = run(*args, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def assert_bad_input(res: Result, *needles: str) -> None:
    """Exit 2 with exactly one line on stderr, starting ``error: ``."""
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.fixture
def imported(db_url: str, engine: Engine, tmp_path: Path) -> str:
    path = write_csv(tmp_path / "loans.csv", [loan_row("L1"), loan_row("L2")])
    res = run("loans", "import", str(path), "--db", db_url)
    assert res.exit_code == 0, res.stderr
    assert "imported 2 loans for 2 new borrowers" in res.stdout
    return db_url


# --- calc schedule ------------------------------------------------------------------------


def test_calc_schedule_json() -> None:
    data = ok_json(
        "calc",
        "schedule",
        "--principal",
        "1200",
        "--annual-rate",
        "12%",
        "--months",
        "3",
        "--method",
        "equal-principal",
        "--start",
        "2024-01-15",
    )
    assert set(data) == {"installments", "total_interest", "total_payment"}
    assert data["installments"] == [
        {
            "n": 1,
            "due_date": "2024-02-15",
            "principal": "400.00",
            "interest": "12.00",
            "payment": "412.00",
            "balance": "800.00",
        },
        {
            "n": 2,
            "due_date": "2024-03-15",
            "principal": "400.00",
            "interest": "8.00",
            "payment": "408.00",
            "balance": "400.00",
        },
        {
            "n": 3,
            "due_date": "2024-04-15",
            "principal": "400.00",
            "interest": "4.00",
            "payment": "404.00",
            "balance": "0.00",
        },
    ]
    assert (data["total_interest"], data["total_payment"]) == ("24.00", "1224.00")


def test_calc_schedule_daily_rate_bullet_and_table() -> None:
    # 0.05% a day on 1,000.00 for one month: 31 actual days (2024-01-01 .. 02-01) = 15.50
    data = ok_json(
        "calc",
        "schedule",
        "--principal",
        "1000.00",
        "--daily-rate",
        "0.0005",
        "--months",
        "1",
        "--method",
        "bullet",
        "--start",
        "2024-01-01",
    )
    assert data["installments"][0]["interest"] == "15.50"
    assert data["total_payment"] == "1015.50"
    res = run("calc", "schedule", "--principal", "1200", "--annual-rate", "12%", "--months", "3")
    assert res.exit_code == 0 and "total interest" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--annual-rate", "12%", "--daily-rate", "0.05%"],  # both rates
        [],  # neither
        ["--annual-rate", "abc"],
        ["--annual-rate", "-1%"],
        ["--annual-rate", "12%", "--principal", "abc"],
        ["--annual-rate", "12%", "--principal", "-100"],
        ["--annual-rate", "12%", "--principal", "0"],
        ["--annual-rate", "12%", "--principal", "1.234"],
        ["--annual-rate", "12%", "--months", "0"],
        ["--annual-rate", "12%", "--months", "400"],
        ["--annual-rate", "12%", "--start", "2024-02-30"],
        ["--annual-rate", "12%", "--due-day", "32"],
    ],
)
def test_calc_schedule_bad_input(args: list[str]) -> None:
    base = {"--principal": "1200", "--months": "3"}
    for k in range(0, len(args), 2):
        base[args[k]] = args[k + 1]
    flat = [x for kv in base.items() for x in kv]
    assert_bad_input(run("calc", "schedule", *flat))


def test_calc_schedule_unknown_method_is_a_usage_error() -> None:
    res = run(
        "calc", "schedule", "--principal", "1", "--annual-rate", "1%", "--months", "1",
        "--method", "balloon",
    )  # fmt: skip
    assert res.exit_code == 2


# --- loans import -------------------------------------------------------------------------


def test_import_json_and_dry_run(db_url: str, engine: Engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "loans.csv", [loan_row("L1"), loan_row("L2")])
    before = counts(engine)
    data = ok_json("loans", "import", str(path), "--dry-run", "--db", db_url)
    assert data == {"loans": 2, "borrowers": 2, "dry_run": True}
    assert counts(engine) == before
    data = ok_json("loans", "import", str(path), "--db", db_url)
    assert data == {"loans": 2, "borrowers": 2, "dry_run": False}
    assert counts(engine)["loans"] == 2


def test_import_bad_file_lists_rows_and_writes_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    rows = [loan_row("L1"), loan_row("L2", months="x"), loan_row("L3", phone="?")]
    path = write_csv(tmp_path / "bad.csv", rows)
    before = counts(engine)
    res = run("loans", "import", str(path), "--db", db_url)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("line 3 (loan L2): months: ")
    assert lines[1].startswith("line 4 (loan L3): phone: ")
    assert lines[-1].startswith("error: 2 problem(s)") and "nothing was imported" in lines[-1]
    assert counts(engine) == before
    res = run("loans", "import", str(path), "--db", db_url, "--json")
    assert res.exit_code == 2
    errs = json.loads(res.stdout)["errors"]
    assert [(e["row"], e["column"]) for e in errs] == [(2, "months"), (3, "phone")]
    assert all(e["reason"] for e in errs)
    assert counts(engine) == before


def test_import_missing_column_and_missing_file(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cols = [c for c in REQUIRED if c != "disbursed_on"]
    path = write_csv(tmp_path / "m.csv", [loan_row()], cols)
    before = counts(engine)
    res = run("loans", "import", str(path), "--db", db_url)
    assert res.exit_code == 2
    assert "file: disbursed_on: column is missing" in res.stderr
    res = run("loans", "import", str(tmp_path / "nope.csv"), "--db", db_url)
    assert res.exit_code == 2 and "does not exist" in res.stderr
    assert counts(engine) == before


# --- pay, reverse -------------------------------------------------------------------------


def test_pay_json_shape_and_idempotency(imported: str, engine: Engine) -> None:
    args = ("pay", "L1", "10.00", "--on", "2024-02-20", "--ref", "p1", "--db", imported)
    data = ok_json(*args)
    # 5 days late on 412.00: 5 x round(20.6) = 1.05 penalty, then 8.95 interest
    assert data == {
        "loan_id": "L1",
        "ref": "p1",
        "kind": "payment",
        "already_applied": False,
        "allocation": {
            "penalty": "1.05",
            "interest": "8.95",
            "principal": "0.00",
            "early_principal": "0.00",
        },
        "status": "active",
        "dpd": 5,
        "outstanding": "1203.05",  # 1,200.00 principal + 3.05 interest still due
    }
    before = counts(engine)
    again = ok_json(*args)
    assert again["already_applied"] is True and again["allocation"] is None
    assert counts(engine) == before
    res = run(*args[:-2], "--db", imported)
    assert res.exit_code == 0 and "already applied" in res.stdout


@pytest.mark.parametrize(
    ("loan_id", "amount", "on", "ref", "needle"),
    [
        ("L1", "abc", "2024-02-15", "x1", "amount"),
        ("L1", "1.234", "2024-02-15", "x1", "decimals"),
        ("L1", "-5", "2024-02-15", "x1", "amount"),
        ("L1", "0", "2024-02-15", "x1", "amount"),
        ("L1", "0.00", "2024-02-15", "x1", "amount"),
        ("L1", "10", "2024-01-14", "x1", "before disbursement"),
        ("L1", "10", "2024-13-01", "x1", "on"),
        ("L1", "10", "yesterday", "x1", "on"),
        ("L1", "10", "2024-02-15", " ", "ref"),
        ("L1", "99999", "2024-02-15", "x1", "payoff"),
        ("L1", "10.01", "2024-02-15", "p0", "ref"),  # p0 was 10.00
        ("L2", "10.00", "2024-02-15", "p0", "ref"),  # p0 was for L1
    ],
)
def test_pay_bad_input(
    imported: str, engine: Engine, loan_id: str, amount: str, on: str, ref: str, needle: str
) -> None:
    ok_json("pay", "L1", "10.00", "--on", "2024-02-15", "--ref", "p0", "--db", imported)
    before = counts(engine)
    # "--" ends the options, so that "-5" is an amount and not an option
    res = run("pay", "--on", on, "--ref", ref, "--db", imported, "--", loan_id, amount)
    assert_bad_input(res, needle)
    assert counts(engine) == before


def test_reverse_happy_and_bad(imported: str, engine: Engine) -> None:
    ok_json("pay", "L1", "412.00", "--on", "2024-02-15", "--ref", "p1", "--db", imported)
    ok_json("close-day", "--through", "2024-02-20", "--db", imported)
    assert ok_json("loan", "show", "L1", "--db", imported)["dpd"] == 0
    data = ok_json("reverse", "p1", "--on", "2024-02-20", "--ref", "r1", "--db", imported)
    assert (data["kind"], data["dpd"], data["already_applied"]) == ("reversal", 5, False)
    shown = ok_json("loan", "show", "L1", "--db", imported)
    assert (shown["dpd"], shown["bucket"]) == (5, "M1")
    assert shown["overdue"]["penalty"] == "1.05"
    before = counts(engine)
    again = ok_json("reverse", "p1", "--on", "2024-02-20", "--ref", "r1", "--db", imported)
    assert again["already_applied"] is True
    assert counts(engine) == before
    for args in (
        ("p1", "--on", "2024-02-20", "--ref", "r2"),  # already reversed
        ("r1", "--on", "2024-02-20", "--ref", "r4"),  # a reversal is not a payment
        ("p1", "--on", "20/02/2024", "--ref", "r5"),  # bad date
    ):
        assert_bad_input(run("reverse", *args, "--db", imported))
    assert counts(engine) == before


# --- close-day, loan show, portfolio summary -----------------------------------------------


def test_close_day_json_and_bad_date(imported: str, engine: Engine) -> None:
    data = ok_json("close-day", "--through", "2024-02-20", "--db", imported)
    assert {"through", "loans_aged", "loan_days", "entries_posted", "by_bucket"} <= set(data)
    assert data["already_closed"] is False
    # 2 loans x 36 days (01-16 .. 02-20); one interest-due entry each on 02-15; no penalty
    # entry (posted at month end; nothing was overdue on 01-31)
    assert (data["through"], data["loans_aged"], data["loan_days"]) == ("2024-02-20", 2, 72)
    assert data["entries_posted"] == 2
    assert data["by_bucket"] == {"M1": 2}
    # A closed day is not closed again: the rerun reports the stored close and changes nothing.
    before_rerun = counts(engine)
    again = ok_json("close-day", "--through", "2024-02-20", "--db", imported)
    assert again["already_closed"] is True
    assert {k: again[k] for k in data if k not in ("already_closed", "phases")} == {
        k: data[k] for k in data if k not in ("already_closed", "phases")
    }
    assert counts(engine) == before_rerun
    before = counts(engine)
    assert_bad_input(run("close-day", "--through", "2024-02-31", "--db", imported), "through")
    assert counts(engine) == before
    res = run("close-day", "--through", "2024-02-21", "--db", imported)
    assert res.exit_code == 0 and "close 2024-02-21" in res.stdout and "actions" in res.stdout
    res = run("close-day", "--through", "2024-02-22", "--no-collect", "--db", imported)
    assert res.exit_code == 0 and "closed through 2024-02-22" in res.stdout


def test_loan_show_json(imported: str) -> None:
    ok_json("close-day", "--through", "2024-02-20", "--db", imported)
    data = ok_json("loan", "show", "L1", "--db", imported)
    named = {
        "loan_id",
        "status",
        "dpd",
        "bucket",
        "classification",
        "overdue",
        "outstanding",
        "next_due",
        "installments",
    }
    assert named <= set(data)
    assert (data["loan_id"], data["status"], data["dpd"]) == ("L1", "active", 5)
    assert (data["bucket"], data["classification"]) == ("M1", "special_mention")
    assert data["overdue"] == {
        "principal": "400.00",
        "interest": "12.00",
        "penalty": "1.05",
        "total": "413.05",
    }
    assert data["outstanding"] == {
        "principal": "1200.00",
        "interest": "12.00",
        "penalty": "1.05",
        "total": "1213.05",
    }
    assert data["next_due"] == {"date": "2024-03-15", "amount": "408.00"}
    assert [i["due_date"] for i in data["installments"]] == [
        "2024-02-15",
        "2024-03-15",
        "2024-04-15",
    ]
    assert [i["state"] for i in data["installments"]] == ["overdue", "scheduled", "scheduled"]
    # as of an earlier date, from the events: the due date itself is DPD 0
    then = ok_json("loan", "show", "L1", "--as-of", "2024-02-15", "--db", imported)
    assert (then["dpd"], then["bucket"], then["classification"]) == (0, "C", "normal")
    assert then["installments"][0]["state"] == "due"
    assert then["next_due"] == {"date": "2024-02-15", "amount": "412.00"}
    res = run("loan", "show", "L1", "--db", imported)
    assert res.exit_code == 0 and "DPD 5" in res.stdout


def test_loan_show_bad_input(imported: str) -> None:
    assert_bad_input(run("loan", "show", "L1", "--as-of", "2024-1-5", "--db", imported), "as_of")
    assert_bad_input(
        run("loan", "show", "L1", "--as-of", "2024-01-14", "--db", imported),
        "before disbursement",
    )
    # an unknown loan is "not found": exit 1 by the CLI's documented codes, one line
    res = run("loan", "show", "NOPE", "--db", imported)
    assert res.exit_code == 1
    assert res.stderr.strip().startswith("error: ") and len(res.stderr.strip().splitlines()) == 1


def test_portfolio_summary_json(imported: str) -> None:
    empty_buckets = ok_json("portfolio", "summary", "--db", imported)
    assert [b["name"] for b in empty_buckets["by_bucket"]] == [
        "C",
        "M1",
        "M2",
        "M3",
        "M4",
        "M5",
        "M6",
        "M7",
    ]
    assert [c["name"] for c in empty_buckets["by_classification"]] == [
        "normal",
        "special_mention",
        "substandard",
        "doubtful",
        "loss",
    ]
    ok_json("pay", "L2", "412.00", "--on", "2024-02-15", "--ref", "p2", "--db", imported)
    ok_json("close-day", "--through", "2024-02-20", "--db", imported)
    data = ok_json("portfolio", "summary", "--db", imported)
    assert data["as_of"] == "2024-02-20"
    assert data["active"] == 2 and data["loans"] == {"active": 2}
    # L1: 1,200.00 + 12.00 + 1.05 outstanding, 413.05 overdue; L2: 800.00, nothing overdue
    assert (data["outstanding"], data["overdue"]) == ("2013.05", "413.05")
    buckets = {b["name"]: b for b in data["by_bucket"]}
    assert buckets["C"] == {"name": "C", "loans": 1, "outstanding": "800.00", "overdue": "0.00"}
    assert buckets["M1"] == {
        "name": "M1",
        "loans": 1,
        "outstanding": "1213.05",
        "overdue": "413.05",
    }
    assert sum(b["loans"] for b in data["by_bucket"]) == 2
    classes = {c["name"]: c["loans"] for c in data["by_classification"]}
    assert classes == {
        "normal": 1,
        "special_mention": 1,
        "substandard": 0,
        "doubtful": 0,
        "loss": 0,
    }
    res = run("portfolio", "summary", "--db", imported)
    assert res.exit_code == 0 and "2 active loans" in res.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("pay", "NOPE", "10", "--on", "2024-02-15", "--ref", "nf1"),
        ("reverse", "no-such-payment", "--on", "2024-02-20", "--ref", "nf2"),
        ("waive", "NOPE", "penalty", "1.00", "--on", "2024-02-20", "--ref", "nf3"),
        ("write-off", "NOPE", "--on", "2024-02-20", "--ref", "nf4"),
        ("loan", "show", "NOPE"),
    ],
)
def test_an_unknown_record_is_not_found_exit_1_everywhere(
    imported: str, engine: Engine, args: tuple[str, ...]
) -> None:
    before = counts(engine)
    res = run(*args, "--db", imported)
    assert res.exit_code == 1, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert counts(engine) == before


def test_waive_and_write_off_from_the_cli(imported: str, engine: Engine) -> None:
    # L1 is 5 days late by 2024-02-20 (see the reverse test): penalty has accrued.
    shown = ok_json("loan", "show", "L1", "--as-of", "2024-02-20", "--db", imported)
    owed_penalty = shown["overdue"]["penalty"]
    assert owed_penalty != "0.00"
    w = ok_json(
        "waive",
        "L1",
        "penalty",
        owed_penalty,
        "--on",
        "2024-02-20",
        "--ref",
        "w1",
        "--db",
        imported,
    )
    assert w["kind"] == "waiver" and w["already_applied"] is False
    again = ok_json(
        "waive",
        "L1",
        "penalty",
        owed_penalty,
        "--on",
        "2024-02-20",
        "--ref",
        "w1",
        "--db",
        imported,
    )
    assert again["already_applied"] is True
    before = counts(engine)
    assert_bad_input(
        run(
            "waive",
            "L1",
            "principal",
            "1.00",
            "--on",
            "2024-02-20",
            "--ref",
            "w2",
            "--db",
            imported,
        ),
        "component",
    )
    assert counts(engine) == before
    off = ok_json("write-off", "L1", "--on", "2024-02-21", "--ref", "wo1", "--db", imported)
    assert off["status"] == "written_off"
    assert off["outstanding"] == "0.00"
