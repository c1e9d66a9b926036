"""The facts the gate words its messages with (overdue by component, DPD, the oldest missed due
date, the next due date and amount) equal what each loan's own installments and state say.

The expectation is computed here, loan by loan, from the raw rows: the oldest unpaid
installment due before the day, and the first unpaid one due on or after it (by due date,
then installment number) with its unpaid principal and interest.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from arrears.core.sim.generate import generate
from arrears.services.close.gate_phase import _loan_facts
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments
from arrears.services.portfolio_files import write_table
from arrears.store import tables as t
from factories import succeeded

AS_OF = date(2026, 6, 30)


def _expected(engine: Engine, day: date) -> dict[str, dict[str, Any]]:
    i, ls = t.installments, t.loan_state
    with engine.connect() as conn:
        insts = conn.execute(select(i).order_by(i.c.loan_id, i.c.due_date, i.c.n)).all()
        states = conn.execute(select(ls)).all()
    out: dict[str, dict[str, Any]] = {
        s.loan_id: {
            "principal": s.overdue_principal,
            "interest": s.overdue_interest,
            "penalty": s.overdue_penalty,
            "dpd": s.dpd,
            "due_date": None,
            "next_due_date": None,
            "next_due_amount": None,
        }
        for s in states
    }
    for r in insts:
        unpaid = r.principal + r.interest - r.paid_principal - r.paid_interest
        if r.paid_principal >= r.principal and r.paid_interest >= r.interest:
            continue
        f = out[r.loan_id]
        if r.due_date < day and (f["due_date"] is None or r.due_date < f["due_date"]):
            f["due_date"] = r.due_date
        if r.due_date >= day and f["next_due_date"] is None:
            f["next_due_date"], f["next_due_amount"] = r.due_date, unpaid
    return out


def test_loan_facts_match_each_loans_rows(engine: Engine, tmp_path: Path) -> None:
    p = generate(150, 5, AS_OF)
    write_table(p.loans, tmp_path / "loans.parquet")
    write_table(p.payments, tmp_path / "payments.parquet")
    succeeded(import_file(engine, tmp_path / "loans.parquet"))
    succeeded(import_payments(engine, tmp_path / "payments.parquet"))
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(t.loans.c.loan_id)).scalars())
    seen = {"overdue": 0, "next": 0, "partly_paid_next": 0}
    for day in (AS_OF - timedelta(days=40), AS_OF, AS_OF + timedelta(days=20)):
        want = _expected(engine, day)
        with engine.connect() as conn:
            got = _loan_facts(conn, ids, day)
        assert got == want
        seen["overdue"] += sum(f["due_date"] is not None for f in want.values())
        seen["next"] += sum(f["next_due_date"] is not None for f in want.values())
    with engine.connect() as conn:
        i = t.installments
        seen["partly_paid_next"] = len(
            conn.execute(
                select(i.c.loan_id).where(
                    i.c.paid_principal + i.c.paid_interest > 0,
                    i.c.paid_principal + i.c.paid_interest < i.c.principal + i.c.interest,
                )
            ).all()
        )
    # The comparison covered loans with missed installments, loans with one to come, and
    # installments paid in part (whose unpaid rest is the amount due).
    assert all(n > 0 for n in seen.values()), seen
