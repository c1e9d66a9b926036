"""Collectors and their training records in the database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update

from arrears.core.people.collectors import (
    Collector,
    Training,
    validate_collector,
    validate_training,
)
from arrears.core.problem import Result, fail, not_found, ok
from arrears.services.collection.common import Problem, for_update, to_utc
from arrears.store.case_tables import collector_training, collectors
from arrears.store.people_tables import agencies

C = collectors
CT = collector_training
AG = agencies


def add_collector(conn: Connection, c: Collector) -> Result[bool]:
    """Register a collector; True if added, False if the same record was already there."""
    problems = validate_collector(c)
    if problems:
        return fail(*problems)
    record = f"collector {c.collector_id}"
    row = conn.execute(select(C).where(C.c.collector_id == c.collector_id)).first()
    if row is not None:
        same = (row.name, row.agency, bool(row.registered), row.credential_no) == (
            c.name,
            c.agency,
            c.registered,
            c.credential_no,
        )
        return (
            ok(False)
            if same
            else fail(Problem(record, "collector_id", "exists with other details"))
        )
    clash = conn.execute(select(C.c.collector_id).where(C.c.credential_no == c.credential_no))
    other = clash.scalar()
    if other is not None:
        return fail(Problem(record, "credential_no", f"already belongs to {other}", "conflict"))
    _register_agency(conn, c.agency)
    conn.execute(
        insert(C).values(
            collector_id=c.collector_id,
            name=c.name,
            agency=c.agency,
            registered=c.registered,
            credential_no=c.credential_no,
        )
    )
    return ok(True)


def add_training(conn: Connection, tr: Training, today: date | None = None) -> Result[bool]:
    """Record a training; True if added, False if already on record."""
    problems = validate_training(tr, today or datetime.now(UTC).date())
    if problems:
        return fail(*problems)
    if (
        conn.execute(select(C.c.collector_id).where(C.c.collector_id == tr.collector_id)).first()
        is None
    ):
        return fail(not_found(f"training {tr.collector_id}", "no such collector", "collector_id"))
    exists = conn.execute(
        select(CT.c.collector_id).where(
            CT.c.collector_id == tr.collector_id,
            CT.c.trained_on == tr.trained_on,
            CT.c.course == tr.course,
        )
    ).first()
    if exists is not None:
        return ok(False)
    conn.execute(
        insert(CT).values(collector_id=tr.collector_id, trained_on=tr.trained_on, course=tr.course)
    )
    return ok(True)


def list_collectors(conn: Connection) -> list[dict[str, Any]]:
    last = (
        select(CT.c.collector_id, func.max(CT.c.trained_on).label("trained_on"))
        .group_by(CT.c.collector_id)
        .subquery()
    )
    q = (
        select(C, last.c.trained_on)
        .select_from(C.outerjoin(last, last.c.collector_id == C.c.collector_id))
        .order_by(C.c.collector_id)
    )
    return [
        {
            "collector_id": r.collector_id,
            "name": r.name,
            "agency": r.agency,
            "registered": bool(r.registered),
            "credential_no": r.credential_no,
            "status": r.status,
            "last_trained_on": r.trained_on,
        }
        for r in conn.execute(q)
    ]


# ---------------------------------------------------------------------------------------------
# The registry borrowers verify against: generated ids, agencies, deactivation.

_GENERATED = re.compile(r"^C(\d{6,})$")


def _next_id(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        # Two registrations at once must not both take the same next number.
        conn.execute(text("LOCK TABLE collectors IN SHARE ROW EXCLUSIVE MODE"))
    numbers = [
        int(m.group(1))
        for (cid,) in conn.execute(select(C.c.collector_id).where(C.c.collector_id.like("C%")))
        if (m := _GENERATED.match(cid))
    ]
    return f"C{max(numbers, default=0) + 1:06d}"


def _register_agency(conn: Connection, agency: str | None) -> None:
    if (
        agency is not None
        and conn.execute(select(AG.c.name).where(AG.c.name == agency)).first() is None
    ):
        conn.execute(insert(AG).values(name=agency, status="active"))


def register_collector(
    conn: Connection, name: str, employee_no: str, agency: str | None
) -> Result[str]:
    """Register a new collector under the next free id (``C000001``, ...); their agency is
    registered with them. Refused: bad fields, an employee number already on record."""
    problems = validate_collector(Collector("C000000", name, employee_no, agency=agency))
    if problems:
        return fail(*(Problem(f"collector {name!r}", p.field, p.reason) for p in problems))
    collector_id = _next_id(conn)
    _, refused = add_collector(conn, Collector(collector_id, name, employee_no, agency=agency))
    return (None, refused) if refused else ok(collector_id)


def deactivate_collector(conn: Connection, collector_id: str, at: datetime) -> Result[bool]:
    """Withdraw a collector: no longer registered (the gate lets them visit no one) and their
    codes and credentials stop verifying. False if they were deactivated already."""
    row = conn.execute(for_update(conn, select(C).where(C.c.collector_id == collector_id))).first()
    if row is None:
        return fail(not_found(f"collector {collector_id}", "no such collector", "collector_id"))
    if row.status == "deactivated":
        return ok(False)
    conn.execute(
        update(C)
        .where(C.c.collector_id == collector_id)
        .values(status="deactivated", registered=False, deactivated_at=to_utc(at))
    )
    return ok(True)


def deactivate_agency(conn: Connection, agency: str) -> Result[bool]:
    """An agency whose contract ended: its collectors' codes and credentials stop verifying."""
    row = conn.execute(select(AG.c.status).where(AG.c.name == agency)).first()
    if row is None:
        return fail(not_found(f"agency {agency!r}", "no such agency", "agency"))
    if row.status == "deactivated":
        return ok(False)
    conn.execute(update(AG).where(AG.c.name == agency).values(status="deactivated"))
    return ok(True)
