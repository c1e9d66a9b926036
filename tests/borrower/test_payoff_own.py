"""A borrower's own loans pulled into the payoff planner."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Engine, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.services.payoff import own_debts
from arrears.store import tables as t
from contact.test_cases_support import overdue_loans
from factories import refused, succeeded


def test_own_loans_become_debts(engine: Engine, tmp_path: Path) -> None:
    # 1,200.00 over 3 months at 12% a year, equal principal, drawn 2024-01-15: 412.00 due
    # 02-15 (unpaid, so overdue on 03-01), then 400.00 + 8.00 interest due 03-15.
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.connect() as conn:
        (debt,) = succeeded(own_debts(conn, "B-L1"))
        s = t.loan_state.c
        owed = conn.execute(
            select(s.outstanding_principal + s.outstanding_interest + s.outstanding_penalty)
        ).scalar_one()
        assert refused(own_debts(conn, "NOPE")).missing
    assert (debt.name, debt.apr, debt.minimum, debt.overdue) == (
        "L1",
        Fraction(12, 100),
        40_800,
        True,
    )
    assert debt.balance == owed and debt.balance > 120_000  # principal, interest due and penalty


def test_plan_payoff_with_the_borrowers_own_loans(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    args = ["plan", "payoff", "--budget", "800", "--borrower", "B-L1", "--db", db_url]
    r = CliRunner().invoke(
        app, [*args, "--debt", "card:1000:18%:100", "--method", "overdue-first", "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["order"] == ["L1", "card"] and set(data["payoff_month"]) == {"L1", "card"}
