"""Champion vs challenger: the measures against hand-counted cohorts, and the simulation end
to end (same seed, same report; a challenger that adds emergency-contact calls shows their
cost; bad arguments refused before anything runs)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.charts import Series, bar_chart, line_chart
from arrears.core.lender.settings import Costs
from arrears.core.sim.strategy import LoanStart, RunFacts, metrics, rate_text
from arrears.services.policy_files import bundled_policy_path

runner = CliRunner()
COSTS = Costs(Decimal("0.05"), Decimal("1.20"), Decimal("0.01"), Decimal("1.50"), Decimal("150"))


def _facts(**kw: object) -> RunFacts:
    base: dict[str, object] = {
        "policy": "p",
        "days": 3,
        "start": {
            "A": LoanStart("C", 0),
            "B": LoanStart("M1", 100_00),
            "C": LoanStart("M1", 300_00),
            "D": LoanStart("M3", 1_000_00),
        },
        "end_bucket": {"A": "M1", "B": "C", "C": "M2", "D": "M3"},
        "collected": {"A": 50_00, "B": 250_00, "C": 0, "D": 400_00},
        "contacts": {"sms": 10, "call": 5, "letter": 2, "visit": 1},
        "blocked": {"cn.hours": 2},
        "promises_kept": 3,
        "promises_broken": 1,
        "overdue_by_day": (3, 4, 3),
    }
    base.update(kw)
    return RunFacts(**base)  # type: ignore[arg-type]


def test_measures_on_a_hand_counted_cohort() -> None:
    m = metrics(_facts(), COSTS)
    by = {b.bucket: b for b in m.buckets}
    assert list(by) == ["M1", "M3"]  # the current loan A is not in the cohort
    # B paid 250 of 100 overdue: counts 100; C paid nothing; D paid 400 of 1,000.
    assert (by["M1"].loans, by["M1"].overdue, by["M1"].recovered) == (2, 400_00, 100_00)
    assert by["M1"].recovery_rate == Fraction(1, 4)
    assert by["M1"].cure_rate == Fraction(1, 2) and by["M1"].roll_rate == Fraction(1, 2)
    assert by["M3"].recovery_rate == Fraction(2, 5) and by["M3"].cure_rate == 0
    assert m.cohort.recovered == 500_00 and m.cohort.overdue == 1_400_00
    # 10 x 0.05 + 5 x 1.20 + 1 x 150; letters have no cost key and are named as unpriced.
    assert m.cost == Decimal("156.50") and m.unpriced == ("letter",)
    assert m.cost_per_yuan == Decimal("0.3130")  # 156.50 / 500.00
    assert m.promise_kept_rate == Fraction(3, 4) and m.overdue_loan_days == 10
    assert rate_text(Fraction(1, 8)) == "0.1250" and rate_text(Fraction(2, 3)) == "0.6667"


def test_nothing_recovered_has_no_cost_per_yuan() -> None:
    m = metrics(_facts(collected={}), COSTS)
    assert m.cohort.recovered == 0 and m.cost_per_yuan is None


def test_charts_are_svg_with_titles_and_escaped_labels() -> None:
    svg = line_chart("Overdue <loans>", [Series("a&b", (1.0, 3.0, 2.0))], ["d1", "d2", "d3"], "n")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'aria-label="Overdue &lt;loans&gt;"' in svg and "a&amp;b" in svg and "<loans>" not in svg
    assert len(re.findall(r"<polyline", svg)) == 1
    bars = bar_chart("r", ["M1", "M2"], [Series("x", (0.5, 1.0)), Series("y", (0.25, 0.0))], "%",
                     percent=True)  # fmt: skip
    assert len(re.findall(r"<rect x=", bars)) == 4 + 2  # four bars, two legend keys
    assert "x, M1: 50.0%" in bars and "y, M2: 0.0%" in bars


def _with_emergency_calls(tmp_path: Path) -> Path:
    """The default policy plus calls to the emergency contact from DPD 5."""
    data = yaml.safe_load(bundled_policy_path("default").read_text(encoding="utf-8"))
    data["name"] = "emergency"
    data["steps"].append(
        {
            "name": "call_emergency_contact",
            "channel": "call",
            "party": "emergency_contact",
            "template": "emergency_contact",
            "at": "15:00",
            "dpd_from": 5,
            "cadence_days": 2,
            "priority": 4,
        }
    )
    path = tmp_path / "emergency.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.slow
def test_same_seed_same_report_and_the_challenger_shows_its_trade_off(tmp_path: Path) -> None:
    challenger = _with_emergency_calls(tmp_path)
    args = ["simulate", "--loans", "600", "--days", "20", "--seed", "3", "--rules", "cn",
            "--challenger", str(challenger)]  # fmt: skip
    first = runner.invoke(app, [*args, "--json", "--report", str(tmp_path / "a.html")])
    assert first.exit_code == 0, first.stderr
    again = runner.invoke(app, [*args, "--json", "--report", str(tmp_path / "b.html")])
    assert first.stdout == again.stdout
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    data = json.loads(first.stdout)
    champion, other = data["runs"]
    assert (champion["policy"], other["policy"]) == ("default", "emergency")
    # The same book: the same cohort on the first day.
    assert champion["overdue_first_day"] == other["overdue_first_day"]
    assert champion["contacts"]["emergency_contact"] == 0
    assert other["contacts"]["emergency_contact"] > 0
    assert Decimal(other["contact_cost"]) > Decimal(champion["contact_cost"])
    # The other side of the trade-off: borrowers whose contacts were called complain of it
    # (the bundled behaviour's third_party_complaint_rate).
    assert other["complaints"] > champion["complaints"]
    assert {"plans_kept", "plans_broken"} <= set(champion)
    page = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3 and "call to an emergency contact" in page
    zh = runner.invoke(app, [*args, "--lang", "zh-CN", "--report", str(tmp_path / "z.html")])
    assert zh.exit_code == 0, zh.stderr
    page = (tmp_path / "z.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page and "致电紧急联系人" in page and "回收率" in page


def test_bad_arguments_are_refused_before_anything_runs(tmp_path: Path) -> None:
    base = ["simulate", "--loans", "50", "--days", "2"]
    for extra, says in (
        (["--rules", "mars"], "--rules"),
        (["--lang", "fr"], "--lang"),
        (["--report", str(tmp_path / "r.pdf")], "--report"),
        (["--start", "2026-11-01"], "--loans runs on a new generated book"),
        (["--challenger", str(tmp_path / "absent.yaml")], "does not exist"),
    ):
        res = runner.invoke(app, [*base, *extra])
        assert res.exit_code == 2, (extra, res.stdout)
        assert says in res.stderr, (extra, res.stderr)
    res = runner.invoke(app, ["simulate", "--days", "2", "--report", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "--start" in res.stderr
    assert list(tmp_path.iterdir()) == []
