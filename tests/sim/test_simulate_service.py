"""The services behind ``arrears simulate`` on a database's loans: behaviours read from a
generated portfolio, and the run's summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from arrears.core.close.report import CloseReport
from arrears.services.simulation.operation import SimResult, portfolio_behaviours
from factories import refused, succeeded


def test_behaviours_come_from_the_portfolios_behaviour_column(tmp_path: Path) -> None:
    path = tmp_path / "loans.csv"
    path.write_text("loan_id,borrower_id,behaviour\nL1,B1,late_payer\nL2,B2,never_pays\n")
    assert succeeded(portfolio_behaviours(path)) == {"B1": "late_payer", "B2": "never_pays"}


def test_a_portfolio_without_behaviours_or_missing_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("loan_id,borrower_id\nL1,B1\n")
    problem = refused(portfolio_behaviours(plain))
    assert problem.record == "--portfolio" and "has no behaviour column" in problem.reason
    problem = refused(portfolio_behaviours(tmp_path / "gone.csv"))
    assert problem.record == "--portfolio" and "does not exist" in problem.reason


def test_the_summary_spans_the_days_and_adds_up_every_close() -> None:
    def report(actions: int, blocked: int) -> CloseReport:
        return CloseReport(
            business_date=date(2026, 3, 1),
            engine="polars",
            loans_aged=0,
            loan_days=0,
            entries_posted=0,
            buckets=(),
            rolls=(),
            actions={("sms", "champion"): actions, ("call", "champion"): 1},
            routings={},
            blocked={"cn.hours": blocked},
        )

    result = SimResult(reports=[report(3, 1), report(4, 0)], calls=5, promises=2, payments=1)
    assert result.summary(date(2026, 3, 1), 2) == {
        "start": "2026-03-01",
        "through": "2026-03-02",
        "calls": 5,
        "promises": 2,
        "payments": 1,
        "visits_reported": 0,
        "complaints": 0,
        "disputes": 0,
        "plans_requested": 0,
        "plans_in_force": 0,
        "actions": 9,  # 3 + 1 and 4 + 1
        "blocked": 1,
    }
