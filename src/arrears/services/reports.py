"""Read-outs: one loan as of a date, and the portfolio by bucket and classification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from arrears.core.ageing.status import BUCKETS, CLASSES, Aged, age
from arrears.core.ledger.account import Account
from arrears.core.ledger.replay import replay
from arrears.core.money import fmt
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services.accounts import NotFound, load_accounts, load_events, load_loan
from arrears.services.moratoria import loan_pauses
from arrears.store import tables


@dataclass(frozen=True, slots=True)
class LoanView:
    aged: Aged
    account: Account
    currency: str


def loan_view(conn: Connection, loan_id: str, as_of: date | None = None) -> Result[LoanView]:
    """The stored account, or, with ``as_of``, a replay of the events dated up to that day."""
    try:
        rec = load_loan(conn, loan_id)
    except NotFound as exc:
        return fail(not_found(f"loan {loan_id}", str(exc), field="loan_id"))
    if as_of is None:
        acct = load_accounts(conn, [loan_id])[loan_id][1]
    else:
        if as_of < rec.terms.disbursed_on:
            return fail(
                Problem(
                    f"loan {loan_id}",
                    "as_of",
                    f"{as_of} is before disbursement {rec.terms.disbursed_on}",
                )
            )
        pauses = loan_pauses(conn, [loan_id]).get(loan_id, ())
        replayed, refused = replay(
            rec.terms, rec.product, load_events(conn, loan_id), as_of, pauses=pauses
        )
        if replayed is None:  # pragma: no cover - stored events replayed before
            return None, refused
        acct = replayed.account
    return ok(LoanView(age(acct, rec.product), acct, rec.currency))


def loan_json(view: LoanView) -> dict[str, Any]:
    a, cur = view.aged, view.currency

    def amounts(x: Any) -> dict[str, str]:
        return {
            "principal": fmt(x.principal, cur),
            "interest": fmt(x.interest, cur),
            "penalty": fmt(x.penalty, cur),
            "total": fmt(x.total, cur),
        }

    return {
        "loan_id": a.loan_id,
        "as_of": a.as_of.isoformat(),
        "currency": cur,
        "status": a.status,
        "dpd": a.dpd,
        "bucket": a.bucket,
        "classification": a.classification,
        "consecutive_overdue": a.consecutive_overdue,
        "overdue": amounts(a.overdue),
        "outstanding": amounts(a.outstanding),
        "next_due": None
        if a.next_due is None
        else {"date": a.next_due.due_date.isoformat(), "amount": fmt(a.next_due.amount, cur)},
        "installments": [
            {
                "n": i.n,
                "due_date": i.due_date.isoformat(),
                "principal": fmt(i.principal, cur),
                "interest": fmt(i.interest, cur),
                "paid_principal": fmt(i.paid_principal, cur),
                "paid_interest": fmt(i.paid_interest, cur),
                "state": "paid"
                if i.unpaid == 0
                else (
                    "overdue"
                    if i.due_date < a.as_of
                    else ("due" if i.due_date == a.as_of else "scheduled")
                ),
            }
            for i in view.account.installments
        ],
    }


def portfolio_summary(conn: Connection) -> dict[str, Any]:
    """Counts and amounts by bucket and by classification, over loans still open."""
    s = tables.loan_state
    open_loans = s.c.status == "active"
    overdue, outstanding = tables.overdue_total(), tables.outstanding_total()

    def group(col: Any, order: tuple[str, ...]) -> list[dict[str, Any]]:
        rows = {
            r[0]: r
            for r in conn.execute(
                select(col, func.count(), func.sum(outstanding), func.sum(overdue))
                .where(open_loans)
                .group_by(col)
            )
        }
        return [
            {
                "name": name,
                "loans": int(rows[name][1]) if name in rows else 0,
                "outstanding": fmt(int(rows[name][2] or 0)) if name in rows else "0.00",
                "overdue": fmt(int(rows[name][3] or 0)) if name in rows else "0.00",
            }
            for name in order
        ]

    totals = conn.execute(
        select(func.count(), func.sum(outstanding), func.sum(overdue), func.max(s.c.as_of)).where(
            open_loans
        )
    ).one()
    by_status = {
        k: v for k, v in conn.execute(select(s.c.status, func.count()).group_by(s.c.status))
    }
    return {
        "as_of": totals[3].isoformat() if totals[3] else None,
        "loans": {k: int(v) for k, v in sorted(by_status.items())},
        "active": int(totals[0]),
        "outstanding": fmt(int(totals[1] or 0)),
        "overdue": fmt(int(totals[2] or 0)),
        "by_bucket": group(s.c.bucket, BUCKETS),
        "by_classification": group(s.c.classification, CLASSES),
    }
