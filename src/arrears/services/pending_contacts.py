"""Contacts planned and not yet made, cancelled when the law's leave to make them is withdrawn.

The gate approved each queued message and each call on the agent queue for the facts of its
close. A Breathing Space moratorium that starts, or a written dispute that arrives, before the
message goes out withdraws that leave: no contact about the debt during Breathing Space (Debt
Respite Scheme Regulations 2020, reg. 7), no collection of a disputed debt until verification
is sent (Reg F §1006.38(d)(2)(i)). The dispatcher does not judge again, so the pending
contacts of the loans concerned are cancelled here, in the transaction that records the
moratorium or the dispute: an outbox row becomes ``cancelled``, a queue item is done with
outcome ``cancelled``, and each gets a ``contact.cancelled`` record that says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update

from arrears.core.evidence.chain import Entry, Kind
from arrears.services import evidence as log
from arrears.services.outbox import as_utc
from arrears.store.case_tables import queue_items
from arrears.store.membership import one_of
from arrears.store.outbox_tables import outbox

CANCELLED = "cancelled"


def cancel_pending(
    conn: Connection,
    loan_ids: Sequence[str],
    *,
    reason: str,
    now: datetime,
) -> int:
    """Cancel the messages still queued and the calls not yet made for ``loan_ids``; how many.
    All of them, whatever day they were planned for: the lender must stop from the moment it
    knows, even before the moratorium's first day (which cannot be a day already closed).
    Nothing here commits."""
    if not loan_ids:
        return 0
    o, q = outbox, queue_items
    queued = select(
        o.c.message_key, o.c.borrower_id, o.c.loan_id, o.c.channel, o.c.party, o.c.step
    ).where(
        one_of(conn, o.c.loan_id, list(loan_ids)),
        o.c.status == "queued",  # one being sent now is the provider's already
    )
    messages = conn.execute(queued.order_by(o.c.message_key)).all()
    calls = conn.execute(
        select(q.c.item_id, q.c.key, q.c.borrower_id, q.c.loan_id, q.c.party, q.c.step)
        .where(
            one_of(conn, q.c.loan_id, list(loan_ids)),
            q.c.done_at.is_(None),
        )
        .order_by(q.c.item_id)
    ).all()
    if messages:
        conn.execute(
            update(o)
            .where(o.c.message_key.in_([m.message_key for m in messages]), o.c.status == "queued")
            .values(status=CANCELLED, last_error=reason[:2000])
        )
    if calls:
        conn.execute(
            update(q)
            .where(q.c.item_id.in_([c.item_id for c in calls]), q.c.done_at.is_(None))
            .values(done_at=as_utc(now), outcome=CANCELLED)
        )
    entries = [
        Entry(b, Kind.CONTACT_CANCELLED, _payload(key, loan, channel, party, step, reason), now)
        for key, b, loan, channel, party, step in messages
    ] + [
        Entry(b, Kind.CONTACT_CANCELLED, _payload(key, loan, "call", party, step, reason), now)
        for _, key, b, loan, party, step in calls
    ]
    log.append_many(conn, entries)
    return len(entries)


def _payload(
    key: str, loan_id: str, channel: str, party: str, step: str, reason: str
) -> dict[str, str]:
    return {
        "key": key,
        "loan_id": loan_id,
        "channel": channel,
        "party": party,
        "step": step,
        "result": CANCELLED,
        "reason": reason,
    }
