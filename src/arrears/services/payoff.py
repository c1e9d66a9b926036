"""A borrower's own loans as debts for the payoff planner (``core.borrower.payoff``)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from arrears.core.ageing.status import age
from arrears.core.borrower.payoff import Debt
from arrears.core.problem import Result, fail, not_found, ok
from arrears.services.accounts import load_accounts
from arrears.store import tables


def own_debts(conn: Connection, borrower_id: str) -> Result[list[Debt]]:
    """Each active loan of the borrower as a debt: what it owes in all today (overdue included),
    its yearly rate (a daily rate as the loan's months count it: x 30 x 12), the next scheduled
    installment as the minimum, and overdue when it is past due. Named by loan id."""
    known = conn.execute(
        select(tables.borrowers.c.borrower_id).where(tables.borrowers.c.borrower_id == borrower_id)
    ).first()
    if known is None:
        return fail(not_found(f"borrower {borrower_id}", "no such borrower", "borrower_id"))
    ids = list(
        conn.execute(
            select(tables.loans.c.loan_id)
            .join(tables.loan_state, tables.loan_state.c.loan_id == tables.loans.c.loan_id)
            .where(
                tables.loans.c.borrower_id == borrower_id, tables.loan_state.c.status == "active"
            )
            .order_by(tables.loans.c.loan_id)
        ).scalars()
    )
    debts: list[Debt] = []
    for loan_id, (rec, acct) in sorted(load_accounts(conn, ids).items()):
        aged = age(acct, rec.product)
        minimum = aged.next_due.amount if aged.next_due is not None else 0
        apr = rec.terms.rate.monthly() * 12
        debts.append(Debt(loan_id, aged.outstanding.total, apr, minimum, overdue=aged.dpd > 0))
    return ok(debts)
