"""`arrears policy validate|show|explain` through the mounted CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.services.policy_files import bundled_policy_path

runner = CliRunner()
DEFAULT = str(bundled_policy_path("default"))
SPLIT = str(bundled_policy_path("split"))

CASE = {
    "borrower_id": "B1",
    "loan_id": "L1",
    "business_date": "2026-03-10",
    "dpd": 65,
    "days_to_due": None,
    "overdue_amount": "4000.00",
    "outstanding_amount": "9000.00",
    "risk_score": 100,
    "prior_cases": 0,
    "promise_until": None,
    "promise_broken_on": None,
    "hardship": False,
    "dispute": False,
    "plan_in_force": False,
    "unreachable_days": 20,  # two weeks of calls that reached nobody: a visit is due
    "visit_approved": False,
    "emergency_contacts": 1,
    "last_sent": {"sms_overdue": "2026-03-09"},
}


def test_validate_ok_and_json() -> None:
    r = runner.invoke(app, ["policy", "validate", DEFAULT, SPLIT])
    assert r.exit_code == 0, r.output
    assert "valid: default (90/100), gentle (10/100)" in r.output
    r = runner.invoke(app, ["policy", "validate", SPLIT, "--json"])
    data = json.loads(r.stdout)
    assert data["valid"] is True and data["errors"] == []
    assert data["files"][0]["policies"] == [
        {"name": "default", "share": 90, "of": 100},
        {"name": "gentle", "share": 10, "of": 100},
    ]


def test_validate_warnings_exit_zero(tmp_path: Path) -> None:
    f = tmp_path / "late.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "name": "late",
                "rule_pack": "cn",
                "steps": [
                    {
                        "name": "late_call",
                        "channel": "call",
                        "template": "sms_overdue",
                        "at": "22:30",
                        "dpd_from": 1,
                    },
                ],
            }
        )
    )
    r = runner.invoke(app, ["policy", "validate", str(f), "--json"])
    assert r.exit_code == 0
    warns = json.loads(r.stdout)["files"][0]["warnings"]
    # rule_pack: cn, so only cn is checked.
    assert [(w["pack"], w["step"], w["code"]) for w in warns] == [("cn", "late_call", "hours")]
    r = runner.invoke(app, ["policy", "validate", str(f), "--rules", "us-reg-f"])
    assert r.exit_code == 0
    assert "warning [us-reg-f] late step late_call: hours" in r.output


def test_validate_invalid_exits_2_with_path(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        "name: bad\nsteps:\n"
        "  - {name: a, channel: sms, template: sms_overdue, at: '10:00', dpd_from: 1,"
        " cadence_days: 0}\n"
    )
    r = runner.invoke(app, ["policy", "validate", DEFAULT, str(f)])
    assert r.exit_code == 2
    assert f"error: {f}: steps[0].cadence_days: must be in 1..3660, not 0" in r.output
    r = runner.invoke(app, ["policy", "validate", str(f), "--json"])
    assert r.exit_code == 2
    assert json.loads(r.stdout)["errors"] == [
        {"file": str(f), "path": "steps[0].cadence_days", "reason": "must be in 1..3660, not 0"}
    ]
    r = runner.invoke(app, ["policy", "validate", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "cannot read" in r.output


def test_show() -> None:
    r = runner.invoke(app, ["policy", "show", DEFAULT])
    assert r.exit_code == 0
    assert "home_visit" in r.output and "legal referral: DPD 120+, overdue >= 1000.00" in r.output
    r = runner.invoke(app, ["policy", "show", SPLIT, "--json"])
    data = json.loads(r.stdout)
    assert [p["name"] for p in data["policies"]] == ["default", "gentle"]
    visit = next(s for s in data["policies"][0]["steps"] if s["name"] == "home_visit")
    assert visit["min_overdue"] == "3000.00" and visit["at"] == "10:00"


def test_explain(tmp_path: Path) -> None:
    f = tmp_path / "case.json"
    f.write_text(json.dumps(CASE))
    r = runner.invoke(app, ["policy", "explain", "--case", str(f), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    outcomes = {s["step"]: s["outcome"] for s in data["steps"]}
    assert outcomes == {
        "sms_pre_due": "skipped",
        "sms_overdue": "skipped",  # sent yesterday, cadence 3
        "call_early": "skipped",
        "call_debtor": "action",
        "sms_emergency_contact": "action",
        "home_visit": "routing",  # not approved yet
        "plan_reminder": "skipped",
    }
    assert [a["step"] for a in data["actions"]] == ["call_debtor", "sms_emergency_contact"]
    assert data["actions"][0]["local_time"] == "14:00"
    assert [x["kind"] for x in data["routings"]] == ["visit_approval"]
    r = runner.invoke(app, ["policy", "explain", "--case", str(f)])
    assert "FIRES call_debtor" in r.output and "ROUTE home_visit" in r.output


def test_explain_bad_case(tmp_path: Path) -> None:
    f = tmp_path / "case.json"
    f.write_text(json.dumps({**CASE, "dpd": -1, "overdue_amount": 40}))
    r = runner.invoke(app, ["policy", "explain", "--case", str(f)])
    assert r.exit_code == 2
    assert f"error: {f}: dpd: must be a whole number, 0 or more" in r.output
    assert f"error: {f}: overdue_amount: " in r.output
    f.write_text("{")
    r = runner.invoke(app, ["policy", "explain", "--case", str(f)])
    assert r.exit_code == 2 and "not JSON" in r.output
