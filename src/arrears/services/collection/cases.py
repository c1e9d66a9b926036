"""Cases in the database: one open case per overdue borrower, opened, re-prioritised and closed.

* ``sync_cases``: the close's pass over the book (``open_or_update_cases``, then the cured close).
* ``set_case_flag``: hardship, dispute or a plan in force on the open case.

The contact history is ``history``, the gate's context ``gate_context``, and the facts the
policy decides on ``case_frames``. Every write appends the matching evidence record in the
caller's transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    Select,
    and_,
    func,
    insert,
    select,
    text,
    update,
)

from arrears.core.contact.cases import (
    CaseInput,
    OpenCase,
    case_changes,
)
from arrears.core.evidence.chain import Entry
from arrears.services import evidence as log
from arrears.services.collection.case_frames import read_frame
from arrears.services.collection.common import (
    chunks,
)
from arrears.store import tables
from arrears.store.case_tables import (
    cases,
)

_WRITE_BATCH = 10_000  # rows per bulk statement: bounded memory, few round trips


def _open_cases(conn: Connection, borrower_ids: Iterable[str] | None = None) -> dict[str, OpenCase]:
    query = select(cases.c.case_id, cases.c.borrower_id, cases.c.opened_on, cases.c.priority).where(
        cases.c.closed_on.is_(None)
    )
    out: dict[str, OpenCase] = {}
    groups = [None] if borrower_ids is None else list(chunks(sorted(set(borrower_ids))))
    for batch in groups:
        q = query if batch is None else query.where(cases.c.borrower_id.in_(batch))
        for r in conn.execute(q):
            out[r.borrower_id] = OpenCase(r.case_id, r.borrower_id, r.opened_on, r.priority)
    return out


@dataclass(frozen=True, slots=True)
class CasesSynced:
    opened: int
    reprioritised: int
    closed: int


def _insert_cases(
    conn: Connection, business_date: date, at: datetime, to_open: Sequence[CaseInput]
) -> None:
    """Open cases (bulk insert), one ``case.opened`` evidence record each, stamped ``at``."""
    if not to_open:
        return
    for batch in chunks(to_open, _WRITE_BATCH):
        conn.execute(
            insert(cases),
            [
                {"borrower_id": r.borrower_id, "opened_on": business_date, "priority": r.priority}
                for r in batch
            ],
        )
    log.append_many(
        conn,
        (
            Entry(
                r.borrower_id,
                "case.opened",
                {"opened_on": business_date.isoformat(), "priority": r.priority},
                at,
            )
            for r in to_open
        ),
    )


def _set_priorities(conn: Connection, case_ids: Sequence[int], priorities: Sequence[int]) -> None:
    """New priorities of open cases: every one moves each day its borrower's DPD grows.

    PostgreSQL: one statement over two arrays (``executemany`` would still run one UPDATE per
    row on the server). SQLite: the driver's own ``executemany``, a C loop in-process
    (through SQLAlchemy, preparing each parameter set cost ten times the update itself).
    """
    if not case_ids:
        return
    if conn.dialect.name == "postgresql":
        step = _WRITE_BATCH * 10
        for k in range(0, len(case_ids), step):
            conn.execute(
                text(
                    "UPDATE cases SET priority = m.p FROM unnest(CAST(:ids AS integer[]), "
                    "CAST(:ps AS integer[])) AS m(id, p) WHERE cases.case_id = m.id"
                ),
                {"ids": list(case_ids[k : k + step]), "ps": list(priorities[k : k + step])},
            )
        return
    if not conn.in_transaction():
        conn.begin()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            "UPDATE cases SET priority = ? WHERE case_id = ?",
            zip(priorities, case_ids, strict=True),
        )
    finally:
        cursor.close()


def _close(
    conn: Connection,
    business_date: date,
    at: datetime,
    closing: Sequence[tuple[int, str]],
    reason: str,
) -> None:
    """Close (case id, borrower) pairs for ``reason``, one ``case.closed`` record each."""
    for batch in chunks([c for c, _ in closing]):
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(batch))
            .values(closed_on=business_date, close_reason=reason)
        )
    log.append_many(
        conn,
        (
            Entry(
                b,
                "case.closed",
                {"closed_on": business_date.isoformat(), "reason": reason},
                at,
            )
            for _, b in closing
        ),
    )


def open_or_update_cases(
    conn: Connection, business_date: date, at: datetime, rows: Iterable[CaseInput]
) -> CasesSynced:
    """Open a case for each overdue borrower without one; update the others' priority."""
    wanted = list(rows)
    current = _open_cases(conn, [r.borrower_id for r in wanted])
    changes = case_changes(current, wanted)
    _insert_cases(conn, business_date, at, changes.to_open)
    moved = changes.to_reprioritise
    _set_priorities(conn, [c.case_id for c, _ in moved], [p for _, p in moved])
    return CasesSynced(len(changes.to_open), len(changes.to_reprioritise), 0)


def _overdue_by_borrower() -> Select[Any]:
    """Borrowers with an active loan past due, and their highest DPD."""
    loan_state, loans = tables.loan_state, tables.loans
    return (
        select(loans.c.borrower_id, func.max(loan_state.c.dpd))
        .select_from(loan_state.join(loans, loans.c.loan_id == loan_state.c.loan_id))
        .where(loan_state.c.status == "active", loan_state.c.dpd > 0)
        .group_by(loans.c.borrower_id)
    )


def overdue_borrowers(conn: Connection) -> set[str]:
    q = (
        select(tables.loans.c.borrower_id)
        .select_from(
            tables.loan_state.join(
                tables.loans, tables.loans.c.loan_id == tables.loan_state.c.loan_id
            )
        )
        .where(tables.loan_state.c.status == "active", tables.loan_state.c.dpd > 0)
        .distinct()
    )
    return set(conn.execute(q).scalars())


def sync_cases(conn: Connection, business_date: date, at: datetime) -> CasesSynced:
    """Open cases for every overdue borrower in ``loan_state``, close the cured ones.

    The evidence of each opening and closing is stamped ``at``, the instant of the close that
    found it: the close opens the business day, so the day's contacts come after it in the
    chain (the end of the business date, as once stamped, lay after them).

    Priority is the borrower's highest DPD (the policy may pass its own via
    ``open_or_update_cases``). Two reads (overdue borrowers, open cases) compared in Polars,
    then bulk writes: new cases and closed ones in borrower order, each with its evidence
    record; changed priorities in one statement run for many parameter sets.
    """
    s, i64 = pl.String(), pl.Int64()
    overdue = read_frame(conn, _overdue_by_borrower(), {"borrower_id": s, "priority": i64})
    current = read_frame(
        conn,
        select(cases.c.case_id, cases.c.borrower_id, cases.c.priority).where(
            cases.c.closed_on.is_(None)
        ),
        {"case_id": i64, "borrower_id": s, "current": i64},
    )
    to_open = overdue.join(current, on="borrower_id", how="anti").sort("borrower_id")
    moved = current.join(overdue, on="borrower_id", how="inner").filter(
        pl.col("priority") != pl.col("current")
    )
    closing = current.join(overdue, on="borrower_id", how="anti").sort("borrower_id")
    _insert_cases(conn, business_date, at, [CaseInput(b, p) for b, p in to_open.iter_rows()])
    _set_priorities(conn, moved["case_id"].to_list(), moved["priority"].to_list())
    closed = list(closing.select("case_id", "borrower_id").iter_rows())
    _close(conn, business_date, at, closed, "cured")
    return CasesSynced(to_open.height, moved.height, closing.height)


def set_case_flag(conn: Connection, borrower_id: str, flag: str, value: bool = True) -> bool:
    """Set ``hardship``, ``dispute`` or ``plan_in_force`` on the open case; False if none."""
    if flag not in ("hardship", "dispute", "plan_in_force"):
        raise ValueError(f"unknown case flag {flag}")
    res = conn.execute(
        update(cases)
        .where(and_(cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None)))
        .values({flag: value})
    )
    return bool(res.rowcount)
