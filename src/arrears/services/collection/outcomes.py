"""Recording what came of a contact: on a queue item (the agent's call) or on an attempt the
dispatcher already recorded (a dialer call whose result arrives later).

One transaction: the attempt with its connected/conversation flags (what the compliance gate
counts), the case flag a dispute or hardship sets, the promise a promise to pay makes, and the
evidence records (``contact.attempt`` for a call made from the queue, ``contact.outcome``
always, ``promise`` for a promise). Recording the same outcome again for the same item or
attempt changes nothing and says so; a different outcome for it is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import Connection, Update, bindparam, func, insert, select, update

from arrears.core.compliance.model import Contact
from arrears.core.contact.outcomes import EFFECTS, Outcome, parse_outcome
from arrears.core.evidence.chain import Entry, Kind
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.collection.cases import set_case_flag
from arrears.services.collection.common import for_update, to_utc
from arrears.services.collection.gate_context import zones
from arrears.services.collection.history import Attempt, Recording, insert_new_attempts
from arrears.store.case_tables import contact_attempts, promises, queue_items
from arrears.store.profile_tables import borrower_profiles

Q = queue_items
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class OutcomeRecorded:
    attempt_key: str
    borrower_id: str
    outcome: Outcome
    already_recorded: bool
    promise_key: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "attempt_key": self.attempt_key,
            "borrower_id": self.borrower_id,
            "outcome": self.outcome.value,
            "already_recorded": self.already_recorded,
            "promise_key": self.promise_key,
        }


def _who_and_recording(agent: str | None, recording: Recording | None) -> dict[str, object]:
    """The agent and the call recording, as the outcome's row and evidence payload hold them."""
    extra: dict[str, object] = {}
    if agent:
        extra["agent"] = agent
    if recording is not None:
        extra["recording_location"] = recording.location
        extra["recording_sha256"] = recording.sha256
    return extra


def _validate(
    record: str,
    outcome: str,
    at: datetime,
    promise: tuple[date, int] | None,
    recording: Recording | None,
) -> Result[Outcome]:
    parsed = parse_outcome(outcome)
    if parsed is None:
        return fail(
            Problem(record, "outcome", f"must be one of {', '.join(o.value for o in Outcome)}")
        )
    if at.utcoffset() is None:
        return fail(Problem(record, "at", "must carry a time-zone offset"))
    if parsed is Outcome.PROMISE_TO_PAY and promise is None:
        return fail(Problem(record, "promise", "a promise to pay needs a date and an amount"))
    if parsed is not Outcome.PROMISE_TO_PAY and promise is not None:
        return fail(
            Problem(record, "promise", f"only a promise_to_pay carries a promise, not {outcome}")
        )
    if promise is not None:
        due, amount = promise
        if amount <= 0:
            return fail(Problem(record, "promise_amount", "must be positive"))
        if due < at.date():
            return fail(Problem(record, "promise_date", f"{due} is before the call ({at.date()})"))
    if recording is not None:
        if not recording.location.strip():
            return fail(Problem(record, "recording", "location must not be empty"))
        if not _SHA256.match(recording.sha256):
            return fail(Problem(record, "recording_sha256", "must be 64 lowercase hex digits"))
    return ok(parsed)


def record_outcome(
    conn: Connection,
    *,
    outcome: str,
    at: datetime,
    item_id: int | None = None,
    attempt_key: str | None = None,
    agent: str | None = None,
    promise: tuple[date, int] | None = None,
    recording: Recording | None = None,
    holder: str | None = None,
) -> Result[OutcomeRecorded]:
    """Record ``outcome`` for queue item ``item_id`` or for the call attempt ``attempt_key``.

    ``promise`` is (promised date, amount in fen) for ``promise_to_pay``; ``recording`` the
    call recording's location and SHA-256. ``holder``: only this agent's own items (an item
    held by another, or by no one, is answered as one that does not exist).
    """
    if (item_id is None) == (attempt_key is None):
        raise ValueError("record_outcome: give exactly one of item_id or attempt_key")
    record = f"queue item {item_id}" if item_id is not None else f"attempt {attempt_key}"
    parsed, problems = _validate(record, outcome, at, promise, recording)
    if parsed is None:
        return None, problems
    pending: list[Entry] = []  # the attempt's record, appended with the outcome's
    if item_id is not None:
        result = _on_item(conn, record, item_id, parsed, at, agent, recording, holder, pending)
    else:
        assert attempt_key is not None
        result = _on_attempt(conn, record, attempt_key, parsed, at, agent, recording)
    done = result[0]
    if done is None or done.already_recorded:
        assert not pending, "nothing is recorded for an outcome refused or recorded before"
        return result
    effect = EFFECTS[parsed]
    if effect.case_flag is not None:
        set_case_flag(conn, done.borrower_id, effect.case_flag)
    payload: dict[str, object] = {
        "attempt_key": done.attempt_key,
        "outcome": parsed.value,
        "connected": effect.connected,
        "conversation": effect.conversation,
    }
    payload.update(_who_and_recording(agent, recording))
    promise_key = None
    if promise is not None:
        promise_key = f"promise/{done.attempt_key}"
        payload["promise"] = {"due_on": promise[0].isoformat(), "amount": promise[1]}
    log.append_many(conn, [*pending, Entry(done.borrower_id, Kind.CONTACT_OUTCOME, payload, at)])
    if promise is not None:
        assert promise_key is not None
        _make_promise(conn, done, promise_key, promise, at)
    return ok(OutcomeRecorded(done.attempt_key, done.borrower_id, parsed, False, promise_key))


def _same_or_problem(
    record: str, key: str, borrower_id: str, stored: str, wanted: Outcome
) -> Result[OutcomeRecorded]:
    if stored == wanted.value:
        return ok(OutcomeRecorded(key, borrower_id, wanted, True))
    return fail(Problem(record, "outcome", f"already recorded as {stored}"))


_ITEM = select(Q).where(Q.c.item_id == bindparam("item_id"))


# The borrower's time zones, for the call's date (the borrower's).
_ZONES_OF_ITEM = (
    select(borrower_profiles.c.timezones)
    .where(borrower_profiles.c.borrower_id == Q.c.borrower_id)
    .correlate(Q)
    .scalar_subquery()
)


# The common case in one statement: an open item the caller may record on, finished and
# returned (with the borrower's time zones). No row: not found, done already, or another's;
# ``_not_finished`` reads the item to say which.
@cache
def _finish_open(holder: bool, agent: bool) -> Update:
    """The statement, for a caller who holds the item (``holder``) and/or names an agent."""
    where = [Q.c.item_id == bindparam("b_item_id"), Q.c.outcome.is_(None)]
    if holder:  # only their own items
        where.append(Q.c.claimed_by == bindparam("b_holder"))
    if agent:  # not an item another agent holds
        where.append(Q.c.claimed_by.is_(None) | (Q.c.claimed_by == bindparam("b_agent")))
    claimed_by = func.coalesce(Q.c.claimed_by, bindparam("b_agent")) if agent else Q.c.claimed_by
    return (
        update(Q)
        .where(*where)
        .values(
            done_at=bindparam("b_done_at"),
            outcome=bindparam("b_outcome_value"),
            claimed_by=claimed_by,
            claimed_at=func.coalesce(Q.c.claimed_at, bindparam("b_done_at")),
        )
        .returning(
            Q.c.key,
            Q.c.borrower_id,
            Q.c.loan_id,
            Q.c.party,
            Q.c.number,
            Q.c.script,
            Q.c.policy,
            Q.c.step,
            Q.c.claimed_by,
            _ZONES_OF_ITEM.label("timezones"),
        )
    )


# An item that changed between the statement and the look at it (a claim released at that
# moment) is tried again; this many times at most.
_TRIES = 3


def _on_item(
    conn: Connection,
    record: str,
    item_id: int,
    outcome: Outcome,
    at: datetime,
    agent: str | None,
    recording: Recording | None,
    holder: str | None,
    pending: list[Entry],
) -> Result[OutcomeRecorded]:
    params = {
        "b_item_id": item_id,
        "b_holder": holder,
        "b_agent": agent,
        "b_done_at": to_utc(at),
        "b_outcome_value": outcome.value,
    }
    finish = _finish_open(holder is not None, bool(agent))
    for _ in range(_TRIES):
        row = conn.execute(finish, params).first()
        if row is not None:
            break
        why = _not_finished(conn, record, item_id, outcome, agent, holder)
        if why is not None:
            return why
    else:
        return fail(Problem(record, "item_id", "the item changed while recording; try again"))
    key = f"queue/{row.key}"
    effect = EFFECTS[outcome]
    contact = Contact(
        at=at,
        debt_id=row.loan_id,
        channel="call",
        party=row.party,
        number=row.number,
        connected=effect.connected,
        conversation=effect.conversation,
        outcome=outcome.value,
        content=row.script,
    )
    on_date = at.astimezone(zones(row.timezones or "")[0]).date()
    pending += insert_new_attempts(
        conn,
        [
            Attempt(
                key,
                row.borrower_id,
                contact,
                on_date,
                policy=row.policy,
                step=row.step,
                agent=agent or row.claimed_by,
                recording=recording,
            )
        ],
    )
    return ok(OutcomeRecorded(key, row.borrower_id, outcome, False))


def _not_finished(
    conn: Connection,
    record: str,
    item_id: int,
    outcome: Outcome,
    agent: str | None,
    holder: str | None,
) -> Result[OutcomeRecorded] | None:
    """Why ``_finish_open`` found no item to finish: the problem, or the same outcome
    recorded before (a retry); None when the item can be finished now."""
    row = conn.execute(_ITEM, {"item_id": item_id}).first()
    if row is None or (holder is not None and row.claimed_by != holder):
        return fail(not_found(record, "no such queue item", "item_id"))
    key = f"queue/{row.key}"
    if row.outcome is not None:
        return _same_or_problem(record, key, row.borrower_id, row.outcome, outcome)
    if agent and row.claimed_by and row.claimed_by != agent:
        return fail(Problem(record, "agent", f"the item is claimed by {row.claimed_by}"))
    return None


def _on_attempt(
    conn: Connection,
    record: str,
    key: str,
    outcome: Outcome,
    at: datetime,
    agent: str | None,
    recording: Recording | None,
) -> Result[OutcomeRecorded]:
    row = conn.execute(
        for_update(conn, select(contact_attempts).where(contact_attempts.c.key == key))
    ).first()
    if row is None:
        return fail(not_found(record, "no such contact attempt", "attempt_key"))
    if row.outcome is not None:
        return _same_or_problem(record, key, row.borrower_id, row.outcome, outcome)
    if row.channel != "call":
        return fail(
            Problem(record, "outcome", f"call outcomes apply to calls, not to {row.channel}")
        )
    effect = EFFECTS[outcome]
    values: dict[str, object] = {
        "outcome": outcome.value,
        "connected": effect.connected,
        "conversation": effect.conversation,
    }
    values.update(_who_and_recording(agent, recording))
    conn.execute(
        update(contact_attempts)
        .where(contact_attempts.c.attempt_id == row.attempt_id)
        .values(values)
    )
    return ok(OutcomeRecorded(key, row.borrower_id, outcome, False))


def _make_promise(
    conn: Connection,
    done: OutcomeRecorded,
    key: str,
    promise: tuple[date, int],
    at: datetime,
) -> None:
    debt = conn.execute(
        select(contact_attempts.c.debt_id).where(contact_attempts.c.key == done.attempt_key)
    ).scalar_one()
    made_on = conn.execute(
        select(contact_attempts.c.on_date).where(contact_attempts.c.key == done.attempt_key)
    ).scalar_one()
    due, amount = promise
    conn.execute(
        insert(promises).values(
            key=key,
            borrower_id=done.borrower_id,
            loan_id=debt,
            promised_on=made_on,
            amount=amount,
            due_on=due,
            status="open",
            paid=0,
            attempt_key=done.attempt_key,
        )
    )
    log.append(
        conn,
        done.borrower_id,
        Kind.PROMISE,
        {
            "event": "made",
            "promise_key": key,
            "loan_id": debt,
            "amount": amount,
            "promised_on": made_on.isoformat(),
            "due_on": due.isoformat(),
        },
        at,
    )
