"""Cases and the contact history, in the database: what the close and the dispatcher call.

* ``open_or_update_cases`` / ``close_cases``: one open case per overdue borrower.
* ``record_attempts``: the bulk insert of contacts made (the gate's history), idempotent by key.
* ``history_for`` / ``context_for``: the compliance gate's two inputs besides the proposal,
  for many borrowers at once.
* ``case_views``: the per-borrower facts the collection policy decides on, in a few queries.

Every write appends the matching evidence record in the caller's transaction; nothing here
commits.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from arrears.compliance.model import Contact, Context
from arrears.contact.cases import CLOSE_REASONS, CaseInput, OpenCase, case_changes, cases_to_close
from arrears.contact.history import is_reachable, unreachable_days
from arrears.evidence import log
from arrears.evidence.chain import Entry, Kind
from arrears.services.collection_store import (
    Problem,
    chunks,
    from_db,
    join_ids,
    maybe_from_db,
    split_ids,
    to_utc,
)
from arrears.store import tables as t
from arrears.store.case_tables import (
    cases,
    collector_training,
    collectors,
    contact_attempts,
    promises,
    visits,
)
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

A = contact_attempts
DEFAULT_ZONE = "Asia/Shanghai"
UNREACHABLE_AFTER_DAYS = 7  # default: the policy can pass its own threshold


# ---------------------------------------------------------------------------------------------
# Cases


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


def _at_end_of(day: date) -> datetime:
    # Case events belong to the business date's close; the evidence needs an instant.
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CasesSynced:
    opened: int
    reprioritised: int
    closed: int


def open_or_update_cases(
    conn: Connection, business_date: date, rows: Iterable[CaseInput]
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
                    _at_end_of(business_date),
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
    still_overdue: Iterable[str] | None = None,
    *,
    borrower_ids: Iterable[str] | None = None,
    reason: str = "cured",
) -> int | Problem:
    """Close open cases of borrowers no longer overdue.

    With ``borrower_ids`` those borrowers' cases close for ``reason``; otherwise every open
    case whose borrower is not in ``still_overdue`` closes as ``cured``. ``still_overdue``
    defaults to the borrowers with an active loan overdue in ``loan_state``.
    """
    if reason not in CLOSE_REASONS:
        return Problem("cases", "reason", f"must be one of {', '.join(CLOSE_REASONS)}")
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
                _at_end_of(business_date),
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


def sync_cases(conn: Connection, business_date: date) -> CasesSynced:
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
    synced = open_or_update_cases(conn, business_date, rows)
    closed = close_cases(conn, business_date, {r.borrower_id for r in rows})
    assert not isinstance(closed, Problem)
    return CasesSynced(synced.opened, synced.reprioritised, closed)


# ---------------------------------------------------------------------------------------------
# Contact attempts: the gate's history


@dataclass(frozen=True, slots=True)
class Recording:
    location: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """A contact made (or an SMS sent) for ``borrower_id``; ``key`` applies once."""

    key: str
    borrower_id: str
    contact: Contact
    on_date: date
    policy: str | None = None
    step: str | None = None
    agent: str | None = None
    recording: Recording | None = None


def content_sha256(content: str) -> str | None:
    return hashlib.sha256(content.encode()).hexdigest() if content else None


def _attempt_row(a: Attempt) -> dict[str, Any]:
    c = a.contact
    return {
        "key": a.key,
        "borrower_id": a.borrower_id,
        "debt_id": c.debt_id,
        "at": to_utc(c.at),
        "on_date": a.on_date,
        "channel": c.channel,
        "party": c.party,
        "number": c.number,
        "connected": c.connected,
        "conversation": c.conversation,
        "consent_until": None if c.consent_until is None else to_utc(c.consent_until),
        "outcome": c.outcome,
        "content_sha256": content_sha256(c.content),
        "collectors": join_ids(c.collectors),
        "purpose": c.purpose,
        "policy": a.policy,
        "step": a.step,
        "agent": a.agent,
        "recording_location": a.recording.location if a.recording else None,
        "recording_sha256": a.recording.sha256 if a.recording else None,
    }


def attempt_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "key",
        "debt_id",
        "channel",
        "party",
        "number",
        "connected",
        "conversation",
        "outcome",
        "content_sha256",
        "purpose",
        "policy",
        "step",
        "agent",
        "recording_location",
        "recording_sha256",
    )
    out = {k: row[k] for k in keep if row.get(k) is not None}
    out["collectors"] = list(split_ids(row.get("collectors", "")))
    out["on_date"] = row["on_date"].isoformat()
    return out


def record_attempts(conn: Connection, attempts: Sequence[Attempt]) -> int:
    """Insert the attempts whose key is new, with one evidence record each; return how many.

    Keys already recorded (a rerun close, a redelivered callback) are skipped, so the same
    attempt is recorded once. Keys repeated inside ``attempts`` are a caller's bug.
    """
    new = new_attempts(conn, attempts)
    if not new:
        return 0
    insert_attempts(conn, [row for _, row in new])
    log.append_many(conn, attempt_entries(new))
    return len(new)


def new_attempts(
    conn: Connection, attempts: Sequence[Attempt]
) -> list[tuple[Attempt, dict[str, Any]]]:
    """The attempts whose key is not on record yet, each with its row."""
    keys = [a.key for a in attempts]
    if len(set(keys)) != len(keys):
        raise ValueError("record_attempts: duplicate keys in one batch")
    seen: set[str] = set()
    for key_batch in chunks(keys):
        seen.update(conn.execute(select(A.c.key).where(A.c.key.in_(key_batch))).scalars())
    return [(a, _attempt_row(a)) for a in attempts if a.key not in seen]


def insert_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for row_batch in chunks(list(rows), 2000):
        conn.execute(insert(A), row_batch)


def attempt_entries(new: Sequence[tuple[Attempt, dict[str, Any]]]) -> list[Entry]:
    """The evidence record of each attempt."""
    return [
        Entry(a.borrower_id, Kind.CONTACT_ATTEMPT, attempt_payload(row), a.contact.at)
        for a, row in new
    ]


def contact_from_row(r: Any) -> Contact:
    return Contact(
        at=from_db(r.at),
        debt_id=r.debt_id,
        channel=r.channel,
        party=r.party,
        number=r.number,
        connected=bool(r.connected),
        conversation=bool(r.conversation),
        consent_until=maybe_from_db(r.consent_until),
        outcome=r.outcome,
        collectors=split_ids(r.collectors or ""),
        purpose=r.purpose,
    )


_HISTORY_COLUMNS = (
    A.c.borrower_id,
    A.c.at,
    A.c.debt_id,
    A.c.channel,
    A.c.party,
    A.c.number,
    A.c.connected,
    A.c.conversation,
    A.c.consent_until,
    A.c.outcome,
    A.c.collectors,
    A.c.purpose,
)


def history_for(
    conn: Connection, borrower_ids: Iterable[str], since: datetime | None = None
) -> dict[str, list[Contact]]:
    """Each borrower's contacts (lender and agencies, every debt), oldest first.

    ``since`` trims the debtor's old contacts for speed: the caps look back at most 7 days,
    and refusals reach the gate through ``context_for`` (``Context.refused``). Contacts with
    third parties are kept whatever their age: Regulation F allows one location contact per
    person, ever, unless they ask for another, and only the whole history can show that.
    """
    ids = sorted(set(borrower_ids))
    out: dict[str, list[Contact]] = {b: [] for b in ids}
    for batch in chunks(ids):
        q = select(*_HISTORY_COLUMNS).where(A.c.borrower_id.in_(batch))
        if since is not None:
            q = q.where(or_(A.c.at >= to_utc(since), A.c.party != "debtor"))
        rows = conn.execute(q.order_by(A.c.borrower_id, A.c.at, A.c.attempt_id))
        # Positional unpacking: attribute access on 100k+ rows costs more than the query.
        for b, at, debt, channel, party, number, conn_, conv, consent, outcome, coll, purp in rows:
            out[b].append(
                Contact(
                    at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
                    debt_id=debt,
                    channel=channel,
                    party=party,
                    number=number,
                    connected=bool(conn_),
                    conversation=bool(conv),
                    consent_until=maybe_from_db(consent),
                    outcome=outcome,
                    collectors=tuple(coll.split(",")) if coll else (),
                    purpose=purp,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# The gate's context


@functools.lru_cache(maxsize=1024)
def zones(text: str) -> tuple[tzinfo, ...]:
    """The profile's comma-separated IANA zones; an unknown name falls back to the default so
    that a typo cannot make a borrower uncontactable by crashing the close."""
    out: list[tzinfo] = []
    for name in (x.strip() for x in text.split(",")):
        if not name:
            continue
        try:
            out.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            out.append(ZoneInfo(DEFAULT_ZONE))
    return tuple(out) or (ZoneInfo(DEFAULT_ZONE),)


def collector_registry(conn: Connection) -> Mapping[str, date]:
    """Registered collector -> latest training date (collectors never trained are left out)."""
    q = (
        select(collector_training.c.collector_id, func.max(collector_training.c.trained_on))
        .select_from(
            collector_training.join(
                collectors, collectors.c.collector_id == collector_training.c.collector_id
            )
        )
        .where(collectors.c.registered.is_(True))
        .group_by(collector_training.c.collector_id)
    )
    return MappingProxyType({cid: d for cid, d in conn.execute(q)})


def _profiles(conn: Connection, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in chunks(ids):
        for r in conn.execute(
            select(borrower_profiles).where(borrower_profiles.c.borrower_id.in_(batch))
        ):
            out[r.borrower_id] = r
    return out


def _last_conversations(conn: Connection, ids: list[str]) -> dict[str, date]:
    out: dict[str, date] = {}
    for batch in chunks(ids):
        q = (
            select(A.c.borrower_id, func.max(A.c.on_date))
            .where(A.c.borrower_id.in_(batch), A.c.party == "debtor", A.c.conversation.is_(True))
            .group_by(A.c.borrower_id)
        )
        out.update({b: d for b, d in conn.execute(q)})
    return out


def _case_rows(conn: Connection, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in chunks(ids):
        q = select(cases).where(cases.c.borrower_id.in_(batch), cases.c.closed_on.is_(None))
        out.update({r.borrower_id: r for r in conn.execute(q)})
    return out


def _refused(conn: Connection, ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for batch in chunks(ids):
        q = (
            select(A.c.borrower_id, A.c.number)
            .where(A.c.borrower_id.in_(batch), A.c.party != "debtor", A.c.outcome == "refused")
            .distinct()
        )
        for b, n in conn.execute(q):
            out[b].add(n)
    return out


def _live_visits(conn: Connection, ids: list[str]) -> dict[str, Any]:
    """Each borrower's latest visit that is approved and not yet reported or cancelled."""
    out: dict[str, Any] = {}
    for batch in chunks(ids):
        q = (
            select(visits)
            .where(
                visits.c.borrower_id.in_(batch),
                visits.c.status.in_(("approved", "assigned", "noticed")),
            )
            .order_by(visits.c.visit_id)
        )
        out.update({r.borrower_id: r for r in conn.execute(q)})
    return out


def context_for(
    conn: Connection,
    borrower_ids: Iterable[str],
    at: datetime,
    *,
    unreachable_after_days: int = UNREACHABLE_AFTER_DAYS,
) -> dict[str, Context]:
    """The gate's ``Context`` for each borrower as of ``at``, in a handful of bulk queries.

    Not known here (left at their defaults for the owners of those records to fill in):
    ``consent_late_hours``, ``contact_preferences``, ``credit_notices``, ``entrustments``.
    """
    ids = sorted(set(borrower_ids))
    profiles = _profiles(conn, ids)
    open_cases = _case_rows(conn, ids)
    talked = _last_conversations(conn, ids)
    refused = _refused(conn, ids)
    live = _live_visits(conn, ids)
    registry = collector_registry(conn)
    out: dict[str, Context] = {}
    for b in ids:
        prof = profiles.get(b)
        tz = zones(prof.timezones if prof is not None else DEFAULT_ZONE)
        on = at.astimezone(tz[0]).date()
        case = open_cases.get(b)
        visit = live.get(b)
        out[b] = Context(
            timezones=tz,
            reachable=is_reachable(
                talked.get(b),
                case.opened_on if case is not None else None,
                on,
                unreachable_after_days,
            ),
            vulnerable=bool(prof.vulnerable) if prof is not None else False,
            plan_in_force=bool(case.plan_in_force) if case is not None else False,
            dispute_open=bool(case.dispute) if case is not None else False,
            collectors=registry,
            visit_approved=visit is not None and visit.approved_by is not None,
            visit_notice_at=maybe_from_db(visit.notice_sent_at) if visit is not None else None,
            refused=frozenset(refused.get(b, ())),
        )
    return out


# ---------------------------------------------------------------------------------------------
# What the policy decides on


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
