"""The close's interest relief for moratoria: the interest that accrued on days in force, waived.

See :mod:`arrears.core.ledger.relief` for the rule and its rounding. Run by the business day
after the accrual has posted the day's interest: every installment of a loan under a
moratorium whose period ``[start, due_date)`` has days in force and whose due date has come
gets one waiver (ref ``relief:<loan>:<n>``, so a rerun or a catch-up close applies it once)
through the one event path (:func:`arrears.services.events.apply_to_loan`), and one
``moratorium.interest_relief`` record in the borrower's evidence chain.

The waiver forgives due interest oldest first, as every interest waiver does; the amount is
capped at the interest then due (a payment dated the due date may already have paid some).
Moratoria are rare, so this reads only their loans.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, or_, select

from arrears.core.evidence.chain import Entry
from arrears.core.ledger.relief import Relief, interest_relief
from arrears.core.loans.product import Component
from arrears.services import events
from arrears.services import evidence as log
from arrears.services.moratoria import loan_pauses
from arrears.store import tables
from arrears.store.hold_tables import moratoria, moratorium_loans
from arrears.store.membership import one_of

RELIEF = "moratorium.interest_relief"  # evidence kind


@dataclass(frozen=True, slots=True)
class ReliefApplied:
    relief: Relief
    borrower_id: str
    waived: int  # fen; less than relief.amount only when the interest due was less


def _candidates(conn: Connection, day: date) -> list[tuple[str, int, date, date, int]]:
    """(loan, n, start, due, interest) of installments due by ``day`` overlapping a moratorium."""
    i, m, ml, s = tables.installments, moratoria, moratorium_loans, tables.loan_state
    q = (
        select(i.c.loan_id, i.c.n, i.c.start, i.c.due_date, i.c.interest)
        .distinct()
        .join(ml, ml.c.loan_id == i.c.loan_id)
        .join(m, m.c.moratorium_id == ml.c.moratorium_id)
        .join(s, s.c.loan_id == i.c.loan_id)
        .where(
            s.c.status == "active",
            i.c.due_date <= day,
            i.c.due_date > m.c.starts_on,
            i.c.interest > 0,
            or_(m.c.ends_on.is_(None), i.c.start <= m.c.ends_on),
        )
        .order_by(i.c.loan_id, i.c.n)
    )
    return [(r.loan_id, r.n, r.start, r.due_date, r.interest) for r in conn.execute(q).all()]


def _done_refs(conn: Connection, refs: list[str]) -> set[str]:
    if not refs:
        return set()
    e = tables.loan_events
    return set(conn.execute(select(e.c.ref).where(one_of(conn, e.c.ref, refs))).scalars())


def _owners(conn: Connection, loan_ids: list[str]) -> dict[str, str]:
    loans = tables.loans
    q = select(loans.c.loan_id, loans.c.borrower_id).where(one_of(conn, loans.c.loan_id, loan_ids))
    return {str(k): str(v) for k, v in conn.execute(q).all()}


def _interest_due(conn: Connection, loan_id: str) -> int:
    s = tables.loan_state
    q = select(s.c.outstanding_interest).where(s.c.loan_id == loan_id)
    return int(conn.execute(q).scalar_one())


def relieve_interest(conn: Connection, day: date, now: datetime) -> list[ReliefApplied]:
    """Waive the moratorium interest of every installment due by ``day`` not yet relieved.

    Runs in the caller's transaction; a refusal from the ledger is a bug here (the amounts are
    bounded by what is due), so it raises rather than returning a problem.
    """
    candidates = _candidates(conn, day)
    refs = [f"relief:{loan_id}:{n}" for loan_id, n, *_ in candidates]
    done = _done_refs(conn, refs)
    todo = [c for c, ref in zip(candidates, refs, strict=True) if ref not in done]
    if not todo:
        return []
    loan_ids = sorted({c[0] for c in todo})
    pauses = loan_pauses(conn, loan_ids)
    owners = _owners(conn, loan_ids)
    by_loan: dict[str, list[Relief]] = defaultdict(list)
    for loan_id, n, start, due, interest in todo:
        relief = interest_relief(loan_id, n, start, due, interest, pauses.get(loan_id, ()))
        if relief is not None:
            by_loan[loan_id].append(relief)
    applied: list[ReliefApplied] = []
    for loan_id, reliefs in by_loan.items():
        for relief in reliefs:
            waived = min(relief.amount, _interest_due(conn, loan_id))
            if waived <= 0:
                continue
            want: dict[str, object] = {
                "kind": "waiver",
                "ref": relief.ref,
                "amount": waived,
                "component": Component.INTEREST.value,
                "effective_on": day,
            }
            _, refused = events.apply_to_loan(conn, loan_id, [want])
            assert not refused, f"interest relief refused: {refused[0]}"
            applied.append(ReliefApplied(relief, owners[loan_id], waived))
    log.append_many(conn, [_evidence(a, now) for a in applied])
    return applied


def _evidence(applied: ReliefApplied, now: datetime) -> Entry:
    r = applied.relief
    payload = {
        "loan_id": r.loan_id,
        "installment": r.n,
        "due_date": r.due_date.isoformat(),
        "days_in_force": r.days_in_force,
        "period_days": r.period_days,
        "relief": r.amount,
        "waived": applied.waived,
        "ref": r.ref,
    }
    return Entry(applied.borrower_id, RELIEF, payload, now)
