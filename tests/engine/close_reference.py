"""The per-borrower code the close ran before the set-based cases and choose phases.

Kept verbatim (names aside) as the reference that ``test_cases_setbased.py`` holds the new
path equal to: ``sync_cases`` (with its ``open_or_update_cases`` / ``close_cases``),
``check_promises``, ``record_delivered_notices``, ``case_views`` + ``frames`` (the policy's
input), and the bucket snapshot and per-loan report read. Not used by the product.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, insert, or_, select, update

from arrears.core.contact.cases import CaseInput, OpenCase, case_changes, cases_to_close
from arrears.core.contact.history import unreachable_days
from arrears.core.contact.promises import Promise, PromiseStatus, check_promise
from arrears.core.credit.notices import TEMPLATE as CREDIT_TEMPLATE
from arrears.core.evidence.chain import Entry, Kind
from arrears.core.strategy.case import CASE_SCHEMA, LAST_SENT_SCHEMA
from arrears.services import evidence as log
from arrears.services.collection.cases import CasesSynced
from arrears.services.collection.common import chunks
from arrears.services.collection.promises import PromiseReport, payments_by_loan, promise_report
from arrears.services.credit import record_notice
from arrears.store import tables as t
from arrears.store.case_tables import cases, contact_attempts, promises, visits
from arrears.store.credit_tables import credit_notices
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

A = contact_attempts
P = promises


# --- cases -----------------------------------------------------------------------------------


def _open_cases(conn: Connection, borrower_ids: Iterable[str] | None = None) -> dict[str, OpenCase]:
    query = select(cases.c.case_id, cases.c.borrower_id, cases.c.opened_on, cases.c.priority).where(
        cases.c.closed_on.is_(None)
    )
    out: dict[str, OpenCase] = {}
    batches = [None] if borrower_ids is None else list(chunks(sorted(set(borrower_ids))))
    for batch in batches:
        q = query if batch is None else query.where(cases.c.borrower_id.in_(batch))
        for r in conn.execute(q):
            out[r.borrower_id] = OpenCase(r.case_id, r.borrower_id, r.opened_on, r.priority)
    return out


def open_or_update_cases(
    conn: Connection, business_date: date, at: datetime, rows: Iterable[CaseInput]
) -> CasesSynced:
    """Open a case for each overdue borrower without one; update the others' priority."""
    wanted = list(rows)
    current = _open_cases(conn, [r.borrower_id for r in wanted])
    changes = case_changes(current, wanted)
    if changes.to_open:
        conn.execute(
            insert(cases),
            [
                {"borrower_id": r.borrower_id, "opened_on": business_date, "priority": r.priority}
                for r in changes.to_open
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
                for r in changes.to_open
            ),
        )
    for case, priority in changes.to_reprioritise:
        conn.execute(update(cases).where(cases.c.case_id == case.case_id).values(priority=priority))
    return CasesSynced(len(changes.to_open), len(changes.to_reprioritise), 0)


def close_cases(
    conn: Connection,
    business_date: date,
    at: datetime,
    still_overdue: Iterable[str] | None = None,
    *,
    borrower_ids: Iterable[str] | None = None,
    reason: str = "cured",
) -> int:
    """Close open cases of borrowers no longer overdue.

    With ``borrower_ids`` those borrowers' cases close for ``reason``; otherwise every open
    case whose borrower is not in ``still_overdue`` closes as ``cured``. ``still_overdue``
    defaults to the borrowers with an active loan overdue in ``loan_state``.
    """
    if borrower_ids is not None:
        closing = list(_open_cases(conn, borrower_ids).values())
    else:
        overdue = set(still_overdue) if still_overdue is not None else overdue_borrowers(conn)
        closing = cases_to_close(_open_cases(conn), overdue)
    for batch in chunks([c.case_id for c in closing]):
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(batch))
            .values(closed_on=business_date, close_reason=reason)
        )
    log.append_many(
        conn,
        (
            Entry(
                c.borrower_id,
                "case.closed",
                {"closed_on": business_date.isoformat(), "reason": reason},
                at,
            )
            for c in closing
        ),
    )
    return len(closing)


def overdue_borrowers(conn: Connection) -> set[str]:
    q = (
        select(t.loans.c.borrower_id)
        .select_from(t.loan_state.join(t.loans, t.loans.c.loan_id == t.loan_state.c.loan_id))
        .where(t.loan_state.c.status == "active", t.loan_state.c.dpd > 0)
        .distinct()
    )
    return set(conn.execute(q).scalars())


def sync_cases(conn: Connection, business_date: date, at: datetime) -> CasesSynced:
    """Open cases for every overdue borrower in ``loan_state``, close the cured ones.

    Priority is the borrower's highest DPD (the policy may pass its own via
    ``open_or_update_cases``)."""
    q = (
        select(t.loans.c.borrower_id, func.max(t.loan_state.c.dpd))
        .select_from(t.loan_state.join(t.loans, t.loans.c.loan_id == t.loan_state.c.loan_id))
        .where(t.loan_state.c.status == "active", t.loan_state.c.dpd > 0)
        .group_by(t.loans.c.borrower_id)
    )
    rows = [CaseInput(b, int(dpd)) for b, dpd in conn.execute(q)]
    synced = open_or_update_cases(conn, business_date, at, rows)
    closed = close_cases(conn, business_date, at, {r.borrower_id for r in rows})

    return CasesSynced(synced.opened, synced.reprioritised, closed)


# --- promises ------------------------------------------------------------------------------


def _end_of_day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC)


def check_promises(conn: Connection, business_date: date) -> PromiseReport:
    """Evaluate every open promise at the end of ``business_date``; record the changes."""
    rows = list(conn.execute(select(P).where(P.c.status == "open")))
    if rows:
        since = min(r.promised_on for r in rows)
        paid = payments_by_loan(conn, sorted({r.loan_id for r in rows}), since, business_date)
        entries: list[Entry] = []
        for r in rows:
            promise = Promise(r.loan_id, r.promised_on, int(r.amount), r.due_on)
            result = check_promise(promise, paid.get(r.loan_id, []), business_date)
            values: dict[str, Any] = {"paid": result.paid}
            if result.status is not PromiseStatus.OPEN:
                values.update(status=result.status.value, checked_on=business_date)
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
            if values != {"paid": int(r.paid)}:
                conn.execute(update(P).where(P.c.promise_id == r.promise_id).values(values))
        log.append_many(conn, entries)
    return promise_report(conn, business_date)


# --- credit notices delivered ----------------------------------------------------------------


def record_delivered_notices(conn: Connection) -> int:
    """Credit notices the outbox has delivered, on the credit record (idempotent by key)."""
    o, n = outbox, credit_notices
    rows = conn.execute(
        select(o.c.message_key, o.c.loan_id, o.c.channel, o.c.sent_at).where(
            o.c.template == CREDIT_TEMPLATE,
            o.c.status == "sent",
            o.c.message_key.not_in(select(n.c.key)),
        )
    ).all()
    for r in rows:
        sent = r.sent_at if r.sent_at.tzinfo else r.sent_at.replace(tzinfo=UTC)
        _, problems = record_notice(conn, r.loan_id, sent, r.channel, r.message_key)
        assert problems == (), problems
    return len(rows)


# --- the policy's input ----------------------------------------------------------------------


def case_views(conn: Connection, business_date: date) -> list[dict[str, Any]]:
    """One row per borrower with an active loan, sorted by borrower id.

    Amounts are fen summed over the borrower's active loans; ``loan_id`` is the lead loan (the
    most overdue: highest DPD, then largest overdue amount, then id), the one actions name.
    ``days_to_due`` counts to the nearest unpaid installment due on or after the date (None
    if there is none). Case fields are None/False for borrowers without an open case.
    ``last_step_on`` maps each policy step to the last business date it was actioned.

    A fixed number of queries whatever the portfolio size (one per fact, each one scan).
    """
    ls, ln, inst = t.loan_state, t.loans, t.installments
    od = ls.c.overdue_principal + ls.c.overdue_interest + ls.c.overdue_penalty
    os_ = ls.c.outstanding_principal + ls.c.outstanding_interest + ls.c.outstanding_penalty
    active = ls.join(ln, ln.c.loan_id == ls.c.loan_id)
    next_due = (
        select(ln.c.borrower_id.label("b"), func.min(inst.c.due_date).label("d"))
        .select_from(inst.join(ln, ln.c.loan_id == inst.c.loan_id))
        .where(
            inst.c.due_date >= business_date,
            or_(inst.c.paid_principal < inst.c.principal, inst.c.paid_interest < inst.c.interest),
        )
        .group_by(ln.c.borrower_id)
        .subquery()
    )
    prior = (
        select(cases.c.borrower_id.label("b"), func.count().label("n"))
        .where(cases.c.closed_on.is_not(None))
        .group_by(cases.c.borrower_id)
        .subquery()
    )
    promised = (
        select(promises.c.borrower_id.label("b"), func.max(promises.c.due_on).label("d"))
        .where(promises.c.status == "open")
        .group_by(promises.c.borrower_id)
        .subquery()
    )
    broken = (
        select(promises.c.borrower_id.label("b"), func.max(promises.c.due_on).label("d"))
        .where(promises.c.status.in_(("broken", "partly_kept")))
        .group_by(promises.c.borrower_id)
        .subquery()
    )
    talked = (
        select(A.c.borrower_id.label("b"), func.max(A.c.on_date).label("d"))
        .where(A.c.party == "debtor", A.c.conversation.is_(True))
        .group_by(A.c.borrower_id)
        .subquery()
    )
    ecs = (
        select(emergency_contacts.c.borrower_id.label("b"), func.count().label("n"))
        .group_by(emergency_contacts.c.borrower_id)
        .subquery()
    )
    approved = (
        select(visits.c.borrower_id.label("b"), func.count().label("n"))
        .where(visits.c.status.in_(("approved", "assigned", "noticed")))
        .group_by(visits.c.borrower_id)
        .subquery()
    )
    # One scan per fact, merged here by borrower: SQLite nests scans of materialised groups
    # when they are joined, and window functions sort the portfolio once per window.
    loans_q = (
        select(ln.c.borrower_id, ln.c.loan_id, ls.c.dpd, od, os_)
        .select_from(active)
        .where(ls.c.status == "active")
    )
    cases_q = select(
        cases.c.borrower_id,
        cases.c.case_id,
        cases.c.opened_on,
        cases.c.priority,
        cases.c.assigned_agent,
        cases.c.hardship,
        cases.c.dispute,
        cases.c.plan_in_force,
    ).where(cases.c.closed_on.is_(None))
    open_cases = {row[0]: row[1:] for row in conn.execute(cases_q)}
    risk = {
        k: v
        for k, v in conn.execute(
            select(borrower_profiles.c.borrower_id, borrower_profiles.c.risk_score)
        )
    }
    facts: dict[str, dict[Any, Any]] = {}
    for name, sub in (
        ("due", next_due),
        ("prior", prior),
        ("promised", promised),
        ("broken", broken),
        ("talked", talked),
        ("ecs", ecs),
        ("approved", approved),
    ):
        facts[name] = {k: v for k, v in conn.execute(select(sub.c[0], sub.c[1]))}
    views: dict[str, dict[str, Any]] = {}
    lead: dict[str, tuple[int, int, str]] = {}
    for borrower, loan_id, dpd, overdue, outstanding in conn.execute(loans_q):
        view = views.get(borrower)
        if view is None:
            view = views[borrower] = _view(borrower, business_date, facts, open_cases, risk)
        view["loans"] += 1
        view["dpd"] = max(view["dpd"], int(dpd))
        view["overdue"] += int(overdue)
        view["outstanding"] += int(outstanding)
        rank = (-int(dpd), -int(overdue), loan_id)
        if borrower not in lead or rank < lead[borrower]:
            lead[borrower] = rank
            view["loan_id"] = loan_id
    steps_q = (
        select(A.c.borrower_id, A.c.step, func.max(A.c.on_date))
        .where(A.c.step.is_not(None))
        .group_by(A.c.borrower_id, A.c.step)
    )
    for borrower, step, last in conn.execute(steps_q):
        view = views.get(borrower)
        if view is not None:
            view["last_step_on"][step] = last
    # A visit the policy asked for is its step's last contact from the day it was asked for.
    V = visits
    for borrower, key, by, reason in conn.execute(
        select(V.c.borrower_id, V.c.key, V.c.requested_by, V.c.reason)
    ):
        view = views.get(borrower)
        if view is None or not by.startswith("policy:") or not reason.startswith("step "):
            continue
        step = reason[len("step ") :].split(":", 1)[0]
        asked = date.fromisoformat(key[:10])
        if view["last_step_on"].get(step) is None or view["last_step_on"][step] < asked:
            view["last_step_on"][step] = asked
    return [views[k] for k in sorted(views)]


def _view(
    borrower: str,
    on: date,
    facts: Mapping[str, Mapping[Any, Any]],
    open_cases: Mapping[str, Any],
    risk: Mapping[str, Any],
) -> dict[str, Any]:
    case = open_cases.get(borrower)
    case_id, opened_on, priority, agent, hardship, dispute, plan = case or (None,) * 7
    due = facts["due"].get(borrower)
    talked_on = facts["talked"].get(borrower)
    score = risk.get(borrower)
    return {
        "borrower_id": borrower,
        "loan_id": None,
        "loans": 0,
        "dpd": 0,
        "days_to_due": None if due is None else (due - on).days,
        "overdue": 0,
        "outstanding": 0,
        "risk_score": 500 if score is None else int(score),
        "prior_cases": int(facts["prior"].get(borrower, 0)),
        "case_id": case_id,
        "case_opened_on": opened_on,
        "priority": int(priority or 0),
        "assigned_agent": agent,
        "promise_until": facts["promised"].get(borrower),
        "promise_broken_on": facts["broken"].get(borrower),
        "hardship": bool(hardship),
        "dispute": bool(dispute),
        "plan_in_force": bool(plan),
        "unreachable_days": unreachable_days(talked_on, opened_on, on) if case else 0,
        "last_conversation_on": talked_on,
        "visit_approved": bool(facts["approved"].get(borrower)),
        "emergency_contacts": int(facts["ecs"].get(borrower, 0)),
        "last_step_on": {},
    }


def frames(views: list[dict[str, Any]], day: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The service's per-borrower views as the policy's case and last-sent frames."""
    rows = [
        {
            "borrower_id": v["borrower_id"],
            "loan_id": v["loan_id"],
            "business_date": day,
            "dpd": v["dpd"],
            "days_to_due": v["days_to_due"] if v["dpd"] == 0 else None,
            "overdue_amount": v["overdue"],
            "outstanding_amount": v["outstanding"],
            "risk_score": v["risk_score"],
            "prior_cases": v["prior_cases"],
            "promise_until": v["promise_until"],
            "promise_broken_on": v["promise_broken_on"],
            "hardship": v["hardship"],
            "dispute": v["dispute"],
            "plan_in_force": v["plan_in_force"],
            "unreachable_days": v["unreachable_days"],
            "visit_approved": v["visit_approved"],
            "emergency_contacts": v["emergency_contacts"],
        }
        for v in views
    ]
    cases = pl.DataFrame(rows, schema=dict(CASE_SCHEMA))
    sent = pl.DataFrame(
        [
            {"borrower_id": v["borrower_id"], "step": s, "last_date": d}
            for v in views
            for s, d in v["last_step_on"].items()
        ],
        schema=dict(LAST_SENT_SCHEMA),
    )
    return cases, sent


# --- the report's reads -----------------------------------------------------------------------


def bucket_snapshot(conn: Connection) -> dict[str, str]:
    q = select(t.loan_state.c.loan_id, t.loan_state.c.bucket).where(
        t.loan_state.c.status == "active"
    )
    return {lid: b for lid, b in conn.execute(q)}


def active_loans(conn: Connection) -> list[Any]:
    """The report phase's read: (loan_id, bucket, overdue, outstanding) of every active loan."""
    return conn.execute(
        select(
            t.loan_state.c.loan_id,
            t.loan_state.c.bucket,
            t.loan_state.c.overdue_principal
            + t.loan_state.c.overdue_interest
            + t.loan_state.c.overdue_penalty,
            t.loan_state.c.outstanding_principal
            + t.loan_state.c.outstanding_interest
            + t.loan_state.c.outstanding_penalty,
        ).where(t.loan_state.c.status == "active")
    ).all()
