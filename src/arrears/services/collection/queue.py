"""The agent work queue in the database: enqueue the close's call actions, claim the next one,
expire the ones nobody dialled in their window.

``next_item`` claims with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so agents
working in parallel never get the same item and never wait on each other's rows; on SQLite the
transaction's ``BEGIN IMMEDIATE`` serialises claims. Either way an item is claimed once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from arrears.core.contact.action import PlannedAction, action_key
from arrears.core.contact.gating import window_end
from arrears.core.contact.queue import QueueItem, ordered
from arrears.core.evidence.chain import Entry, Kind
from arrears.core.jsonable import jsonable
from arrears.core.money import fmt
from arrears.core.people.masking import mask_phone
from arrears.services import evidence as log
from arrears.services.collection.common import Problem, chunks, from_db, maybe_from_db, to_utc
from arrears.services.collection.gate_context import DEFAULT_ZONE, zones
from arrears.store import tables
from arrears.store.case_tables import contact_attempts, queue_items
from arrears.store.membership import batches, one_of
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

Q = queue_items


def item_dict(item: QueueItem, *, masked: bool = False) -> dict[str, Any]:
    """A queue item as JSON, the amount in yuan; ``masked`` for those who do not dial it."""
    d = jsonable(asdict(item))
    d["amount"] = fmt(item.amount)
    if masked:
        d["number"] = mask_phone(item.number)
    return d  # type: ignore[no-any-return]


def item_from_row(r: Any) -> QueueItem:
    return QueueItem(
        item_id=r.item_id,
        key=r.key,
        borrower_id=r.borrower_id,
        loan_id=r.loan_id,
        policy=r.policy,
        step=r.step,
        party=r.party,
        number=r.number,
        script=r.script,
        priority=r.priority,
        dpd=r.dpd,
        amount=int(r.amount),
        due_at=from_db(r.due_at),
        claimed_by=r.claimed_by,
        claimed_at=maybe_from_db(r.claimed_at),
        done_at=maybe_from_db(r.done_at),
        outcome=r.outcome,
    )


@dataclass(frozen=True)
class Callee:
    """What the queue needs to dial a borrower's calls: their phone, their emergency contacts'
    phones that have not refused contact (by seq), and their home time zone."""

    phone: str | None
    others: tuple[str, ...]
    zone: tzinfo


def callees(conn: Connection, ids: Sequence[str]) -> dict[str, Callee]:
    """``Callee`` of each of ``ids`` (read in bulk)."""
    phones: dict[str, str] = {}
    others: dict[str, list[str]] = {}
    refused: set[tuple[str, str]] = set()
    tz: dict[str, str] = {}
    attempts = contact_attempts
    for batch in batches(conn, ids):
        bq = select(tables.borrowers.c.borrower_id, tables.borrowers.c.phone).where(
            one_of(conn, tables.borrowers.c.borrower_id, batch)
        )
        phones.update({str(b): str(p) for b, p in conn.execute(bq).all()})
        rq = select(attempts.c.borrower_id, attempts.c.number).where(
            one_of(conn, attempts.c.borrower_id, batch),
            attempts.c.party != "debtor",
            attempts.c.outcome == "refused",
        )
        refused.update((str(b), str(n)) for b, n in conn.execute(rq).all())
        ec = emergency_contacts
        q = select(ec.c.borrower_id, ec.c.phone).where(one_of(conn, ec.c.borrower_id, batch))
        for b, phone in conn.execute(q.order_by(ec.c.borrower_id, ec.c.seq)).all():
            if (b, phone) not in refused:
                others.setdefault(b, []).append(phone)
        zq = select(borrower_profiles.c.borrower_id, borrower_profiles.c.timezones).where(
            one_of(conn, borrower_profiles.c.borrower_id, batch)
        )
        tz.update({str(b): str(z) for b, z in conn.execute(zq).all()})
    return {
        b: Callee(phones.get(b), tuple(others.get(b, ())), zones(tz.get(b, DEFAULT_ZONE))[0])
        for b in ids
    }


def enqueue_calls(conn: Connection, actions: Sequence[PlannedAction]) -> tuple[int, list[Problem]]:
    """Put the policy's call actions on the agent queue, once per action key (the engine's
    ``contact.action.action_key``, so the close and the queue agree on what "once" means).

    Returns (items added, actions that could not be queued, e.g. an emergency-contact call for
    a borrower without an emergency contact who has not refused). DPD and overdue amount are
    taken from ``loan_state`` now, for ordering. Non-call actions are a caller's bug.
    """
    rows, problems = queue_rows(conn, actions)
    insert_queue_rows(conn, rows)
    return len(rows), problems


def insert_queue_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for row_batch in chunks(list(rows), 2000):
        conn.execute(insert(Q), row_batch)


def queue_rows(
    conn: Connection,
    actions: Sequence[PlannedAction],
    known: Mapping[str, Callee] | None = None,
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The queue rows ``enqueue_calls`` would insert (reads only), and the actions it cannot.

    ``known``: the borrowers' ``Callee``, when the caller has read what they are made of.
    """
    if any(a.channel != "call" for a in actions):
        raise ValueError("enqueue_calls: only call actions go on the agent queue")
    ids = sorted({a.borrower_id for a in actions})
    who = known if known is not None else callees(conn, ids)
    state: dict[str, tuple[int, int]] = {}
    loan_state = tables.loan_state
    for batch in batches(conn, sorted({a.loan_id for a in actions})):
        sq = select(
            loan_state.c.loan_id,
            loan_state.c.dpd,
            tables.overdue_total(),
        ).where(one_of(conn, loan_state.c.loan_id, batch))
        for lid, dpd, overdue in conn.execute(sq).all():
            state[str(lid)] = (int(dpd), int(overdue))
    existing: set[str] = set()
    keys = [action_key(a) for a in actions]
    for batch in batches(conn, keys):
        existing.update(conn.execute(select(Q.c.key).where(one_of(conn, Q.c.key, batch))).scalars())
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for a, key in zip(actions, keys, strict=True):
        if key in existing:
            continue
        existing.add(key)
        callee = who[a.borrower_id]
        if a.party == "debtor":
            number = callee.phone
        else:
            number = callee.others[0] if callee.others else None
        if not number:
            problems.append(Problem(f"action {key}", "number", f"no {a.party} number to call"))
            continue
        due = datetime.combine(a.business_date, a.local_time, tzinfo=callee.zone)
        dpd, amount = state.get(a.loan_id, (0, 0))
        rows.append(
            {
                "key": key,
                "borrower_id": a.borrower_id,
                "loan_id": a.loan_id,
                "on_date": a.business_date,
                "policy": a.policy,
                "step": a.step,
                "party": a.party,
                "number": number,
                "script": a.template,
                "priority": a.priority,
                "dpd": dpd,
                "amount": amount,
                "due_at": to_utc(due),
                "expires_at": to_utc(window_end(due)),
            }
        )
    return rows, problems


def _order(conn: Connection) -> list[Any]:
    borrower = (
        Q.c.borrower_id.collate("C") if conn.dialect.name == "postgresql" else Q.c.borrower_id
    )
    return [Q.c.priority.desc(), Q.c.dpd.desc(), Q.c.amount.desc(), borrower, Q.c.item_id]


def next_item(conn: Connection, agent: str, now: datetime) -> QueueItem | None:
    """The agent's current item (claimed, not done), else claim the first due open one."""
    if not agent.strip():
        raise ValueError("next_item: agent must not be empty")
    mine = conn.execute(
        select(Q)
        .where(Q.c.claimed_by == agent, Q.c.done_at.is_(None))
        .order_by(*_order(conn))
        .limit(1)
    ).first()
    if mine is not None:
        return item_from_row(mine)
    at = to_utc(now)
    q = (
        select(Q)
        .where(
            Q.c.claimed_by.is_(None),
            Q.c.done_at.is_(None),
            Q.c.due_at <= at,
            # Past its window a call may not be made (the gate approved those hours only).
            or_(Q.c.expires_at.is_(None), Q.c.expires_at > at),
        )
        .order_by(*_order(conn))
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    row = conn.execute(q).first()
    if row is None:
        return None
    claimed = conn.execute(
        update(Q)
        .where(Q.c.item_id == row.item_id, Q.c.claimed_by.is_(None))
        .values(claimed_by=agent, claimed_at=to_utc(now))
    )
    # The row lock (PostgreSQL) or the write lock (SQLite) makes a lost race impossible.
    assert claimed.rowcount == 1
    return item_from_row(conn.execute(select(Q).where(Q.c.item_id == row.item_id)).one())


# An agent who claimed a call has until this long after its window to record what happened
# (a call dialled at 19:55 is written up after 20:00); after that the claim is abandoned.
CLAIM_GRACE = timedelta(days=1)

EXPIRED = "expired"


def expire_calls(conn: Connection, now: datetime) -> int:
    """Close the calls nobody made in their window: done now, outcome ``expired``, one
    ``contact.expired`` evidence record each (a call planned and not made is not a contact,
    but the log says what became of it). Unclaimed calls expire at the end of their window,
    claimed ones ``CLAIM_GRACE`` later. Idempotent: a closed item is not touched again."""
    at = to_utc(now)
    open_ = (Q.c.done_at.is_(None), Q.c.expires_at.is_not(None))
    late = or_(
        (Q.c.claimed_by.is_(None)) & (Q.c.expires_at <= at),
        Q.c.expires_at <= to_utc(now - CLAIM_GRACE),
    )
    rows = conn.execute(select(Q).where(*open_, late).order_by(Q.c.item_id)).all()
    if not rows:
        return 0
    for batch in chunks([r.item_id for r in rows], 2000):
        conn.execute(
            update(Q)
            .where(Q.c.item_id.in_(batch), Q.c.done_at.is_(None))
            .values(done_at=at, outcome=EXPIRED)
        )
    log.append_many(
        conn,
        [
            Entry(
                r.borrower_id,
                Kind.CONTACT_EXPIRED,
                {
                    "key": r.key,
                    "loan_id": r.loan_id,
                    "channel": "call",
                    "party": r.party,
                    "policy": r.policy,
                    "step": r.step,
                    "business_date": r.on_date.isoformat(),
                    "due_at": from_db(r.due_at).isoformat(),
                    "expires_at": from_db(r.expires_at).isoformat(),
                    "claimed_by": r.claimed_by,
                    "result": EXPIRED,
                    "reason": "not dialled before its window ended"
                    if r.claimed_by is None
                    else "claimed and not written up within a day of its window",
                },
                now,
            )
            for r in rows
        ],
    )
    return len(rows)


def open_calls(conn: Connection) -> int:
    """Calls on the queue not yet done (claimed or not): the queue's open size."""
    return int(
        conn.execute(select(func.count()).select_from(Q).where(Q.c.done_at.is_(None))).scalar_one()
    )


def list_queue(
    conn: Connection, agent: str | None = None, include_done: bool = False
) -> list[QueueItem]:
    """Queue items in working order (done ones last, when included)."""
    q = select(Q)
    if agent is not None:
        q = q.where(Q.c.claimed_by == agent)
    if not include_done:
        q = q.where(Q.c.done_at.is_(None))
    items = [item_from_row(r) for r in conn.execute(q.order_by(Q.c.item_id))]
    return ordered([i for i in items if i.done_at is None]) + ordered(
        [i for i in items if i.done_at is not None]
    )


def get_item(conn: Connection, item_id: int) -> QueueItem | None:
    row = conn.execute(select(Q).where(Q.c.item_id == item_id)).first()
    return None if row is None else item_from_row(row)
