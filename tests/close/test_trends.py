"""The dashboard's series: hand-counted from two close reports and a few cases (the cure
curve is the Kaplan-Meier estimate worked by hand), and the page and JSON end to end."""

from __future__ import annotations

import json
from datetime import date, timedelta
from fractions import Fraction
from importlib import resources
from pathlib import Path

from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.close.report import BucketLine, CloseReport, PromiseCounts, Roll
from arrears.core.close.trends import CaseSpan, cure_curves, trends

runner = CliRunner()
D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def _report(day: date, m1: int, kept: int, broken: int, due: int) -> CloseReport:
    return CloseReport(
        business_date=day,
        engine="polars",
        loans_aged=10,
        loan_days=10,
        entries_posted=0,
        buckets=(BucketLine("C", 10 - m1, 0, 900_00), BucketLine("M1", m1, m1 * 50_00, 100_00)),
        rolls=(Roll("C", "M1", 1, 8),),
        actions={("sms", "default"): 3, ("call", "default"): 1, ("sms", "gentle"): 2},
        routings={},
        blocked={"cn.hours": 1},
        promises=PromiseCounts(due, kept, 0, broken),
        cases_open=m1,
        phases={"accrual": 0.5},
    )


def test_series_from_the_reports_in_date_order() -> None:
    t = trends([_report(D2, 3, 1, 1, 0), _report(D1, 2, 3, 0, 5)])
    assert t.dates == (D1, D2)
    assert t.loans["M1"] == (2, 3) and t.overdue["M1"] == (100_00, 150_00)
    assert t.loans["M7"] == (0, 0)
    assert t.rolls["C→M1"] == (Fraction(1, 8), Fraction(1, 8)) and t.rolls["M1→M2"] == (0, 0)
    assert t.contacts_by_policy == {"default": (4, 4), "gentle": (2, 2)}
    assert t.blocked == {"cn.hours": 2}
    # Kept of those settled that day (3 of 3; 1 of 2), not of the 5 that fell due on D1.
    assert t.promise_kept == (Fraction(1), Fraction(1, 2))
    assert t.phases == {"accrual": (0.5, 0.5)} and t.cases_open == (2, 3)


def test_cure_curve_is_kaplan_meier_worked_by_hand() -> None:
    o = date(2026, 11, 1)
    spans = [
        CaseSpan(o, o + timedelta(days=2), "cured"),  # cured on day 2
        CaseSpan(o, o + timedelta(days=5), "settled"),  # cured on day 5
        CaseSpan(o, None, None),  # still open on day 3: censored then
        CaseSpan(o, o + timedelta(days=1), "written_off"),  # censored on day 1
        CaseSpan(date(2026, 12, 3), None, None),  # another vintage, none cured
    ]
    nov, dec = cure_curves(spans, as_of=o + timedelta(days=3), horizon=7)
    # Day 2: 3 at risk (D left on day 1), 1 cured: 1/3. Day 3: C leaves. Day 5: 1 at risk,
    # 1 cured: the uncured share falls to 0. After that no case is watched.
    assert nov.vintage == "2026-11" and nov.cases == 4
    assert nov.cured_by_day == (0, 0, Fraction(1, 3), Fraction(1, 3), Fraction(1, 3), 1, None, None)
    assert dec.vintage == "2026-12" and dec.cases == 1
    assert dec.cured_by_day[0] == 0


def test_the_dashboard_page_and_json(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "d.html"
    empty = runner.invoke(app, ["dashboard", "--db", db_url, "--out", str(out)])
    assert empty.exit_code == 0, empty.stderr
    assert "No business day has been closed yet" in out.read_text(encoding="utf-8")
    sample = str(resources.files("arrears") / "data" / "sample_portfolio.csv")
    assert runner.invoke(app, ["loans", "import", sample, "--db", db_url]).exit_code == 0
    for day in ("2026-03-10", "2026-03-11", "2026-03-12"):
        res = runner.invoke(app, ["close-day", "--through", day, "--db", db_url])
        assert res.exit_code == 0, res.stderr
    res = runner.invoke(app, ["dashboard", "--db", db_url, "--json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["dates"] == ["2026-03-10", "2026-03-11", "2026-03-12"]
    assert data["as_of"] == "2026-03-12" and set(data["loans_by_bucket"]) >= {"C", "M1"}
    for lang, words in (("en", "Collections dashboard"), ("zh-CN", "催收看板")):
        res = runner.invoke(app, ["dashboard", "--db", db_url, "--out", str(out), "--lang", lang])
        assert res.exit_code == 0, res.stderr
        page = out.read_text(encoding="utf-8")
        assert words in page and page.count("<svg") == 7 and f'lang="{lang}"' in page
    res = runner.invoke(app, ["dashboard", "--db", db_url, "--json", "--since", "2026-03-11"])
    assert json.loads(res.stdout)["dates"] == ["2026-03-11", "2026-03-12"]


def test_bad_arguments(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    for args, says in (
        (["--lang", "fr", "--json"], "--lang"),
        (["--out", str(tmp_path / "d.pdf")], "--out"),
        ([], "--out FILE.html"),
        (["--json", "--since", "2026-03-12", "--until", "2026-03-11"], "after --until"),
        (["--json", "--since", "12/03/2026"], "since"),
    ):
        res = runner.invoke(app, ["dashboard", "--db", db, *args])
        assert res.exit_code == 2, (args, res.stdout)
        assert says in res.stderr, (args, res.stderr)
