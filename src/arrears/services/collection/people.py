"""Collectors and their training records in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from arrears.core.people.collectors import (
    Collector,
    Training,
    validate_collector,
    validate_training,
)
from arrears.services.collection.common import Problem
from arrears.store.case_tables import collector_training, collectors

C = collectors
CT = collector_training


def add_collector(conn: Connection, c: Collector) -> bool | Problem:
    """Register a collector; True if added, False if the same record was already there."""
    problems = validate_collector(c)
    if problems:
        p = problems[0]
        return Problem(p.record, p.field, p.reason)
    record = f"collector {c.collector_id}"
    row = conn.execute(select(C).where(C.c.collector_id == c.collector_id)).first()
    if row is not None:
        same = (row.name, row.agency, bool(row.registered), row.credential_no) == (
            c.name,
            c.agency,
            c.registered,
            c.credential_no,
        )
        return False if same else Problem(record, "collector_id", "exists with other details")
    clash = conn.execute(select(C.c.collector_id).where(C.c.credential_no == c.credential_no))
    other = clash.scalar()
    if other is not None:
        return Problem(record, "credential_no", f"already belongs to {other}")
    conn.execute(
        insert(C).values(
            collector_id=c.collector_id,
            name=c.name,
            agency=c.agency,
            registered=c.registered,
            credential_no=c.credential_no,
        )
    )
    return True


def add_training(conn: Connection, tr: Training, today: date | None = None) -> bool | Problem:
    """Record a training; True if added, False if already on record."""
    problems = validate_training(tr, today or datetime.now(UTC).date())
    if problems:
        p = problems[0]
        return Problem(p.record, p.field, p.reason)
    if (
        conn.execute(select(C.c.collector_id).where(C.c.collector_id == tr.collector_id)).first()
        is None
    ):
        return Problem(f"training {tr.collector_id}", "collector_id", "no such collector")
    exists = conn.execute(
        select(CT.c.collector_id).where(
            CT.c.collector_id == tr.collector_id,
            CT.c.trained_on == tr.trained_on,
            CT.c.course == tr.course,
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(CT).values(collector_id=tr.collector_id, trained_on=tr.trained_on, course=tr.course)
    )
    return True


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
            "last_trained_on": r.trained_on,
        }
        for r in conn.execute(q)
    ]
