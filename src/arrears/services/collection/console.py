"""What the collection console reads that no other service did: who may open a case, the
compliance gate asked about the call an agent holds right now, search by borrower, loan or
phone, the blocked contacts on the evidence log, and a case assigned to an agent.

The gate here is the close's own (``core.compliance.check`` with the borrower's rule pack, the
context ``context_for`` reads and the history ``history_for`` reads, as visits are checked in
``visits``): the console shows what the rules say now, not a second copy of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from arrears.core.compliance import Contact, Decision, LenderSettings, check
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.queue import QueueItem
from arrears.core.evidence.chain import Kind
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services.collection.gate_context import DEFAULT_ZONE, context_for, zones
from arrears.services.collection.history import history_for
from arrears.store import tables
from arrears.store.case_tables import cases, queue_items
from arrears.store.evidence_tables import evidence_records
from arrears.store.profile_tables import borrower_profiles
from arrears.store.sealed import TAIL_DIGITS, phone_tail

DEFAULT_PACK = "cn"


def open_case(conn: Connection, borrower_id: str) -> Any:
    """The borrower's open case row, or None."""
    return conn.execute(
        select(cases).where(cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None))
    ).first()


def agent_may_open(conn: Connection, agent: str, borrower_id: str) -> bool:
    """An agent opens the cases assigned to them and the borrowers whose call they hold; any
    other case is, to them, a case that is not there."""
    case = open_case(conn, borrower_id)
    if case is not None and case.assigned_agent == agent:
        return True
    held = conn.execute(
        select(queue_items.c.item_id).where(
            queue_items.c.borrower_id == borrower_id,
            queue_items.c.claimed_by == agent,
            queue_items.c.done_at.is_(None),
        )
    ).first()
    return held is not None


def assigned_cases(conn: Connection, agent: str) -> list[Any]:
    """The open cases assigned to ``agent``, by case id."""
    q = select(cases).where(cases.c.assigned_agent == agent, cases.c.closed_on.is_(None))
    return list(conn.execute(q.order_by(cases.c.case_id)).all())


def assign_case(conn: Connection, borrower_id: str, agent: str) -> Result[str]:
    """Assign the borrower's open case to ``agent``."""
    if not agent.strip():
        return fail(Problem(f"borrower {borrower_id}", "agent", "must not be empty"))
    done = conn.execute(
        update(cases)
        .where(cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None))
        .values(assigned_agent=agent)
    )
    if done.rowcount != 1:
        return fail(not_found(f"borrower {borrower_id}", "no open case", "borrower_id"))
    return ok(agent)


def rule_pack_of(conn: Connection, borrower_id: str) -> str:
    found = conn.execute(
        select(borrower_profiles.c.rule_pack).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    return str(found or DEFAULT_PACK)


def language_of(conn: Connection, borrower_id: str) -> str:
    """The language the borrower reads and is spoken to in (their profile's)."""
    found = conn.execute(
        select(borrower_profiles.c.language).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    return str(found or "zh-CN")


def call_gate(
    conn: Connection,
    item: QueueItem,
    at: datetime,
    settings: dict[str, LenderSettings] | None = None,
) -> Decision:
    """The gate's decision on making the held call now: allowed, or blocked with each rule and
    its source (the rules the close checked the call by when it was planned, asked again)."""
    pack = get_pack(rule_pack_of(conn, item.borrower_id)) or get_pack(DEFAULT_PACK)
    assert pack is not None
    b = item.borrower_id
    context = context_for(conn, [b], at)[b]
    history = history_for(conn, [b], planned_after=at)[b]
    proposed = Contact(
        at=at,
        debt_id=item.loan_id,
        channel="call",
        party=item.party,
        number=item.number,
        purpose="collection",
    )
    return check(history, proposed, context, pack, (settings or {}).get(pack.id))


@dataclass(frozen=True, slots=True)
class Found:
    borrower_id: str
    name: str
    phone: str
    loan_ids: tuple[str, ...]
    dpd: int
    assigned_agent: str | None
    erased_on: date | None = None  # the console shows this instead of the erased values


def search(conn: Connection, text: str, limit: int = 50) -> list[Found]:
    """Borrowers whose id or loan id is ``text`` (or starts with it), or whose phone number
    ends with its digits (at least four), by borrower id.

    Phones are sealed, so the database cannot match their ends: it matches the blind index of
    the last four digits (``borrowers.phone_tail``), and the phones it finds are opened here
    to check any digits before those four."""
    text = text.strip()
    if not text:
        return []
    b, lo = tables.borrowers.c, tables.loans.c
    digits = "".join(ch for ch in text if ch.isdigit())
    by_loan = select(lo.borrower_id).where(or_(lo.loan_id == text, lo.loan_id.startswith(text)))
    by_id = or_(b.borrower_id == text, b.borrower_id.startswith(text), b.borrower_id.in_(by_loan))
    by_phone = b.phone_tail == phone_tail(digits) if len(digits) >= TAIL_DIGITS else None
    wanted = by_id if by_phone is None else or_(by_id, by_phone)
    q = select(tables.borrowers, by_id.label("by_id")).where(wanted).order_by(b.borrower_id)
    rows = []
    # A tail matches about one borrower in 10,000, so most rows found by tail alone pass the
    # check below; the query is read on until ``limit`` borrowers have.
    found = conn.execute(q)
    for r in found:
        if r.by_id or "".join(ch for ch in r.phone if ch.isdigit()).endswith(digits):
            rows.append(r)
            if len(rows) >= limit:
                break
    found.close()
    out: list[Found] = []
    for r in rows:
        loans = tuple(
            conn.execute(
                select(lo.loan_id).where(lo.borrower_id == r.borrower_id).order_by(lo.loan_id)
            ).scalars()
        )
        dpd = conn.execute(
            select(func.max(tables.loan_state.c.dpd)).where(tables.loan_state.c.loan_id.in_(loans))
        ).scalar()
        case = open_case(conn, r.borrower_id)
        out.append(
            Found(
                r.borrower_id,
                r.name,
                r.phone,
                loans,
                int(dpd or 0),
                case.assigned_agent if case is not None else None,
                r.erased_on,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Blocked:
    """A contact the gate refused, as its ``contact.blocked`` evidence record says."""

    borrower_id: str
    seq: int
    at: str
    loan_id: str
    channel: str
    party: str
    step: str
    proposed_at: str
    pack: str
    violations: tuple[dict[str, str], ...]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(v["rule"] for v in self.violations)


def blocked_contacts(
    conn: Connection, *, borrower_id: str | None = None, limit: int = 200
) -> list[Blocked]:
    """The latest blocked contacts, newest first."""
    e = evidence_records.c
    q = select(e.borrower_id, e.seq, e.at, e.payload).where(e.kind == Kind.CONTACT_BLOCKED.value)
    if borrower_id is not None:
        q = q.where(e.borrower_id == borrower_id)
    out: list[Blocked] = []
    for r in conn.execute(q.order_by(e.at.desc(), e.borrower_id, e.seq.desc()).limit(limit)):
        p = json.loads(r.payload)
        out.append(
            Blocked(
                r.borrower_id,
                r.seq,
                r.at,
                str(p.get("loan_id", "")),
                str(p.get("channel", "")),
                str(p.get("party", "")),
                str(p.get("step", "")),
                str(p.get("proposed_at", "")),
                str(p.get("pack", "")),
                tuple(
                    {"rule": str(v["rule"]), "source": str(v["source"]), "message": v["message"]}
                    for v in p.get("violations", ())
                ),
            )
        )
    return out


def blocked_count(conn: Connection) -> int:
    e = evidence_records.c
    q = (
        select(func.count())
        .select_from(evidence_records)
        .where(e.kind == Kind.CONTACT_BLOCKED.value)
    )
    return int(conn.execute(q).scalar_one())


@dataclass(frozen=True, slots=True)
class Books:
    """One loan as the case page shows it: its state, its schedule and its journal."""

    loan_id: str
    currency: str
    principal: int
    state: Any  # the loan_state row (None before the first close)
    schedule: tuple[Any, ...]  # installments rows, by number
    journal: tuple[tuple[Any, int], ...]  # (journal entry row, amount moved), oldest first


def borrower_books(conn: Connection, borrower_id: str) -> list[Books]:
    """Each of the borrower's loans: state, schedule and journal (the amount an entry moved is
    the sum of its debits)."""
    lo, ls, inst = tables.loans.c, tables.loan_state.c, tables.installments.c
    je, po = tables.journal_entries.c, tables.postings.c
    out: list[Books] = []
    for loan in conn.execute(
        select(tables.loans).where(lo.borrower_id == borrower_id).order_by(lo.loan_id)
    ):
        state = conn.execute(select(tables.loan_state).where(ls.loan_id == loan.loan_id)).first()
        schedule = conn.execute(
            select(tables.installments).where(inst.loan_id == loan.loan_id).order_by(inst.n)
        ).all()
        moved = (
            select(po.entry_id, func.sum(po.amount).label("amount"))
            .where(po.amount > 0)
            .group_by(po.entry_id)
            .subquery()
        )
        journal = conn.execute(
            select(tables.journal_entries, moved.c.amount)
            .select_from(tables.journal_entries.outerjoin(moved, moved.c.entry_id == je.entry_id))
            .where(je.loan_id == loan.loan_id)
            .order_by(je.effective_on, je.entry_id)
        ).all()
        out.append(
            Books(
                loan.loan_id,
                loan.currency,
                int(loan.principal),
                state,
                tuple(schedule),
                tuple((j, int(j.amount or 0)) for j in journal),
            )
        )
    return out


def borrower_row(conn: Connection, borrower_id: str) -> Any:
    return conn.execute(
        select(tables.borrowers).where(tables.borrowers.c.borrower_id == borrower_id)
    ).first()


def home_zone(conn: Connection, borrower_id: str) -> Any:
    """The borrower's home time zone (the first of their profile's)."""
    found = conn.execute(
        select(borrower_profiles.c.timezones).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    return zones(str(found or DEFAULT_ZONE))[0]


def loan_owner(conn: Connection, loan_id: str) -> str | None:
    """The borrower of ``loan_id`` (None: no such loan)."""
    found = conn.execute(
        select(tables.loans.c.borrower_id).where(tables.loans.c.loan_id == loan_id)
    ).scalar()
    return None if found is None else str(found)
