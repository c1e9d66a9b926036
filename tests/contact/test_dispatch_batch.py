"""The batched dispatcher on real databases (SQLite; PostgreSQL when ARREARS_TEST_DATABASE_URL is
set): adapters that take a batch (``send_many``), marks made per batch, the claim's cursor.

Expectations come from outside the code under test: a script of what each message's delivery
answers gives each row's final status; the mailbox holds one copy per key; every delivered
row has exactly one CONTACT_ATTEMPT record; a claim lost to another dispatcher is not marked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, text

from arrears.adapters import Delivery, MailboxAdapter, WebhookAdapter, WebhookConfig
from arrears.adapters.base import BatchAdapter
from arrears.core.contact.messages import OutboundMessage
from arrears.services import evidence as log
from arrears.services import outbox
from arrears.services.collection.dispatch import BATCH, RetryPolicy, batch_size, dispatch
from arrears.store.outbox_tables import mailbox
from arrears.store.outbox_tables import outbox as outbox_table

from .test_adapters import message
from .test_outbox import LEASE, NOW, Crash, messages, sent_in_evidence

# What the scripted adapters answer for a key, by the key's last digit.
SCRIPT = {
    "0": "ok", "1": "ok", "2": "ok", "3": "ok", "4": "ok",
    "5": "transient", "6": "permanent", "7": "ok", "8": "ok", "9": "transient",
}  # fmt: skip


def scripted(m: OutboundMessage) -> Delivery:
    kind = SCRIPT[m.key[-1]]
    if kind == "ok":
        return Delivery.ok(f"p-{m.key}")
    return Delivery.failed(f"{kind} for {m.key}", permanent=kind == "permanent")


class OneByOne:
    name = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: OutboundMessage) -> Delivery:
        self.calls += 1
        return scripted(message)


class InBatches(OneByOne):
    batch_size = 7

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]:
        self.batches.append(len(messages))
        return [scripted(m) for m in messages]


def expected_status(m: OutboundMessage) -> str:
    if m.expires_at is not None and m.expires_at <= NOW:
        return "failed"
    return {"ok": "sent", "transient": "queued", "permanent": "failed"}[SCRIPT[m.key[-1]]]


@pytest.mark.parametrize("adapter_type", [OneByOne, InBatches])
def test_each_row_ends_as_its_delivery_says_and_delivered_rows_are_evidenced(
    engine: Engine, adapter_type: type[OneByOne]
) -> None:
    batch = messages(40)
    # Every sixth message expired before the pass: failed without being sent.
    batch = [replace(m, expires_at=NOW) if i % 6 == 5 else m for i, m in enumerate(batch)]
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW - timedelta(hours=1))
    adapter = adapter_type()
    report = dispatch(engine, {"sms": adapter}, NOW)
    want = {m.key: expected_status(m) for m in batch}
    with engine.connect() as conn:
        got = {m.key: outbox.get(conn, m.key) for m in batch}
        assert log.verify_db(conn) == []
    assert {k: r.status for k, r in got.items() if r} == want
    live = [m for m in batch if not (m.expires_at and m.expires_at <= NOW)]
    assert adapter.calls == (0 if isinstance(adapter, BatchAdapter) else len(live))
    if isinstance(adapter, InBatches):
        assert sum(adapter.batches) == len(live) and max(adapter.batches) <= 7
    counts = Counter(want.values())
    expired = sum(1 for m in batch if m.expires_at)
    assert (report.claimed, report.sent, report.retrying) == (40, counts["sent"], counts["queued"])
    assert (report.failed, report.expired, report.lost_claims) == (
        counts["failed"] - expired,
        expired,
        0,
    )
    for m in batch:
        row = got[m.key]
        assert row is not None and row.attempts == 1
        if want[m.key] == "sent":
            assert row.provider_id == f"p-{m.key}" and row.sent_at == NOW and not row.last_error
        elif want[m.key] == "queued":
            assert row.next_attempt_at == NOW + RetryPolicy().delay(1)
            assert row.last_error == f"transient for {m.key}"
        elif m.expires_at:
            assert row.last_error == "expired before it could be sent"
        else:
            assert row.last_error == f"permanent for {m.key}"
    evidence = sent_in_evidence(engine)
    assert sorted(str(p["key"]) for p in evidence) == sorted(
        k for k, s in want.items() if s == "sent"
    )
    assert all(p["provider_id"] == f"p-{p['key']}" for p in evidence)


def test_the_mailbox_takes_a_batch_in_one_go_and_drops_duplicates(engine: Engine) -> None:
    adapter = MailboxAdapter(engine, clock=lambda: NOW)
    before = adapter.send(message(key="old"))
    a, b = message(key="a"), message(key="b")
    out = adapter.send_many([a, replace(a, body="a second copy"), message(key="old"), b, a])
    assert all(d.delivered for d in out)
    assert out[0] == out[1] == out[4] and out[2] == before and out[3] != out[0]
    assert len({out[0].provider_id, out[2].provider_id, out[3].provider_id}) == 3
    with engine.connect() as conn:
        boxed = {r.message_key: r for r in conn.execute(select(mailbox))}
    assert set(boxed) == {"old", "a", "b"} and boxed["a"].body == a.body  # the first copy
    for m, d in zip([a, b], [out[0], out[3]], strict=True):
        assert d.provider_id == f"mailbox:{boxed[m.key].mailbox_id}"
    assert adapter.send_many([]) == []


def test_a_failing_mailbox_batch_answers_every_message_failed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE mailbox"))
    out = MailboxAdapter(engine).send_many([message(key="a"), message(key="b")])
    assert len(out) == 2 and all(not d.delivered and not d.permanent for d in out)
    assert all((d.error or "").startswith("mailbox:") for d in out)


class CrashAfterSendMany:
    def __init__(self, inner: MailboxAdapter) -> None:
        self.inner = inner
        self.name = inner.name
        self.batch_size = inner.batch_size

    def send(self, message: OutboundMessage) -> Delivery:  # pragma: no cover - not used
        raise AssertionError("the batch path sends")

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]:
        self.inner.send_many(messages)
        raise Crash


def test_a_crash_between_batch_send_and_mark_resends_the_same_keys_once_boxed(
    engine: Engine,
) -> None:
    batch = messages(12)
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW)
    box = MailboxAdapter(engine, clock=lambda: NOW)
    with pytest.raises(Crash):
        dispatch(engine, {"sms": CrashAfterSendMany(box)}, NOW)
    with engine.connect() as conn:
        first_ids = dict(conn.execute(select(mailbox.c.message_key, mailbox.c.mailbox_id)).all())
        rows = [outbox.get(conn, m.key) for m in batch]
    assert set(first_ids) == {m.key for m in batch}
    assert all(r is not None and r.status == "sending" for r in rows)
    assert sent_in_evidence(engine) == []
    assert dispatch(engine, {"sms": box}, NOW + LEASE / 2).claimed == 0  # the lease holds
    report = dispatch(engine, {"sms": box}, NOW + LEASE + timedelta(seconds=1))
    assert report.sent == 12 and report.lost_claims == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mailbox)).scalar_one() == 12
        sent = {m.key: outbox.get(conn, m.key) for m in batch}
    for key, row in sent.items():
        assert row is not None and row.status == "sent" and row.attempts == 2
        assert row.provider_id == f"mailbox:{first_ids[key]}"  # the first copy's id
    assert Counter(str(p["key"]) for p in sent_in_evidence(engine)) == {m.key: 1 for m in batch}


def test_marks_by_batch_skip_claims_lost_to_another_dispatcher(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(6), NOW)
    with engine.begin() as conn:
        mine = outbox.claim(conn, ["sms"], NOW, 10, LEASE)
    later = NOW + LEASE + timedelta(seconds=1)
    with engine.begin() as conn:  # the lease ran out: another dispatcher takes the first two
        theirs = outbox.claim(conn, ["sms"], later, 2, LEASE)
    lost = {r.message.key for r in theirs}
    assert lost == {mine[0].message.key, mine[1].message.key}
    with engine.begin() as conn:
        marked = outbox.mark_sent_many(conn, [(r, f"p-{r.message.key}") for r in mine[:3]], later)
        retried = outbox.mark_retry_many(conn, [(r, "503", later) for r in mine[3:5]])
        failed = outbox.mark_failed_many(conn, [(mine[0], "400"), (mine[5], "400")])
        rows = {r.message.key: outbox.get(conn, r.message.key) for r in mine}
    assert marked == {mine[2].message.key}
    assert retried == {mine[3].message.key, mine[4].message.key}
    assert failed == {mine[5].message.key}
    for key in lost:  # untouched: still the other dispatcher's claim
        row = rows[key]
        assert row is not None and row.status == "sending" and row.attempts == 2
        assert row.provider_id is None and row.last_error is None


def test_a_batch_whose_claims_were_partly_lost_reports_them_and_evidences_the_rest(
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(10), NOW)
    later = NOW + LEASE + timedelta(seconds=1)

    class Slow:
        """Takes so long that the lease runs out and another dispatcher re-claims three rows."""

        name = "slow"
        batch_size = 100

        def send(self, message: OutboundMessage) -> Delivery:  # pragma: no cover - not used
            raise AssertionError("the batch path sends")

        def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]:
            with engine.begin() as conn:
                self.stolen = {r.message.key for r in outbox.claim(conn, ["sms"], later, 3, LEASE)}
            return [Delivery.ok(f"p-{m.key}") for m in messages]

    slow = Slow()
    report = dispatch(engine, {"sms": slow}, NOW)
    assert len(slow.stolen) == 3
    assert (report.claimed, report.sent, report.lost_claims) == (10, 7, 3)
    assert report.errors == ()
    evidenced = {str(p["key"]) for p in sent_in_evidence(engine)}
    with engine.connect() as conn:
        statuses = {r.message.key: r.status for r in outbox.list_rows(conn, limit=100)}
    assert evidenced == {k for k, s in statuses.items() if s == "sent"}
    assert {k for k, s in statuses.items() if s == "sending"} == slow.stolen
    assert not evidenced & slow.stolen


def test_an_adapter_batch_that_raises_or_miscounts_is_retried_not_fatal(engine: Engine) -> None:
    class Broken:
        name = "broken"
        batch_size = 100

        def __init__(self, answer: int | None) -> None:
            self.answer = answer

        def send(self, message: OutboundMessage) -> Delivery:  # pragma: no cover - not used
            raise AssertionError("the batch path sends")

        def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]:
            if self.answer is None:
                raise RuntimeError("bug in the adapter")
            return [Delivery.ok("x")] * self.answer

    with engine.begin() as conn:
        outbox.enqueue(conn, messages(3), NOW)
    report = dispatch(engine, {"sms": Broken(None)}, NOW)
    assert report.retrying == 3 and "RuntimeError: bug in the adapter" in report.errors[0][1]
    later = NOW + timedelta(hours=1)
    report = dispatch(engine, {"sms": Broken(2)}, later)
    assert report.retrying == 3 and "2 deliveries for 3 messages" in report.errors[0][1]
    assert sent_in_evidence(engine) == []


def test_the_default_batch_is_the_smallest_an_adapter_of_the_pass_asks_for(
    engine: Engine,
) -> None:
    box = MailboxAdapter(engine)
    hook = WebhookAdapter(WebhookConfig("http://127.0.0.1:9/", "s" * 32))
    assert batch_size([box]) == box.batch_size > BATCH
    assert batch_size([box, hook]) == batch_size([hook]) == BATCH
    # With the mailbox's batch, a pass still sends every row, a batch at a time.
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(box.batch_size + 5), NOW)
    done: list[int] = []
    report = dispatch(engine, {"sms": box}, NOW, limit=10**6, progress=done.append)
    assert report.sent == box.batch_size + 5 and done == [box.batch_size, 5]


def test_the_claim_cursor_still_takes_rows_that_fall_due_behind_it(engine: Engine) -> None:
    batch = [message(f"k{i}", not_before=NOW + timedelta(minutes=i)) for i in range(6)]
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW)
    at = NOW + timedelta(hours=1)
    cursor = outbox.Cursor()
    with engine.begin() as conn:
        first = outbox.claim(conn, ["sms"], at, 2, LEASE, cursor)
    assert [r.message.key for r in first] == ["k0", "k1"]
    with engine.begin() as conn:  # due before the cursor's position (a late enqueue)
        outbox.enqueue(conn, [message("early", not_before=NOW - timedelta(hours=1))], NOW)
    with engine.begin() as conn:  # a full batch after the cursor: read from there
        second = outbox.claim(conn, ["sms"], at, 2, LEASE, cursor)
    assert [r.message.key for r in second] == ["k2", "k3"]
    with engine.begin() as conn:  # short after the cursor: read again from the head
        third = outbox.claim(conn, ["sms"], at, 10, LEASE, cursor)
    assert [r.message.key for r in third] == ["early", "k4", "k5"]
    with engine.begin() as conn:
        assert outbox.claim(conn, ["sms"], at, 10, LEASE, cursor) == []
        assert outbox.counts(conn)["sending"] == 7


def test_the_claim_reads_past_claimed_rows_at_no_cost_on_postgresql(engine: Engine) -> None:
    # Claimed rows leave dead entries at the head of the 'queued' range of ix_outbox_due, and
    # an open transaction elsewhere (a close) keeps anything from cleaning them. A read from the
    # head steps over every one; a read after the cursor does not.
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's dead index entries")
    n, size = 3000, 100
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(n), NOW - timedelta(hours=1))
    holder = engine.connect()
    holder.execute(text("SELECT txid_current()"))  # the open transaction
    try:
        cursor = outbox.Cursor()
        for _ in range(n // size - 1):
            with engine.begin() as conn:
                rows = outbox.claim(conn, ["sms"], NOW, size, LEASE, cursor)
                outbox.mark_sent_many(conn, [(r, "p") for r in rows], NOW)
        assert cursor.after["queued"][1] == messages(n)[n - size - 1].key

        def buffers(after: bool) -> int:
            where = "status = 'queued' AND next_attempt_at <= %(at)s"
            if after:
                where += " AND (next_attempt_at, message_key) > (%(w)s, %(k)s)"
            sql = (
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT next_attempt_at, message_key "
                f"FROM outbox WHERE {where} ORDER BY next_attempt_at, message_key LIMIT {size}"
            )
            when, key = cursor.after["queued"]
            with engine.connect() as conn:
                [[plan]] = conn.exec_driver_sql(sql, {"at": NOW, "w": when, "k": key}).all()
            top = plan[0]["Plan"]
            assert top["Actual Rows"] == size
            return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])

        from_head, from_cursor = buffers(False), buffers(True)
    finally:
        holder.rollback()
        holder.close()
    # From the head: a heap page visited for every run of dead entries (91 pages here); after
    # the cursor: the index's path down and the batch's own pages.
    assert from_cursor < 20 and from_cursor * 10 < from_head, (from_cursor, from_head)
    with engine.connect() as conn:
        assert outbox.counts(conn) == {
            "queued": size,
            "sending": 0,
            "sent": n - size,
            "failed": 0,
            "cancelled": 0,
        }


def test_a_batched_pass_matches_a_pass_one_by_one_on_the_mailbox(engine: Engine) -> None:
    # The same rows, once through the mailbox's batches and once one message at a time (what
    # the dispatcher did before): the same statuses, the same boxed bodies, the same evidence.
    class OneAtATime:
        def __init__(self, inner: MailboxAdapter) -> None:
            self.inner, self.name = inner, inner.name

        def send(self, message: OutboundMessage) -> Delivery:
            return self.inner.send(message)

    box = MailboxAdapter(engine, clock=lambda: NOW)
    a, b = messages(30, prefix="a"), messages(30, prefix="b")
    with engine.begin() as conn:
        outbox.enqueue(conn, [*a, *[replace(m, channel="email") for m in b]], NOW)
    one = dispatch(engine, {"sms": OneAtATime(box)}, NOW, batch=BATCH)
    many = dispatch(engine, {"email": box}, NOW)
    assert (one.sent, many.sent) == (30, 30)
    with engine.connect() as conn:
        rows = {r.message.key: r for r in outbox.list_rows(conn, limit=100)}
        boxed = {r.message_key: r for r in conn.execute(select(mailbox))}
        assert conn.execute(select(func.count()).select_from(outbox_table)).scalar_one() == 60
    evidence = {str(p["key"]): p for p in sent_in_evidence(engine)}
    assert set(evidence) == set(boxed) == set(rows)
    for m_a, m_b in zip(a, b, strict=True):
        ra, rb = rows[m_a.key], rows[m_b.key]
        assert (ra.status, ra.attempts, ra.sent_at) == (rb.status, rb.attempts, rb.sent_at)
        assert boxed[m_a.key].body == m_a.body and boxed[m_b.key].body == m_b.body
        for m, r in ((m_a, ra), (m_b, rb)):
            assert r.provider_id == f"mailbox:{boxed[m.key].mailbox_id}"
            assert evidence[m.key]["provider_id"] == r.provider_id
        pa, pb = evidence[m_a.key], evidence[m_b.key]
        same = {"result", "attempt", "body_sha256", "recipient_ref", "adapter", "loan_id"}
        assert {k: pa[k] for k in same} == {k: pb[k] for k in same}
