"""The evidence log says what happened to each contact, in order, and nothing that did not.

The gate plans contacts (``contact.planned``: the rule checks it passed); only the dispatcher
makes them (``contact.sent``, then ``contact.delivered`` or ``contact.failed`` with the
provider's answer, or ``contact.expired`` when the window ended unsent). A close that nobody
dispatches has therefore planned a great deal and made nothing: no ``contact_attempts`` row, no
``contact.attempt`` record. Independent expectation: the outbox's own statuses, row by row.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, func, select

from arrears.adapters.base import Delivery
from arrears.core.contact.messages import OutboundMessage
from arrears.core.evidence.chain import Kind
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.collection.dispatch import dispatch
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.store.case_tables import contact_attempts, queue_items
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records
from arrears.store.outbox_tables import outbox

START = date(2026, 3, 2)
FIRST = START + timedelta(days=30)
CLOSES = 3


def _closed(url: str) -> Engine:
    engine = make_engine(url)
    scenario.build(engine, START, loans=60, seed=5, pack="cn", days=60)
    config = CloseConfig(default_policy_set())
    for i in range(CLOSES):
        d = FIRST + timedelta(days=i)
        close_business_day(engine, d, config, now=datetime.combine(d, time(0, 30), UTC))
    return engine


def _kinds(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(evidence_records.c.kind, func.count()).group_by(evidence_records.c.kind)
        ).all()
    return Counter({kind: n for kind, n in rows})


def _keys(engine: Engine, kind: Kind, *, messages_only: bool = False) -> list[str]:
    """Keys of the records of ``kind``; ``messages_only``: not the agent queue's calls."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(evidence_records.c.payload).where(evidence_records.c.kind == kind.value)
        ).scalars()
        payloads = [json.loads(p) for p in rows]
    return sorted(p["key"] for p in payloads if not (messages_only and p.get("channel") == "call"))


def _statuses(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status, outbox.c.message_key)).all()
    out: dict[str, list[str]] = {}
    for status, key in rows:
        out.setdefault(status, []).append(key)
    return {s: sorted(k) for s, k in out.items()}


def test_undispatched_closes_plan_contacts_and_record_none_made(db_url: str) -> None:
    engine = _closed(db_url)
    kinds = _kinds(engine)
    with engine.connect() as conn:
        made = conn.execute(select(func.count()).select_from(contact_attempts)).scalar_one()
        messages = sorted(conn.execute(select(outbox.c.message_key)).scalars())
        calls = sorted(conn.execute(select(queue_items.c.key)).scalars())
    assert messages and calls, "the scenario must be deep enough in arrears to contact people"
    assert made == 0
    assert kinds[Kind.CONTACT_ATTEMPT.value] == 0
    assert kinds[Kind.CONTACT_SENT.value] == 0
    # One planned record for each message and each call the closes put in the outbox and queue.
    assert _keys(engine, Kind.CONTACT_PLANNED) == sorted(messages + calls)
    # Each says when it is planned and when it lapses in the same local time (20:00 Beijing).
    with engine.connect() as conn:
        payloads = conn.execute(
            select(evidence_records.c.payload).where(
                evidence_records.c.kind == Kind.CONTACT_PLANNED.value
            )
        ).scalars()
        planned = [json.loads(p) for p in payloads]
    assert {p["planned_at"][-6:] for p in planned} == {"+08:00"}
    assert {p["expires_at"][-15:] for p in planned} == {"T20:00:00+08:00"}


class _Provider:
    """Sends every message to an SMS gateway that refuses one recipient in three."""

    name = "test-gateway"

    def send(self, message: OutboundMessage) -> Delivery:
        if int(message.body_sha256[:4], 16) % 3 == 0:
            return Delivery.failed("400 number not in service", permanent=True)
        return Delivery.ok(f"gw-{message.key}")


def test_dispatch_records_sent_failed_and_expired_as_the_outbox_ends_them(db_url: str) -> None:
    engine = _closed(db_url)
    provider = _Provider()
    channels = {"sms": provider, "email": provider, "app": provider, "letter": provider}
    # Part of the first day's messages go out that morning; the rest wait until the window
    # (20:00 Beijing time) has closed and expire unsent.
    dispatch(engine, channels, datetime.combine(FIRST, time(3, 0), UTC), limit=40)
    last = FIRST + timedelta(days=CLOSES - 1)
    dispatch(engine, channels, datetime.combine(last, time(10, 0), UTC), limit=100_000)
    status = _statuses(engine)
    assert status.get("queued", []) == [] and status.get("sending", []) == []
    assert status.get("sent") and status.get("failed")
    sent = _keys(engine, Kind.CONTACT_SENT)
    assert sent == status["sent"]
    assert _keys(engine, Kind.CONTACT_DELIVERED) == []  # the gateway only says it took them
    failed_or_expired = sorted(
        _keys(engine, Kind.CONTACT_FAILED) + _keys(engine, Kind.CONTACT_EXPIRED, messages_only=True)
    )
    assert failed_or_expired == status["failed"]
    with engine.connect() as conn:
        expired = conn.execute(
            select(outbox.c.message_key).where(
                outbox.c.status == "failed", outbox.c.last_error.like("expired%")
            )
        ).scalars()
        expired_rows = sorted(expired)
        made = sorted(conn.execute(select(contact_attempts.c.key)).scalars())
    assert expired_rows and expired_rows == _keys(engine, Kind.CONTACT_EXPIRED, messages_only=True)
    # What the caps count is what went out, once each.
    assert made == sent


def test_the_evidence_names_recipients_by_keyed_reference_only(db_url: str) -> None:
    """No record carries a phone number or an address, nor their plain SHA-256 (reversible by
    trying every number): each names its recipient by the HMAC under the reference key, the
    same for the planned contact, the message sent and the call made, so the chain needs
    nothing that erasing the borrower's personal data would take away."""
    from arrears.core.people.references import keyed_ref
    from arrears.services.collection.outcomes import record_outcome
    from arrears.services.collection.queue import next_item
    from arrears.services.references import process_reference_key
    from arrears.store import tables
    from arrears.store.profile_tables import borrower_profiles, emergency_contacts

    engine = _closed(db_url)
    provider = _Provider()
    channels = {"sms": provider, "email": provider, "app": provider, "letter": provider}
    dispatch(engine, channels, datetime.combine(FIRST, time(3, 0), UTC), limit=40)
    last = FIRST + timedelta(days=CLOSES - 1)
    at = datetime.combine(last, time(7, 0), UTC)  # 15:00 in Beijing: the calls are due
    with engine.begin() as conn:
        item = next_item(conn, "agent1", at)
        assert item is not None
        done, problems = record_outcome(
            conn, outcome="no_answer", at=at + timedelta(minutes=3), item_id=item.item_id
        )
        assert done is not None, problems
    with engine.connect() as conn:
        payloads = conn.execute(select(evidence_records.c.payload)).scalars()
        records = [json.loads(p) for p in payloads]
        phones = set(conn.execute(select(tables.borrowers.c.phone)).scalars())
        phones |= set(conn.execute(select(emergency_contacts.c.phone)).scalars())
        emails = set(conn.execute(select(borrower_profiles.c.email)).scalars()) - {None, ""}
        recipients = set(conn.execute(select(outbox.c.recipient)).scalars())
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    clear = {p for p in phones | emails | recipients if p}
    assert clear and not [p for p in clear if p in text]
    hashed = {hashlib.sha256(p.encode()).hexdigest() for p in clear}
    assert not [h for h in hashed if h in text] and not [h[:12] for h in hashed if h[:12] in text]
    key = process_reference_key()
    refs = {keyed_ref(key, p) for p in phones | recipients}
    named = {r.get("recipient_ref") or r.get("number_ref") for r in records} - {None}
    assert named and named <= refs
    assert any("planned_at" in r and "recipient_ref" in r for r in records)
    assert any("number_ref" in r for r in records)  # the call the agent made
