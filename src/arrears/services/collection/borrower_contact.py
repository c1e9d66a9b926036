"""The borrower reaching the lender: the seed's first advice is to get in touch.

A borrower sends a message, or asks to be called back at a time of their choosing. Either is
kept (``borrower_contacts``), goes into the evidence log (``borrower.request``), and makes the
debtor reached on that day: the policy's unreachable days start again and the gate's
third-party rules keep emergency contacts off limits while the debtor is reachable
(``history.last_reached``). A callback is also a call in the agents' queue, above every step
of the policy, due at the time the borrower chose.

The evidence record holds the SHA-256 of the message, not its words: the words stay in the
borrower's own row, the record proves what was sent and when.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from arrears.core.compliance.packs import get_pack
from arrears.core.evidence.chain import Kind
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.core.requests import request_problems
from arrears.services import evidence as log
from arrears.services.collection.gate_context import zones
from arrears.store import tables
from arrears.store.case_tables import borrower_contacts, queue_items
from arrears.store.instants import to_utc
from arrears.store.profile_tables import borrower_profiles

BC = borrower_contacts
MAX_TEXT = 2000  # characters of one message
CALLBACK_WITHIN = timedelta(days=14)  # how far ahead a callback may be asked for
CALLBACK_WINDOW = timedelta(hours=2)  # an agent has this long from the chosen time
# Above any policy step: those are -1000..1000, raised by at most 1000 after a broken promise.
CALLBACK_PRIORITY = 10_000


@dataclass(frozen=True, slots=True)
class BorrowerContact:
    key: str
    borrower_id: str
    loan_id: str
    kind: str  # message | callback
    received_at: datetime
    callback_at: datetime | None
    queue_key: str | None
    already_recorded: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "borrower_id": self.borrower_id,
            "loan_id": self.loan_id,
            "kind": self.kind,
            "received_at": self.received_at.isoformat(),
            "callback_at": None if self.callback_at is None else self.callback_at.isoformat(),
            "queue_key": self.queue_key,
            "already_recorded": self.already_recorded,
        }


def _checked(
    record: str, key: str, at: datetime, text: str, callback_at: datetime | None
) -> list[Problem]:
    problems = request_problems(record, key, at)
    if len(text) > MAX_TEXT:
        problems.append(Problem(record, "text", f"must be at most {MAX_TEXT} characters"))
    if callback_at is None:
        if not text.strip():
            problems.append(Problem(record, "text", "a message must say something"))
    elif callback_at.utcoffset() is None:
        problems.append(Problem(record, "callback_at", "must carry a time-zone offset"))
    elif at.utcoffset() is not None:
        if callback_at < at:
            problems.append(Problem(record, "callback_at", "must not be in the past"))
        elif callback_at > at + CALLBACK_WITHIN:
            days = CALLBACK_WITHIN.days
            problems.append(Problem(record, "callback_at", f"must be within {days} days"))
    return problems


def _driving_loan(conn: Connection, borrower_id: str, loan_id: str | None) -> str | None:
    """The loan named, if it is the borrower's; else their most overdue active loan."""
    loans, state = tables.loans, tables.loan_state
    q = (
        select(loans.c.loan_id)
        .select_from(loans.join(state, state.c.loan_id == loans.c.loan_id))
        .where(loans.c.borrower_id == borrower_id)
    )
    if loan_id is not None:
        return conn.execute(q.where(loans.c.loan_id == loan_id)).scalar()
    row = conn.execute(
        q.order_by((state.c.status == "active").desc(), state.c.dpd.desc(), loans.c.loan_id)
    ).first()
    return None if row is None else str(row[0])


def _same(row: Any, text: str, callback_at: datetime | None) -> bool:
    stored = None if row.callback_at is None else to_utc(row.callback_at)
    wanted = None if callback_at is None else to_utc(callback_at)
    return bool(row.text == text and stored == wanted)


def reach_lender(
    conn: Connection,
    *,
    key: str,
    borrower_id: str,
    at: datetime,
    text: str = "",
    callback_at: datetime | None = None,
    loan_id: str | None = None,
) -> Result[BorrowerContact]:
    """Record the borrower's message (``text``) or callback request (``callback_at``, with an
    optional note); the same ``key`` again is the same request and records nothing more."""
    record = f"borrower contact {key}"
    problems = _checked(record, key, at, text, callback_at)
    if problems:
        return fail(*problems)
    prior = conn.execute(select(BC).where(BC.c.key == key)).first()
    if prior is not None:
        if prior.borrower_id != borrower_id or not _same(prior, text, callback_at):
            return fail(Problem(record, "key", "already used for another request", "conflict"))
        return ok(
            BorrowerContact(
                key,
                borrower_id,
                prior.loan_id,
                prior.kind,
                prior.received_at,
                prior.callback_at,
                prior.queue_key,
                True,
            )
        )
    who = conn.execute(
        select(tables.borrowers.c.phone).where(tables.borrowers.c.borrower_id == borrower_id)
    ).first()
    if who is None:
        return fail(not_found(record, f"no borrower {borrower_id}", "borrower_id"))
    loan = _driving_loan(conn, borrower_id, loan_id)
    if loan is None:
        field = "loan_id" if loan_id is not None else "borrower_id"
        return fail(not_found(record, f"no such loan of {borrower_id}", field))
    profile = conn.execute(
        select(borrower_profiles.c.timezones, borrower_profiles.c.rule_pack).where(
            borrower_profiles.c.borrower_id == borrower_id
        )
    ).first()
    zone = zones(profile.timezones if profile is not None else "")[0]
    if callback_at is not None:
        pack = get_pack((profile.rule_pack if profile is not None else None) or "cn")
        assert pack is not None
        local = callback_at.astimezone(zone).time()
        # A pack without contact hours leaves the borrower's choice alone.
        start = pack.limits.day_start or time(0)
        end = pack.limits.day_end or time(23, 59, 59, 999_999)
        if not start <= local < end:
            return fail(
                Problem(
                    record,
                    "callback_at",
                    f"must be between {start:%H:%M} and {end:%H:%M} your time "
                    f"(the hours a lender may call), not {local:%H:%M}",
                )
            )
    kind = "message" if callback_at is None else "callback"
    queue_key = f"borrower/{key}" if callback_at is not None else None
    conn.execute(
        insert(BC).values(
            key=key,
            borrower_id=borrower_id,
            loan_id=loan,
            kind=kind,
            text=text,
            received_at=to_utc(at),
            on_date=at.astimezone(zone).date(),
            callback_at=None if callback_at is None else to_utc(callback_at),
            queue_key=queue_key,
        )
    )
    if callback_at is not None and queue_key is not None:
        _enqueue_callback(conn, queue_key, borrower_id, loan, who.phone, text, callback_at, zone)
    payload: dict[str, Any] = {
        "kind": kind,
        "key": key,
        "loan_id": loan,
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }
    if callback_at is not None:
        payload["callback_at"] = callback_at.isoformat()
    log.append(conn, borrower_id, Kind.BORROWER_REQUEST, payload, at)
    return ok(BorrowerContact(key, borrower_id, loan, kind, at, callback_at, queue_key, False))


def _enqueue_callback(
    conn: Connection,
    queue_key: str,
    borrower_id: str,
    loan_id: str,
    phone: str,
    note: str,
    callback_at: datetime,
    zone: Any,
) -> None:
    state = conn.execute(
        select(tables.loan_state.c.dpd, tables.overdue_total()).where(
            tables.loan_state.c.loan_id == loan_id
        )
    ).first()
    dpd, overdue = (int(state[0]), int(state[1])) if state is not None else (0, 0)
    conn.execute(
        insert(queue_items).values(
            key=queue_key,
            borrower_id=borrower_id,
            loan_id=loan_id,
            on_date=callback_at.astimezone(zone).date(),
            policy="borrower",
            step="callback",
            party="debtor",
            number=phone,
            script=note,
            priority=CALLBACK_PRIORITY,
            dpd=dpd,
            amount=overdue,
            due_at=to_utc(callback_at),
            expires_at=to_utc(callback_at + CALLBACK_WINDOW),
        )
    )
