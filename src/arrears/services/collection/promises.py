"""Promises to pay in the database: the close's check and the read-outs.

Payments are the loan's ``payment`` events (``loan_events``) that were not reversed, by their
effective date. Each status change appends a ``promise`` evidence record. The report is
computed from the table, so rerunning the check for the same date reports the same figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from arrears.core.contact.promises import PaymentMade, Promise, PromiseStatus, check_promise
from arrears.core.evidence.chain import Entry, Kind
from arrears.services import evidence as log
from arrears.services.collection.common import chunks
from arrears.store import tables
from arrears.store.case_tables import promises

P = promises
_WRITE_BATCH = 10_000  # rows per bulk statement


@dataclass(frozen=True, slots=True)
class PromiseReport:
    due: int  # promises whose date is the business date
    kept: int  # promises found kept on the business date
    partly_kept: int
    broken: int

    def as_dict(self) -> dict[str, int]:
        return {
            "due": self.due,
            "kept": self.kept,
            "partly_kept": self.partly_kept,
            "broken": self.broken,
        }


def payments_by_loan(
    conn: Connection, loan_ids: list[str], since: date, through: date
) -> dict[str, list[PaymentMade]]:
    ev = tables.loan_events
    out: dict[str, list[PaymentMade]] = defaultdict(list)
    for batch in chunks(loan_ids):
        reversed_refs = set(
            conn.execute(
                select(ev.c.reverses).where(ev.c.loan_id.in_(batch), ev.c.kind == "reversal")
            ).scalars()
        )
        q = select(ev.c.loan_id, ev.c.ref, ev.c.effective_on, ev.c.amount).where(
            ev.c.loan_id.in_(batch),
            ev.c.kind == "payment",
            ev.c.effective_on >= since,
            ev.c.effective_on <= through,
        )
        for loan_id, ref, on, amount in conn.execute(q):
            if ref not in reversed_refs:
                out[loan_id].append(PaymentMade(on, int(amount)))
    return out


def _end_of_day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC)


def check_promises(conn: Connection, business_date: date) -> PromiseReport:
    """Evaluate every open promise at the end of ``business_date``; record the changes.

    One read of the open promises and their loans' payments; the changes go back as two
    statements run for many parameter sets (status decided; only the paid amount moved).
    """
    rows = list(conn.execute(select(P).where(P.c.status == "open")))
    if rows:
        since = min(r.promised_on for r in rows)
        paid = payments_by_loan(conn, sorted({r.loan_id for r in rows}), since, business_date)
        entries: list[Entry] = []
        decided: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        for r in rows:
            promise = Promise(r.loan_id, r.promised_on, int(r.amount), r.due_on)
            result = check_promise(promise, paid.get(r.loan_id, []), business_date)
            if result.status is not PromiseStatus.OPEN:
                decided.append(
                    {
                        "pid": r.promise_id,
                        "new_paid": result.paid,
                        "new_status": result.status.value,
                    }
                )
                entries.append(
                    Entry(
                        r.borrower_id,
                        Kind.PROMISE,
                        {
                            "event": result.status.value,
                            "promise_key": r.key,
                            "loan_id": r.loan_id,
                            "amount": int(r.amount),
                            "due_on": r.due_on.isoformat(),
                            "paid": result.paid,
                            "checked_on": business_date.isoformat(),
                        },
                        _end_of_day(business_date),
                    )
                )
            elif result.paid != int(r.paid):
                moved.append({"pid": r.promise_id, "new_paid": result.paid})
        by_id = P.c.promise_id == bindparam("pid")
        for batch in chunks(decided, _WRITE_BATCH):
            conn.execute(
                update(P)
                .where(by_id)
                .values(
                    paid=bindparam("new_paid"),
                    status=bindparam("new_status"),
                    checked_on=business_date,
                ),
                batch,
            )
        for batch in chunks(moved, _WRITE_BATCH):
            conn.execute(update(P).where(by_id).values(paid=bindparam("new_paid")), batch)
        log.append_many(conn, entries)
    return promise_report(conn, business_date)


def promise_report(conn: Connection, business_date: date) -> PromiseReport:
    due = conn.execute(
        select(func.count()).select_from(P).where(P.c.due_on == business_date)
    ).scalar_one()
    grouped = (
        select(P.c.status, func.count()).where(P.c.checked_on == business_date).group_by(P.c.status)
    )
    counts = {str(s): int(n) for s, n in conn.execute(grouped)}
    return PromiseReport(
        int(due),
        int(counts.get("kept", 0)),
        int(counts.get("partly_kept", 0)),
        int(counts.get("broken", 0)),
    )


def list_promises(
    conn: Connection, borrower_id: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    q = select(P).order_by(P.c.due_on, P.c.promise_id)
    if borrower_id is not None:
        q = q.where(P.c.borrower_id == borrower_id)
    if status is not None:
        q = q.where(P.c.status == status)
    return [
        {
            "promise_id": r.promise_id,
            "key": r.key,
            "borrower_id": r.borrower_id,
            "loan_id": r.loan_id,
            "promised_on": r.promised_on,
            "amount": int(r.amount),
            "due_on": r.due_on,
            "status": r.status,
            "checked_on": r.checked_on,
            "paid": int(r.paid),
        }
        for r in conn.execute(q)
    ]
