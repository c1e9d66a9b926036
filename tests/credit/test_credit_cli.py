"""``arrears credit``: JSON shapes, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from test_credit_export import scenario
from typer.testing import CliRunner, Result

from arrears.cli.main import app

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_history_json_has_the_issue_shape(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    res = run("credit", "history", "L1", "--as-of", "2025-03-31", "--json", "--db", db_url)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) >= {
        "loan_id",
        "as_of",
        "months",
        "status_string",
        "overdue_periods",
        "max_overdue_periods",
        "classification",
    }
    assert data["loan_id"] == "L1" and data["as_of"] == "2025-03-31"
    assert data["status_string"] == "12N"
    assert [m["month"] for m in data["months"]] == ["2025-01", "2025-02", "2025-03"]
    feb = data["months"][1]
    assert (feb["status"], feb["dpd"]) == ("2", 31)
    # 1,200.00 equal principal over 6 months at 12%: 200.00 a month. Jan interest runs Dec 15 -
    # Jan 10, 26 days at 12%/360 on 1,200.00 = 10.40; Feb a whole month at 1% on 1,000.00 = 10.00.
    assert feb["overdue_amount"] == "420.40"
    assert data["max_overdue_periods"] == 2 and data["overdue_periods"] == 0
    text = run("credit", "history", "L1", "--as-of", "2025-03-31", "--db", db_url)
    assert text.exit_code == 0 and "12N" in text.stdout


def test_history_errors(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    res = run("credit", "history", "L1", "--months", "36", "--db", db_url)
    assert res.exit_code == 2 and "months: must be 24 or 60" in res.stderr
    res = run("credit", "history", "NOPE", "--db", db_url)
    assert res.exit_code == 1 and res.stderr.count("\n") == 1
    res = run("credit", "history", "L1", "--as-of", "March", "--db", db_url)
    assert res.exit_code == 2


def test_export_json_reports_withheld_records(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    out = tmp_path / "jan.jsonl"
    args = ("credit", "export", "--month", "2025-01", "--format", "jsonl", "--out", str(out))
    res = run(*args, "--json", "--db", db_url)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["records"] == 0 and data["withheld"][0]["loan_id"] == "L1"
    assert out.exists()
    res = run(
        "credit", "export", "--month", "2025-1", "--format", "jsonl", "--out", "x", "--db", db_url
    )
    assert res.exit_code == 2 and "month" in res.stderr
    res = run(
        "credit", "export", "--month", "2025-01", "--format", "csv", "--out", "x", "--db", db_url
    )
    assert res.exit_code == 2 and "format" in res.stderr


def test_notices_dispute_and_view(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    res = run(
        "credit", "notice-sent", "L1", "--channel", "sms", "--key", "K1",
        "--at", "2025-01-03T10:00:00+08:00", "--json", "--db", db_url,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    # Seven days before January's item (the cn lead time), so both items may be reported.
    assert json.loads(res.stdout)["sent_at"] == "2025-01-03T02:00:00+00:00"
    res = run("credit", "notice-sent", "L1", "--channel", "fax", "--key", "K2", "--db", db_url)
    assert res.exit_code == 2 and "channel" in res.stderr
    res = run(
        "credit", "dispute", "open", "L1", "--month", "2025-02", "--reason", "paid",
        "--key", "D1", "--at", "2025-02-20T09:00:00+08:00", "--json", "--db", db_url,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    dispute = json.loads(res.stdout)
    assert dispute["deadline"] == "2025-03-12"
    res = run(
        "credit", "dispute", "resolve", str(dispute["dispute_id"]), "--outcome", "upheld",
        "--reason", "unpaid", "--at", "2025-03-01T00:00:00+00:00", "--json", "--db", db_url,
    )  # fmt: skip
    assert res.exit_code == 0 and json.loads(res.stdout)["outcome"] == "upheld"
    res = run("credit", "view", "B-L1", "--as-of", "2025-03-31", "--json", "--db", db_url)
    assert res.exit_code == 0, res.output
    (loan,) = json.loads(res.stdout)["loans"]
    assert "".join(m["status"] for m in loan["reported"]) == "12N"
    assert all(m["reported"] for m in loan["reported"])  # the notice preceded both items
    assert [(i["month"], i["drops_off"]) for i in loan["negative_items"]] == [
        ("2025-01", "2030-03-10"),
        ("2025-02", "2030-03-10"),
    ]
    coming = loan["if_nothing_is_paid"]
    # April's installment unpaid: 0, 30 and 61 days late on the next three 10ths.
    assert [(m["reporting_date"], m["status"], m["dpd"]) for m in coming] == [
        ("2025-04-10", "1", 0),
        ("2025-05-10", "1", 30),
        ("2025-06-10", "3", 61),
    ]
    assert loan["disputes"][0]["outcome"] == "upheld"
    res = run("credit", "notices", "--on", "2025-03-31", "--json", "--db", db_url)
    assert res.exit_code == 0 and json.loads(res.stdout) == {"actions": []}


def test_notices_are_planned_from_the_database(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)  # first installment Jan 10, 2025; CN gives notice 7 days before
    res = run("credit", "notices", "--on", "2025-01-02", "--json", "--db", db_url)
    assert res.exit_code == 0 and json.loads(res.stdout) == {"actions": []}
    res = run("credit", "notices", "--on", "2025-01-03", "--json", "--db", db_url)
    (action,) = json.loads(res.stdout)["actions"]
    assert action == {
        "borrower_id": "B-L1",
        "loan_id": "L1",
        "business_date": "2025-01-03",
        "channel": "sms",
        "template": "credit_notice",
        "party": "debtor",
        "purpose": "collection",
    }
    run("credit", "notice-sent", "L1", "--channel", "sms", "--key", "K", "--db", db_url)
    res = run("credit", "notices", "--on", "2025-01-03", "--json", "--db", db_url)
    assert json.loads(res.stdout) == {"actions": []}


def test_not_found_exits_1_everywhere(engine: Engine, db_url: str, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    for args in (
        ("credit", "notice-sent", "NOPE", "--channel", "sms", "--key", "K"),
        ("credit", "settlement", "L1", "NOPE", "--kind", "guarantor"),
        ("credit", "dispute", "open", "NOPE", "--month", "2025-02", "--reason", "r", "--key", "K"),
        ("credit", "dispute", "resolve", "99", "--outcome", "upheld", "--reason", "r"),
        ("credit", "view", "NOPE"),
    ):
        res = run(*args, "--db", db_url)
        assert res.exit_code == 1, (args, res.output)
        assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1
