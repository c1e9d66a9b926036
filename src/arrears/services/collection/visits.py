"""Field visits in the database: request, approve, assign, notify, report.

The flow is one-way: ``requested`` -> ``approved`` (by someone other than the requester) ->
``assigned`` (two or more registered, trained collectors and a window the gate allows) ->
``noticed`` (the borrower told who is coming and when, before the window) -> ``reported``.
Assignment runs the whole visit through the compliance gate except the notice rule (the notice
says who is coming, so it follows the assignment); recording the notice runs it again with the
notice. Each step appends a ``visit`` evidence record. Replaying a step with the same values
changes nothing; anything else out of order is refused with the visit, field and reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from arrears.core.compliance.model import Contact
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.visits import VisitPlan, VisitRefusal, validate_visit
from arrears.core.evidence.chain import Entry, Kind, sha256_hex
from arrears.core.problem import Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.collection.common import (
    Problem,
    chunks,
    for_update,
    from_db,
    join_ids,
    maybe_from_db,
    split_ids,
    to_utc,
)
from arrears.services.collection.gate_context import context_for, zones
from arrears.services.collection.history import Attempt, history_for, record_attempts
from arrears.store import tables
from arrears.store.case_tables import cases, visits
from arrears.store.membership import batches, one_of
from arrears.store.profile_tables import borrower_profiles

V = visits


@dataclass(frozen=True, slots=True)
class Visit:
    visit_id: int
    key: str
    borrower_id: str
    loan_id: str
    status: str
    requested_by: str
    requested_at: datetime
    reason: str
    approved_by: str | None
    approved_at: datetime | None
    collectors: tuple[str, ...]
    window_start: datetime | None
    window_end: datetime | None
    address: str | None
    notice_sent_at: datetime | None
    reported_at: datetime | None
    report: str | None
    outcome: str | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


def _visit(r: Any) -> Visit:
    return Visit(
        r.visit_id,
        r.key,
        r.borrower_id,
        r.loan_id,
        r.status,
        r.requested_by,
        from_db(r.requested_at),
        r.reason,
        r.approved_by,
        maybe_from_db(r.approved_at),
        split_ids(r.collectors),
        maybe_from_db(r.window_start),
        maybe_from_db(r.window_end),
        r.address,
        maybe_from_db(r.notice_sent_at),
        maybe_from_db(r.reported_at),
        r.report,
        r.outcome,
    )


def get_visit(conn: Connection, visit_id: int, lock: bool = False) -> Visit | None:
    q = select(V).where(V.c.visit_id == visit_id)
    row = conn.execute(for_update(conn, q) if lock else q).first()
    return None if row is None else _visit(row)


def list_visits(conn: Connection, borrower_id: str | None = None) -> list[Visit]:
    q = select(V).order_by(V.c.visit_id)
    if borrower_id is not None:
        q = q.where(V.c.borrower_id == borrower_id)
    return [_visit(r) for r in conn.execute(q)]


def _evidence_entry(v: Visit, event: str, at: datetime, **extra: Any) -> Entry:
    payload: dict[str, Any] = {"event": event, "visit_key": v.key, "loan_id": v.loan_id}
    payload.update({k: x for k, x in extra.items() if x is not None})
    return Entry(v.borrower_id, Kind.VISIT, payload, at)


def _evidence(conn: Connection, v: Visit, event: str, at: datetime, **extra: Any) -> None:
    log.append_many(conn, [_evidence_entry(v, event, at, **extra)])


@dataclass(frozen=True, slots=True)
class VisitRequest:
    key: str
    loan_id: str
    by: str
    at: datetime
    reason: str = ""


def request_visit(
    conn: Connection,
    key: str,
    loan_id: str,
    by: str,
    at: datetime,
    reason: str = "",
) -> Result[Visit]:
    [out] = request_visits(conn, [VisitRequest(key, loan_id, by, at, reason)])
    return out


# Until its report a visit is live: a borrower has one at a time, so two pairs of collectors
# never call at one door for the same debt, and a supervisor never approves the same trip twice.
LIVE_VISIT = ("requested", "approved", "assigned", "noticed")


def live_visits(conn: Connection, borrower_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(visit id, status) of the live visit of each of ``borrower_ids`` that has one."""
    found: dict[str, tuple[int, str]] = {}
    for batch in batches(conn, list(borrower_ids)):
        q = select(V.c.borrower_id, V.c.visit_id, V.c.status).where(
            one_of(conn, V.c.borrower_id, batch), V.c.status.in_(LIVE_VISIT)
        )
        found.update((b, (visit_id, status)) for b, visit_id, status in conn.execute(q))
    return found


def _second_visit(r: VisitRequest, live: tuple[int, str] | None) -> Problem:
    which = (
        "another visit for the borrower is asked for in this batch"
        if live is None
        else f"visit {live[0]} is still {live[1]}"
    )
    return Problem(
        f"visit {r.key}",
        "loan_id",
        f"{which}; a borrower has one visit at a time, until it is reported",
        "conflict",
    )


def _request_problem(r: VisitRequest) -> Problem | None:
    record = f"visit {r.key}"
    if not r.key.strip() or len(r.key) > 200:
        return Problem(record, "key", "must be 1-200 characters")
    if not r.by.strip():
        return Problem(record, "requested_by", "must not be empty")
    if r.at.utcoffset() is None:
        return Problem(record, "at", "must carry a time-zone offset")
    return None


def request_visits(conn: Connection, requests: Sequence[VisitRequest]) -> list[Result[Visit]]:
    """Request visits in bulk (the close asks for many at once); one result per request.

    A key already on record returns that visit when it was the same request (a rerun) and a
    problem when it was another; keys are unique within ``requests`` too. Each new request
    appends a ``visit`` evidence record.
    """
    keys = [r.key for r in requests]
    if len(set(keys)) != len(keys):
        raise ValueError("request_visits: duplicate keys in one batch")
    existing: dict[str, Visit] = {}
    for batch in batches(conn, keys):
        existing.update(
            (row.key, _visit(row))
            for row in conn.execute(select(V).where(one_of(conn, V.c.key, batch)))
        )
    owners: dict[str, str] = {}
    for batch in batches(conn, sorted({r.loan_id for r in requests})):
        owners.update(
            conn.execute(
                select(tables.loans.c.loan_id, tables.loans.c.borrower_id).where(
                    one_of(conn, tables.loans.c.loan_id, batch)
                )
            ).all()
        )
    live: dict[str, tuple[int, str] | None] = dict(live_visits(conn, sorted(set(owners.values()))))
    out: list[Result[Visit] | None] = []
    new: list[VisitRequest] = []
    for r in requests:
        problem = _request_problem(r)
        if problem is None and r.key in existing:
            v = existing[r.key]
            if (v.loan_id, v.requested_by) == (r.loan_id, r.by):
                out.append(ok(v))
            else:
                out.append(
                    fail(Problem(f"visit {r.key}", "key", "already used for another request"))
                )
            continue
        if problem is None and r.loan_id not in owners:
            problem = not_found(f"visit {r.key}", f"no such loan {r.loan_id}", "loan_id")
        if problem is None and owners[r.loan_id] in live:
            problem = _second_visit(r, live[owners[r.loan_id]])
        out.append(None if problem is None else fail(problem))
        if problem is None:
            new.append(r)
            live[owners[r.loan_id]] = None
    if not new:
        return [res for res in out if res is not None]
    rows: list[dict[str, Any]] = [
        {
            "key": r.key,
            "borrower_id": owners[r.loan_id],
            "loan_id": r.loan_id,
            "status": "requested",
            "requested_by": r.by,
            "requested_at": to_utc(r.at),
            "reason": r.reason,
        }
        for r in new
    ]
    for row_batch in chunks(rows, 2000):
        conn.execute(insert(V), row_batch)
    made: dict[str, Visit] = {}
    for key_batch in batches(conn, [r.key for r in new]):
        q = select(V).where(one_of(conn, V.c.key, key_batch))
        made.update((row.key, _visit(row)) for row in conn.execute(q))
    log.append_many(
        conn,
        (
            _evidence_entry(
                made[r.key],
                "requested",
                r.at,
                requested_by=r.by,
                reason_sha256=sha256_hex(r.reason) if r.reason else None,
            )
            for r in new
        ),
    )
    fresh = iter(new)
    return [res if res is not None else ok(made[next(fresh).key]) for res in out]


def _load(conn: Connection, visit_id: int) -> Result[Visit]:
    v = get_visit(conn, visit_id, lock=True)
    return fail(not_found(f"visit {visit_id}", "no such visit", "visit_id")) if v is None else ok(v)


def approve_visit(conn: Connection, visit_id: int, by: str, at: datetime) -> Result[Visit]:
    """Approve a requested visit; the approver must not be the requester (four eyes)."""
    v, missing = _load(conn, visit_id)
    if v is None:
        return None, missing
    record = f"visit {visit_id}"
    if at.utcoffset() is None:
        return fail(Problem(record, "at", "must carry a time-zone offset"))
    if v.status != "requested":
        if v.approved_by == by:
            return ok(v)
        return fail(
            Problem(
                record, "status", f"is {v.status}; only a requested visit is approved", "conflict"
            )
        )
    if not by.strip():
        return fail(Problem(record, "approved_by", "must not be empty"))
    if by == v.requested_by:
        return fail(
            Problem(record, "approved_by", "the requester cannot approve their own request")
        )
    conn.execute(
        update(V)
        .where(V.c.visit_id == visit_id)
        .values(status="approved", approved_by=by, approved_at=to_utc(at))
    )
    conn.execute(
        update(cases)
        .where(cases.c.borrower_id == v.borrower_id, cases.c.closed_on.is_(None))
        .values(visit_approved_by=by, visit_approved_at=to_utc(at))
    )
    _evidence(conn, v, "approved", at, approved_by=by)
    return ok(replace(v, status="approved", approved_by=by, approved_at=at))


def _problems(
    conn: Connection, v: Visit, plan: VisitPlan, at: datetime, notice: bool
) -> list[VisitRefusal]:
    pack_name = conn.execute(
        select(borrower_profiles.c.rule_pack).where(
            borrower_profiles.c.borrower_id == v.borrower_id
        )
    ).scalar()
    context = context_for(conn, [v.borrower_id], at)[v.borrower_id]
    context = replace(
        context,
        visit_approved=v.approved_by is not None,
        visit_notice_at=v.notice_sent_at,
    )
    history = history_for(conn, [v.borrower_id], planned_after=at)[v.borrower_id]
    pack = get_pack(pack_name or "cn")
    if pack is None:
        return [VisitRefusal("visit.pack", f"unknown rule pack {pack_name!r} in the profile")]
    return validate_visit(plan, context, pack, history, require_notice=notice)


def _refused(visit_id: int, problems: list[VisitRefusal]) -> Problem:
    return Problem(f"visit {visit_id}", "assignment", "; ".join(map(str, problems)))


def assign_visit(
    conn: Connection,
    visit_id: int,
    collector_ids: tuple[str, ...],
    window_start: datetime,
    window_end: datetime,
    at: datetime,
    address: str | None = None,
) -> Result[Visit]:
    """Assign collectors and a window, checked by the compliance gate (all but the notice)."""
    v, missing = _load(conn, visit_id)
    if v is None:
        return None, missing
    record = f"visit {visit_id}"
    for name, value in (("window_start", window_start), ("window_end", window_end), ("at", at)):
        if value.utcoffset() is None:
            return fail(Problem(record, name, "must carry a time-zone offset"))
    if v.status == "assigned" and (v.collectors, v.window_start, v.window_end) == (
        tuple(collector_ids),
        window_start,
        window_end,
    ):
        return ok(v)
    if v.status not in ("approved", "assigned"):
        return fail(
            Problem(
                record, "status", f"is {v.status}; only an approved visit is assigned", "conflict"
            )
        )
    if window_start <= at:
        return fail(Problem(record, "window_start", "must be after the assignment"))
    if address is None:
        address = conn.execute(
            select(borrower_profiles.c.address).where(
                borrower_profiles.c.borrower_id == v.borrower_id
            )
        ).scalar()
    plan = VisitPlan(
        v.borrower_id, v.loan_id, tuple(collector_ids), window_start, window_end, address or ""
    )
    problems = _problems(conn, v, plan, window_start, notice=False)
    if problems:
        return fail(_refused(visit_id, problems))
    conn.execute(
        update(V)
        .where(V.c.visit_id == visit_id)
        .values(
            status="assigned",
            collectors=join_ids(plan.collectors),
            window_start=to_utc(window_start),
            window_end=to_utc(window_end),
            address=address,
            notice_sent_at=None,
        )
    )
    _evidence(
        conn,
        v,
        "assigned",
        at,
        collectors=list(plan.collectors),
        window_start=window_start.isoformat(),
        window_end=window_end.isoformat(),
    )
    return ok(
        replace(
            v,
            status="assigned",
            collectors=plan.collectors,
            window_start=window_start,
            window_end=window_end,
            address=address,
            notice_sent_at=None,
        )
    )


def record_visit_notice(conn: Connection, visit_id: int, sent_at: datetime) -> Result[Visit]:
    """The borrower was told who is coming and when; it must be before the window."""
    v, missing = _load(conn, visit_id)
    if v is None:
        return None, missing
    record = f"visit {visit_id}"
    if sent_at.utcoffset() is None:
        return fail(Problem(record, "sent_at", "must carry a time-zone offset"))
    if v.status == "noticed" and v.notice_sent_at == sent_at:
        return ok(v)
    if v.status != "assigned":
        return fail(
            Problem(
                record, "status", f"is {v.status}; the notice follows the assignment", "conflict"
            )
        )
    assert v.window_start is not None and v.window_end is not None
    noticed = replace(v, notice_sent_at=sent_at)
    plan = VisitPlan(
        v.borrower_id, v.loan_id, v.collectors, v.window_start, v.window_end, v.address or ""
    )
    problems = _problems(conn, noticed, plan, v.window_start, notice=True)
    if problems:
        return fail(_refused(visit_id, problems))
    conn.execute(
        update(V)
        .where(V.c.visit_id == visit_id)
        .values(status="noticed", notice_sent_at=to_utc(sent_at))
    )
    _evidence(
        conn,
        v,
        "notice_sent",
        sent_at,
        collectors=list(v.collectors),
        window_start=v.window_start.isoformat(),
        window_end=v.window_end.isoformat(),
    )
    return ok(replace(noticed, status="noticed"))


VISIT_OUTCOMES = ("met", "not_home", "refused_entry", "promise_to_pay", "paid", "other")
CONVERSATION_OUTCOMES = frozenset({"met", "refused_entry", "promise_to_pay", "paid"})


def report_visit(
    conn: Connection, visit_id: int, at: datetime, report: str, outcome: str
) -> Result[Visit]:
    """The collectors' report after the visit (made within its noticed window)."""
    v, missing = _load(conn, visit_id)
    if v is None:
        return None, missing
    record = f"visit {visit_id}"
    if at.utcoffset() is None:
        return fail(Problem(record, "at", "must carry a time-zone offset"))
    if outcome not in VISIT_OUTCOMES:
        return fail(Problem(record, "outcome", f"must be one of {', '.join(VISIT_OUTCOMES)}"))
    if not report.strip():
        return fail(Problem(record, "report", "must not be empty"))
    if v.status == "reported":
        if (v.report, v.outcome) == (report, outcome):
            return ok(v)
        return fail(Problem(record, "status", "already reported", "conflict"))
    if v.status != "noticed":
        return fail(
            Problem(
                record, "status", f"is {v.status}; only a noticed visit is reported", "conflict"
            )
        )
    assert v.window_start is not None
    if at < v.window_start:
        return fail(
            Problem(record, "at", f"is before the visit window ({v.window_start.isoformat()})")
        )
    conn.execute(
        update(V)
        .where(V.c.visit_id == visit_id)
        .values(status="reported", reported_at=to_utc(at), report=report, outcome=outcome)
    )
    # The visit is a contact the gate counts from now on (history and evidence alike).
    visited = Contact(
        at=v.window_start,
        debt_id=v.loan_id,
        channel="visit",
        party="debtor",
        number=v.address or "",
        connected=True,
        conversation=outcome in CONVERSATION_OUTCOMES,
        outcome=outcome,
        collectors=v.collectors,
    )
    zone_names = conn.execute(
        select(borrower_profiles.c.timezones).where(
            borrower_profiles.c.borrower_id == v.borrower_id
        )
    ).scalar()
    local_day = v.window_start.astimezone(zones(zone_names or "")[0]).date()
    record_attempts(
        conn, [Attempt(f"visit/{v.key}", v.borrower_id, visited, local_day, step="visit")]
    )
    _evidence(
        conn,
        v,
        "reported",
        at,
        collectors=list(v.collectors),
        report_sha256=sha256_hex(report),  # a report names people; the chain outlives erasure
        outcome=outcome,
    )
    return ok(replace(v, status="reported", reported_at=at, report=report, outcome=outcome))
