"""The transactional outbox and the dispatcher on real databases (SQLite; PostgreSQL when
ARREARS_TEST_DATABASE_URL is set), with the real webhook gateway and the mailbox.

Invariants held here: a message exists iff the transaction that enqueued it committed; each key
is applied once by the gateway however often it is sent; a delivered message has exactly one
``contact.sent`` evidence record (and, from the mailbox, ``contact.delivered``), whose hash of
the body matches the body sent.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters import Adapter, Delivery, MailboxAdapter, WebhookAdapter
from arrears.adapters.webhook import WebhookConfig
from arrears.core.compliance.model import Channel
from arrears.core.contact.action import PlannedAction
from arrears.core.contact.messages import OutboundMessage, compose, message_key
from arrears.core.contact.templates import MessageFacts, TemplateError
from arrears.core.evidence.chain import Kind
from arrears.core.people.references import keyed_ref
from arrears.services import evidence as log
from arrears.services import outbox
from arrears.services.collection.dispatch import DispatchReport, RetryPolicy, dispatch
from arrears.services.texts import message_texts
from arrears.store.case_tables import contact_attempts
from arrears.store.outbox_tables import mailbox
from arrears.store.outbox_tables import outbox as outbox_table

from .test_adapters import SECRET, WebhookReceiver, message, running_receiver

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LEASE = RetryPolicy().lease
TEXTS = message_texts()


@pytest.fixture
def gateway() -> Iterator[WebhookReceiver]:
    with running_receiver() as state:
        yield state


def messages(n: int, channel: Channel = "sms", prefix: str = "k") -> list[OutboundMessage]:
    return [
        message(key=f"{prefix}{i:05d}", borrower_id=f"B{i % 7}", channel=channel,
                recipient="a@b.example" if channel == "email" else f"+86138{i:08d}",
                body=f"message {i} 回复TD退订")
        for i in range(n)
    ]  # fmt: skip


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox_table)).scalar_one())


def sent_in_evidence(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [r.payload for r in log.iter_records(conn) if r.kind == Kind.CONTACT_SENT.value]


def of_kind(engine: Engine, kind: Kind) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [r.payload for r in log.iter_records(conn) if r.kind == kind.value]


def hook(url: str, **over: object) -> WebhookAdapter:
    return WebhookAdapter(WebhookConfig(url, SECRET, **{"timeout": 10.0, "backoff": 0.01, **over}))  # type: ignore[arg-type]


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the dispatcher catches it."""


class CrashAfterSend:
    def __init__(self, inner: Adapter) -> None:
        self.inner = inner
        self.name = inner.name

    def send(self, message: OutboundMessage) -> Delivery:
        self.inner.send(message)
        raise Crash


# ---------------------------------------------------------------------------------------------
# enqueue


def test_enqueue_is_idempotent_by_key(engine: Engine) -> None:
    batch = messages(5)
    with engine.begin() as conn:
        assert outbox.enqueue(conn, batch, NOW) == 5
    with engine.begin() as conn:  # the same close run again
        assert outbox.enqueue(conn, [*batch, *messages(2, prefix="new")], NOW) == 2
    with engine.begin() as conn:
        assert outbox.enqueue(conn, [batch[0], batch[0]], NOW) == 0
    assert rows(engine) == 7
    with engine.connect() as conn:
        assert outbox.counts(conn) == {
            "queued": 7,
            "sending": 0,
            "sent": 0,
            "failed": 0,
            "cancelled": 0,
        }
        row = outbox.get(conn, "k00003")
    assert row is not None and row.message == batch[3] and row.attempts == 0
    assert row.next_attempt_at == NOW and row.status == "queued"


def test_enqueue_refuses_one_key_with_two_contents_and_writes_nothing(engine: Engine) -> None:
    a = message(key="same")
    with (
        pytest.raises(ValueError, match="same: enqueued twice with different contents"),
        engine.begin() as conn,
    ):
        outbox.enqueue(conn, [*messages(3), a, replace(a, body="other")], NOW)
    assert rows(engine) == 0


def test_a_rolled_back_close_queues_and_sends_nothing(
    engine: Engine, gateway: WebhookReceiver
) -> None:
    class CloseFailed(Exception):
        pass

    with pytest.raises(CloseFailed), engine.begin() as conn:
        outbox.enqueue(conn, messages(3), NOW)
        raise CloseFailed
    assert rows(engine) == 0
    assert dispatch(engine, {"sms": hook(gateway.url)}, NOW).claimed == 0
    assert gateway.received == []


def test_a_process_killed_before_the_enqueuing_commit_leaves_nothing(
    engine: Engine, db_url: str, gateway: WebhookReceiver
) -> None:
    # A real crash: a separate process enqueues inside a transaction and dies before commit.
    script = (
        "import os, sys\n"
        "from datetime import UTC, date, datetime\n"
        "from arrears.store.engine import make_engine\n"
        "from arrears.services import outbox\n"
        "from arrears.core.contact.messages import OutboundMessage\n"
        "engine = make_engine(sys.argv[1])\n"
        "conn = engine.connect()\n"
        "conn.begin()\n"
        "m = OutboundMessage('dies', 'B1', 'L1', 'sms', 'debtor', '+86138', 'sms_overdue', 'en',"
        " 's', 'b', 'p', 'sms_overdue', date(2026, 3, 2))\n"
        "assert outbox.enqueue(conn, [m], datetime.now(UTC)) == 1\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, db_url], capture_output=True, check=False)
    assert done.returncode == 9, done.stderr.decode()
    assert rows(engine) == 0
    assert dispatch(engine, {"sms": hook(gateway.url)}, NOW).claimed == 0
    assert gateway.received == []


# ---------------------------------------------------------------------------------------------
# dispatch


def test_dispatch_to_the_mailbox_records_evidence(engine: Engine) -> None:
    batch = messages(4)
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW)
    report = dispatch(engine, {"sms": MailboxAdapter(engine, clock=lambda: NOW)}, NOW)
    assert (report.claimed, report.sent, report.failed) == (4, 4, 0)
    assert report.sent_by_channel == {"sms": 4}
    with engine.connect() as conn:
        boxed = {r.message_key: r.body for r in conn.execute(select(mailbox))}
        sent = {r.message.key: r for r in outbox.list_rows(conn, status="sent")}
        assert log.verify_db(conn) == []
    assert boxed == {m.key: m.body for m in batch}
    assert set(sent) == set(boxed)
    assert all(
        r.sent_at == NOW and (r.provider_id or "").startswith("mailbox:") for r in sent.values()
    )
    evidence = {str(p["key"]): p for p in sent_in_evidence(engine)}
    assert set(evidence) == set(boxed)
    for m in batch:
        p = evidence[m.key]
        assert p["body_sha256"] == hashlib.sha256(m.body.encode()).hexdigest()
        assert p["result"] == "sent" and p["adapter"] == "outbox" and p["attempt"] == 1
        assert p["provider_id"] == sent[m.key].provider_id
        assert m.body not in str(p) and m.recipient not in str(p)
    # In the mailbox is arrival itself: each message is delivered too, once.
    delivered = [p for p in of_kind(engine, Kind.CONTACT_DELIVERED)]
    assert sorted(str(p["key"]) for p in delivered) == sorted(boxed)
    assert {p["result"] for p in delivered} == {"delivered"}
    # The contact made is what the caps count: one attempt row per message, at the send.
    with engine.connect() as conn:
        made = conn.execute(select(contact_attempts.c.key, contact_attempts.c.at)).all()
    assert sorted(k for k, _ in made) == sorted(boxed)
    assert {at.replace(tzinfo=UTC) if at.tzinfo is None else at for _, at in made} == {NOW}
    # A second pass has nothing to do.
    assert dispatch(engine, {"sms": MailboxAdapter(engine)}, NOW).claimed == 0


def test_the_mailbox_keeps_one_copy_per_key(engine: Engine) -> None:
    adapter = MailboxAdapter(engine, clock=lambda: NOW)
    first, again = adapter.send(message()), adapter.send(message())
    assert first.delivered and again == first
    other = adapter.send(message(key="other"))
    assert other.delivered and other.provider_id != first.provider_id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mailbox)).scalar_one() == 2


def test_crash_after_send_before_mark_resends_the_same_key_once_applied(
    engine: Engine, gateway: WebhookReceiver
) -> None:
    [m] = messages(1)
    with engine.begin() as conn:
        outbox.enqueue(conn, [m], NOW)
    with pytest.raises(Crash):
        dispatch(engine, {"sms": CrashAfterSend(hook(gateway.url))}, NOW)
    assert gateway.received == [m.key]
    with engine.connect() as conn:
        row = outbox.get(conn, m.key)
    assert row is not None and row.status == "sending" and row.next_attempt_at == NOW + LEASE
    assert sent_in_evidence(engine) == []
    # While the dead dispatcher's lease runs, nobody takes the row; after it, the row is resent.
    assert dispatch(engine, {"sms": hook(gateway.url)}, NOW + LEASE / 2).claimed == 0
    later = NOW + LEASE + timedelta(seconds=1)
    report = dispatch(engine, {"sms": hook(gateway.url)}, later)
    assert report.sent == 1
    assert gateway.received == [m.key, m.key]  # sent twice ...
    assert list(gateway.applied) == [m.key]  # ... applied once
    with engine.connect() as conn:
        row = outbox.get(conn, m.key)
    assert row is not None and row.status == "sent" and row.attempts == 2
    assert [p["key"] for p in sent_in_evidence(engine)] == [m.key]


def test_transient_failures_back_off_then_send(engine: Engine, gateway: WebhookReceiver) -> None:
    [m] = messages(1)
    with engine.begin() as conn:
        outbox.enqueue(conn, [m], NOW)
    gateway.script = [503, 503]
    adapters = {"sms": hook(gateway.url, max_attempts=1)}
    first = dispatch(engine, adapters, NOW)
    assert (first.retrying, first.sent) == (1, 0) and "503" in first.errors[0][1]
    with engine.connect() as conn:
        row = outbox.get(conn, m.key)
    assert row is not None and row.status == "queued" and "503" in (row.last_error or "")
    assert row.next_attempt_at == NOW + timedelta(minutes=1)  # 1 min after the first failure
    assert dispatch(engine, adapters, NOW + timedelta(seconds=59)).claimed == 0
    second = dispatch(engine, adapters, NOW + timedelta(minutes=1))
    assert second.retrying == 1
    with engine.connect() as conn:
        row = outbox.get(conn, m.key)
    assert row is not None and row.next_attempt_at == NOW + timedelta(minutes=3)  # then 2 min
    third = dispatch(engine, adapters, NOW + timedelta(minutes=3))
    assert third.sent == 1
    assert [p["attempt"] for p in sent_in_evidence(engine)] == [3]


def test_backoff_is_doubling_and_capped() -> None:
    policy = RetryPolicy(base=timedelta(minutes=1), cap=timedelta(hours=1))
    assert [policy.delay(n).total_seconds() / 60 for n in (1, 2, 3, 6, 7, 20)] == [
        1,
        2,
        4,
        32,
        60,
        60,
    ]


def test_permanent_failure_and_the_last_attempt_mark_failed(
    engine: Engine, gateway: WebhookReceiver
) -> None:
    a, b = messages(2)
    with engine.begin() as conn:
        outbox.enqueue(conn, [a], NOW)
    gateway.script = [400]
    report = dispatch(engine, {"sms": hook(gateway.url)}, NOW)
    assert report.failed == 1 and report.retrying == 0
    with engine.begin() as conn:
        row = outbox.get(conn, a.key)
        assert row is not None and row.status == "failed" and "400" in (row.last_error or "")
        outbox.enqueue(conn, [b], NOW)
    gateway.script = [503, 503]
    policy = RetryPolicy(max_attempts=2)
    adapters = {"sms": hook(gateway.url, max_attempts=1)}
    assert dispatch(engine, adapters, NOW, policy=policy).retrying == 1
    assert dispatch(engine, adapters, NOW + timedelta(hours=1), policy=policy).failed == 1
    assert gateway.applied == {} and sent_in_evidence(engine) == []
    ends = of_kind(engine, Kind.CONTACT_FAILED)
    assert [(e["key"], e["result"], e["permanent"]) for e in ends] == [
        (a.key, "failed", True),  # the 400: the provider refused it for good
        (b.key, "failed", False),  # the 503s until the last attempt: given up on
    ]
    assert "400" in str(ends[0]["error"]) and "recipient_ref" in ends[0]
    with engine.begin() as conn:
        assert outbox.counts(conn)["failed"] == 2
        assert outbox.requeue(conn, b.key, NOW + timedelta(hours=2))
        assert not outbox.requeue(conn, b.key, NOW + timedelta(hours=2))  # no longer failed
    assert dispatch(engine, adapters, NOW + timedelta(hours=2), policy=policy).sent == 1


def test_not_before_and_expiry_are_honoured(engine: Engine, gateway: WebhookReceiver) -> None:
    early, late = messages(2)
    window_start = NOW + timedelta(hours=1)
    with engine.begin() as conn:
        outbox.enqueue(
            conn,
            [
                replace(
                    early, not_before=window_start, expires_at=window_start + timedelta(hours=10)
                ),
                replace(late, expires_at=NOW + timedelta(minutes=30)),
            ],
            NOW - timedelta(hours=8),  # enqueued by the night's close
        )
    adapters = {"sms": hook(gateway.url)}
    assert dispatch(engine, adapters, NOW).sent == 1  # late: inside its window
    report = dispatch(engine, adapters, NOW + timedelta(hours=12))  # early: window over
    assert (report.expired, report.sent) == (1, 0)
    assert list(gateway.applied) == [late.key]
    with engine.connect() as conn:
        row = outbox.get(conn, early.key)
    assert row is not None and row.status == "failed" and "expired" in (row.last_error or "")
    expired = of_kind(engine, Kind.CONTACT_EXPIRED)
    assert [(e["key"], e["result"]) for e in expired] == [(early.key, "expired")]
    assert of_kind(engine, Kind.CONTACT_FAILED) == []  # an expiry is not a provider's refusal


def test_rows_of_a_channel_without_an_adapter_stay_queued(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, [*messages(2), *messages(3, channel="email", prefix="e")], NOW)
    report = dispatch(engine, {"email": MailboxAdapter(engine)}, NOW)
    assert report.sent == 3
    with engine.connect() as conn:
        assert outbox.counts(conn) == {
            "queued": 2,
            "sending": 0,
            "sent": 3,
            "failed": 0,
            "cancelled": 0,
        }


def test_an_adapter_that_raises_is_retried_not_fatal(engine: Engine) -> None:
    class Broken:
        name = "broken"

        def send(self, message: OutboundMessage) -> Delivery:
            raise RuntimeError("bug in the adapter")

    with engine.begin() as conn:
        outbox.enqueue(conn, messages(2), NOW)
    report = dispatch(engine, {"sms": Broken()}, NOW)
    assert report.retrying == 2 and "RuntimeError: bug in the adapter" in report.errors[0][1]


def test_limit_and_batches(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(12), NOW)
    done: list[int] = []
    report = dispatch(
        engine, {"sms": MailboxAdapter(engine)}, NOW, limit=7, batch=3, progress=done.append
    )
    assert report.claimed == 7 and report.sent == 7 and sum(done) == 7
    assert dispatch(engine, {"sms": MailboxAdapter(engine)}, NOW, limit=100, batch=4).sent == 5


def test_a_claim_lost_to_another_dispatcher_is_not_marked(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(1), NOW)
    with engine.begin() as conn:
        [first] = outbox.claim(conn, ["sms"], NOW, 10, LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    with engine.begin() as conn:
        [second] = outbox.claim(conn, ["sms"], later, 10, LEASE)
    assert (first.attempts, second.attempts) == (1, 2)
    with engine.begin() as conn:
        assert not outbox.mark_sent(conn, first, "late", later)
        assert not outbox.mark_retry(conn, first, "late", later)
        assert outbox.mark_sent(conn, second, "p-2", later)
        row = outbox.get(conn, first.message.key)
    assert row is not None and row.provider_id == "p-2"


def test_concurrent_dispatchers_never_send_a_row_twice(engine: Engine) -> None:
    total = 240
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(total), NOW)
    sends: Counter[str] = Counter()
    lock = threading.Lock()

    class Counting:
        name = "counting"

        def send(self, message: OutboundMessage) -> Delivery:
            with lock:
                sends[message.key] += 1
            return Delivery.ok(f"c-{message.key}")

    reports: list[DispatchReport] = []
    start = threading.Barrier(4)

    def run() -> None:
        start.wait()
        reports.append(dispatch(engine, {"sms": Counting()}, NOW, batch=5))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == 4
    assert sum(r.sent for r in reports) == total
    assert len(sends) == total and max(sends.values()) == 1
    with engine.connect() as conn:
        assert outbox.counts(conn)["sent"] == total
        assert log.verify_db(conn) == []
    assert len(sent_in_evidence(engine)) == total


# ---------------------------------------------------------------------------------------------
# compose


def test_compose_renders_the_action_and_keys_it_stably() -> None:
    action = PlannedAction(
        borrower_id="B1",
        loan_id="L000001",
        business_date=datetime(2026, 3, 2).date(),
        policy="champion",
        step="sms_day1",
        channel="sms",
        party="debtor",
        template="sms_overdue",
    )
    facts = MessageFacts(
        language="en", lender_name="Acme", lender_phone="400-1", borrower_name="Li Lei",
        loan_ref="L000001", overdue_principal=100, days_past_due=1, repay_app="Acme app",
    )  # fmt: skip
    key = b"r" * 32

    def ref(number: str) -> str:
        return keyed_ref(key, number)

    one, two = "+8613800000001", "+8613800000002"
    m = compose(action, facts, one, texts=TEXTS, recipient_ref=ref(one))
    assert m.key == compose(action, facts, one, texts=TEXTS, recipient_ref=ref(one)).key
    assert m.key != compose(action, facts, two, texts=TEXTS, recipient_ref=ref(two)).key
    assert m.key.startswith("2026-03-02:L000001:sms_day1:debtor:")
    assert "+86138" not in m.key and len(m.key) <= 200
    # Keyed, not a plain hash: the number's SHA-256 (which anyone can compute by trying every
    # number) is nowhere in the key, and another key gives another reference.
    assert hashlib.sha256(one.encode()).hexdigest()[:12] not in m.key
    assert keyed_ref(b"s" * 32, one) != ref(one)
    assert m.key == message_key(action.business_date, "L000001", "sms_day1", "debtor", ref(one))
    assert compose(action, facts, "+86138", key="2026-03-02:B1:sms_day1", texts=TEXTS).key == (
        "2026-03-02:B1:sms_day1"
    )
    with pytest.raises(ValueError, match="key or the recipient's reference"):
        compose(action, facts, one, texts=TEXTS)
    assert "principal CN¥1.00" in m.body and m.template == "sms_overdue" and m.policy == "champion"
    with pytest.raises(ValueError, match="not_before must be timezone-aware"):
        compose(action, facts, "+86", not_before=datetime(2026, 3, 2, 10), texts=TEXTS, key="k")
    to_contact = replace(action, party="emergency_contact")
    with pytest.raises(
        TemplateError,
        match="'sms_overdue' is for the borrower and may not go to the emergency_contact",
    ):
        compose(to_contact, facts, "+8613900000000", texts=TEXTS, key="k")
    safe = compose(
        replace(to_contact, template="emergency_contact"),
        facts,
        "+8613900000000",
        texts=TEXTS,
        key="k",
    )
    assert safe.party == "emergency_contact" and "Li Lei" not in safe.body


def test_outbound_message_refuses_malformed_fields() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        message(channel="pigeon")
    with pytest.raises(ValueError, match="recipient is empty"):
        message(recipient="")
    with pytest.raises(ValueError, match=r"1\.\.200 characters"):
        message(key="x" * 201)
    with pytest.raises(ValueError, match="expires_at must be after not_before"):
        message(not_before=NOW, expires_at=NOW)


def test_claims_take_the_oldest_due_first_across_statuses(engine: Engine) -> None:
    # A message whose lease ran out ("sending") and queued ones, interleaved in time: claims
    # come in (next attempt, key) order whatever the status, and never one not yet due.
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    msgs = [message(f"k{i}", not_before=t0 + timedelta(minutes=i)) for i in range(6)]
    with engine.begin() as conn:
        outbox.enqueue(conn, msgs, t0)
    lease = timedelta(seconds=90)
    with engine.begin() as conn:  # k0, k1 claimed and their dispatcher dies
        first = outbox.claim(conn, ["sms"], t0 + timedelta(minutes=1), 2, lease)
    assert [r.message.key for r in first] == ["k0", "k1"]
    # k0 and k1 come back at t0+2m30s (lease), after k2 (t0+2m) and before k3 (t0+3m).
    at = t0 + timedelta(minutes=3)
    with engine.begin() as conn:
        oldest = outbox.claim(conn, ["sms"], at, 1, lease)
    with engine.begin() as conn:
        rest = outbox.claim(conn, ["sms"], at, 10, lease)
    assert [r.message.key for r in oldest] == ["k2"]
    assert sorted(r.message.key for r in rest) == ["k0", "k1", "k3"]


def test_claiming_reads_a_batch_off_the_index_on_sqlite(engine: Engine) -> None:
    # The claim's order is the due index's order, so a batch needs no sort of every due row
    # (which made a million-loan day's outbox take most of an hour to send).
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        q = (
            select(outbox_table.c.next_attempt_at, outbox_table.c.message_key)
            .where(
                outbox_table.c.status == "queued",
                outbox_table.c.next_attempt_at <= at,
                outbox_table.c.channel.in_(["sms", "email"]),
            )
            .order_by(outbox_table.c.next_attempt_at, outbox_table.c.message_key)
            .limit(50)
        )
        sql = str(q.compile(engine, compile_kwargs={"literal_binds": True}))
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert "ix_outbox_due" in plan and "TEMP B-TREE" not in plan, plan
