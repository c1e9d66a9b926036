"""Cases, outcomes and the history the compliance gate sees, on both databases."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.core.compliance import Contact, check
from arrears.core.compliance.packs import get_pack
from arrears.services import events as ev
from arrears.services import evidence as log
from arrears.services.collection.case_frames import case_views
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.gate_context import context_for
from arrears.services.collection.history import Attempt, Recording, history_for, record_attempts
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.queue import enqueue_calls
from arrears.store.case_tables import cases, contact_attempts, promises, queue_items
from arrears.store.tables import loan_state
from factories import refused, succeeded

from .test_cases_support import CLOSE_AT, call_action, overdue_loans, sh

CN = get_pack("cn")
assert CN is not None

# The brief's table (issue 3, item 4 and the cases brief), written out independently of
# arrears.core.contact.outcomes: (connected, conversation) per outcome.
EXPECTED_FLAGS = {
    "reached": (True, True),
    "promise_to_pay": (True, True),
    "refused": (True, True),
    "dispute": (True, True),
    "hardship": (True, True),
    "no_answer": (True, False),
    "busy": (False, False),
    "wrong_number": (False, False),
}


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _queue_one(engine: Engine, loan_id: str = "L1", **kw: object) -> int:
    with engine.begin() as conn:
        added, problems = enqueue_calls(conn, [call_action(loan_id, **kw)])  # type: ignore[arg-type]
        assert (added, problems) == (1, [])
        return int(conn.execute(select(func.max(queue_items.c.item_id))).scalar_one())


def test_sync_cases_opens_for_overdue_and_closes_when_cured(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        synced = sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    assert (synced.opened, synced.closed) == (2, 0)
    with engine.begin() as conn:  # rerun: nothing new
        again = sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    assert (again.opened, again.reprioritised, again.closed) == (0, 0, 0)
    with engine.connect() as conn:
        dpd = conn.execute(select(loan_state.c.dpd).where(loan_state.c.loan_id == "L1")).scalar()
        prio = conn.execute(select(cases.c.priority).where(cases.c.borrower_id == "B-L1")).scalar()
    assert dpd == 15 and prio == 15  # due 2024-02-15, aged through 2024-03-01
    # L1 pays everything it owes; its borrower's case closes as cured at the next sync.
    with engine.connect() as conn:
        row = conn.execute(select(loan_state).where(loan_state.c.loan_id == "L1")).one()
    owed = row.overdue_principal + row.overdue_interest + row.overdue_penalty
    paid = succeeded(ev.pay(engine, "L1", owed, date(2024, 3, 1), "PAY-L1"))
    assert paid.aged.dpd == 0
    with engine.begin() as conn:
        synced = sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    assert synced.closed == 1
    with engine.connect() as conn:
        closed = conn.execute(
            select(cases.c.borrower_id, cases.c.close_reason).where(cases.c.closed_on.is_not(None))
        ).all()
        views = {v["borrower_id"]: v for v in case_views(conn, date(2024, 3, 1))}
        assert log.verify_db(conn) == []
        kinds = [r.kind for r in log.load_chain(conn, "B-L1")]
    assert closed == [("B-L1", "cured")]
    assert kinds == ["case.opened", "case.closed"]
    assert views["B-L1"]["case_id"] is None and views["B-L1"]["prior_cases"] == 1
    assert views["B-L2"]["case_id"] is not None and views["B-L2"]["prior_cases"] == 0
    assert views["B-L2"]["dpd"] == 15
    assert views["B-L2"]["days_to_due"] == 14  # next installment 2024-03-15


@pytest.mark.parametrize("outcome", sorted(EXPECTED_FLAGS))
def test_each_outcome_reaches_the_gate_history(
    engine: Engine, tmp_path: Path, outcome: str
) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    item = _queue_one(engine)
    promise = (date(2024, 3, 8), 50000) if outcome == "promise_to_pay" else None
    with engine.begin() as conn:
        got = record_outcome(
            conn,
            item_id=item,
            outcome=outcome,
            at=sh("2024-03-01 10:05"),
            agent="a1",
            promise=promise,
        )
    assert not succeeded(got).already_recorded
    with engine.connect() as conn:
        (contact,) = history_for(conn, ["B-L1"])["B-L1"]
        ctx = context_for(conn, ["B-L1"], sh("2024-03-01 11:00"))["B-L1"]
        flags = conn.execute(select(cases.c.dispute, cases.c.hardship)).one()
        chain = log.load_chain(conn, "B-L1")
        assert log.verify_db(conn) == []
    assert (contact.connected, contact.conversation) == EXPECTED_FLAGS[outcome]
    assert contact.outcome == outcome and contact.channel == "call"
    assert (bool(flags.dispute), bool(flags.hardship)) == (
        outcome == "dispute",
        outcome == "hardship",
    )
    assert ctx.dispute_open is (outcome == "dispute")
    kinds = [r.kind for r in chain]
    expected = ["case.opened", "contact.attempt", "contact.outcome"]
    if outcome == "promise_to_pay":
        expected.append("promise")
    assert kinds == expected
    assert chain[2].payload["outcome"] == outcome


def test_dispute_pauses_collection_calls_at_the_gate(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    item = _queue_one(engine)
    with engine.begin() as conn:
        succeeded(record_outcome(conn, item_id=item, outcome="dispute", at=sh("2024-03-01 10:05")))
    proposed = Contact(
        at=sh("2024-03-02 10:00"), debt_id="L1", channel="call", number="13800138000"
    )
    with engine.connect() as conn:
        hist = history_for(conn, ["B-L1"])["B-L1"]
        ctx = context_for(conn, ["B-L1"], proposed.at)["B-L1"]
    decision = check(hist, proposed, ctx, CN)
    assert not decision.allowed
    assert "cn.pause.dispute" in {v.rule for v in decision.violations}


def test_refused_emergency_contact_is_not_called_again(engine: Engine, tmp_path: Path) -> None:
    """CN: stop when a contact refuses further contact (REFERENCES.md, China)."""
    overdue_loans(engine, tmp_path, ["L1"], emergency={"B-L1": ["13900000001", "13900000002"]})
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    item = _queue_one(engine, party="emergency_contact", step="call_ec")
    with engine.connect() as conn:
        number = conn.execute(select(queue_items.c.number)).scalar()
    assert number == "13900000001"
    with engine.begin() as conn:
        succeeded(record_outcome(conn, item_id=item, outcome="refused", at=sh("2024-03-01 10:05")))
    proposed = Contact(
        at=sh("2024-03-20 10:00"),
        debt_id="L1",
        channel="call",
        party="emergency_contact",
        number="13900000001",
        content="请转告张三尽快给我们回电",
    )
    # 2024-03-20: the case opened on 03-01 and nobody has spoken with the debtor since, so
    # the debtor counts as unreachable (third parties allowed) after the 7-day default.
    with engine.connect() as conn:
        hist = history_for(conn, ["B-L1"])["B-L1"]
        ctx = context_for(conn, ["B-L1"], proposed.at)["B-L1"]
    assert ctx.reachable is False and ctx.refused == frozenset({"13900000001"})
    # The close passes the history it read (trimmed to the last days for the debtor, every
    # third-party contact kept): the refusal weeks ago must still be in the context.
    with engine.connect() as conn:
        recent = history_for(conn, ["B-L1"], since=proposed.at - timedelta(days=8))
        assert all(c.party != "debtor" for c in recent["B-L1"])
        from_history = context_for(conn, ["B-L1"], proposed.at, histories=recent)["B-L1"]
    assert from_history == ctx
    refused = check(hist, proposed, ctx, CN)
    assert "cn.third-party.refusal" in {v.rule for v in refused.violations}
    other = check(hist, Contact(**{**proposed.__dict__, "number": "13900000002"}), ctx, CN)
    assert other.allowed, other.violations
    # The next emergency-contact call the queue makes goes to the one who did not refuse.
    with engine.begin() as conn:
        added, _ = enqueue_calls(
            conn, [call_action("L1", date(2024, 3, 20), party="emergency_contact", step="call_ec")]
        )
        assert added == 1
        numbers = list(
            conn.execute(select(queue_items.c.number).order_by(queue_items.c.item_id)).scalars()
        )
    assert numbers == ["13900000001", "13900000002"]


def test_three_conversations_a_day_then_the_gate_blocks(engine: Engine, tmp_path: Path) -> None:
    """CN: at most 3 connected conversations with a debtor per day (REFERENCES.md)."""
    overdue_loans(engine, tmp_path, ["L1"])
    for hour, step in ((9, "a"), (11, "b"), (14, "c")):
        item = _queue_one(engine, step=step)
        with engine.begin() as conn:
            succeeded(
                record_outcome(
                    conn, item_id=item, outcome="reached", at=sh(f"2024-03-01 {hour:02d}:00")
                )
            )
    proposed = Contact(
        at=sh("2024-03-01 16:00"), debt_id="L1", channel="call", number="13800138000"
    )
    with engine.connect() as conn:
        hist = history_for(conn, ["B-L1"])["B-L1"]
        ctx = context_for(conn, ["B-L1"], proposed.at)["B-L1"]
    assert len(hist) == 3
    assert "cn.daily-conversations" in {v.rule for v in check(hist, proposed, ctx, CN).violations}
    next_day = Contact(**{**proposed.__dict__, "at": proposed.at + timedelta(hours=17)})
    assert check(hist, next_day, ctx, CN).allowed


def test_same_outcome_twice_applies_once_and_a_different_one_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    item = _queue_one(engine)
    args = {"item_id": item, "at": sh("2024-03-01 10:05"), "agent": "a1"}
    with engine.begin() as conn:
        first = record_outcome(
            conn, outcome="promise_to_pay", promise=(date(2024, 3, 8), 100), **args
        )  # type: ignore[arg-type]
    with engine.connect() as conn:
        records = len(list(log.iter_records(conn)))
    with engine.begin() as conn:
        second = record_outcome(
            conn, outcome="promise_to_pay", promise=(date(2024, 3, 8), 100), **args
        )  # type: ignore[arg-type]
        third = record_outcome(conn, outcome="busy", **args)  # type: ignore[arg-type]
    assert not succeeded(first).already_recorded
    assert succeeded(second).already_recorded
    assert refused(third).field == "outcome"
    assert str(refused(third)) == f"queue item {item}: outcome: already recorded as promise_to_pay"
    assert _count(engine, contact_attempts) == 1 and _count(engine, promises) == 1
    with engine.connect() as conn:
        assert len(list(log.iter_records(conn))) == records


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"outcome": "promise_to_pay"}, "promise"),
        ({"outcome": "reached", "promise": (date(2024, 3, 8), 100)}, "promise"),
        ({"outcome": "promise_to_pay", "promise": (date(2024, 3, 8), 0)}, "promise_amount"),
        ({"outcome": "promise_to_pay", "promise": (date(2024, 2, 29), 100)}, "promise_date"),
        ({"outcome": "answered"}, "outcome"),
        ({"outcome": "reached", "recording": Recording("s3://r/1.wav", "ABC")}, "recording_sha256"),
        ({"outcome": "reached", "item_id": 999}, "item_id"),
    ],
)
def test_bad_outcomes_change_nothing(
    engine: Engine, tmp_path: Path, kwargs: dict[str, object], field: str
) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    item = _queue_one(engine)
    with engine.connect() as conn:
        before = len(list(log.iter_records(conn)))
    call = {"item_id": item, "at": sh("2024-03-01 10:05"), **kwargs}
    with engine.begin() as conn:
        got = record_outcome(conn, **call)  # type: ignore[arg-type]
    assert refused(got).field == field, got
    assert _count(engine, contact_attempts) == 0 and _count(engine, promises) == 0
    with engine.connect() as conn:
        assert len(list(log.iter_records(conn))) == before
        assert conn.execute(select(queue_items.c.done_at)).scalar() is None


def test_outcome_on_a_dispatched_call_with_its_recording(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    placed = Contact(at=sh("2024-03-01 10:00"), debt_id="L1", channel="call", number="13800138000")
    sha = "a" * 64
    with engine.begin() as conn:
        n = record_attempts(
            conn, [Attempt("dial-1", "B-L1", placed, date(2024, 3, 1), "default", "call_debtor")]
        )
        again = record_attempts(
            conn, [Attempt("dial-1", "B-L1", placed, date(2024, 3, 1), "default", "call_debtor")]
        )
        got = record_outcome(
            conn,
            attempt_key="dial-1",
            outcome="no_answer",
            at=sh("2024-03-01 10:01"),
            recording=Recording("file:///rec/dial-1.wav", sha),
        )
    assert (n, again) == (1, 0)
    succeeded(got)
    with engine.connect() as conn:
        row = conn.execute(select(contact_attempts)).one()
        chain = log.load_chain(conn, "B-L1")
    assert (row.connected, row.conversation, row.outcome) == (True, False, "no_answer")
    assert row.recording_sha256 == sha and row.step == "call_debtor"
    assert [r.kind for r in chain] == ["contact.attempt", "contact.outcome"]
    assert chain[1].payload["recording_sha256"] == sha
    views = None
    with engine.connect() as conn:
        views = {v["borrower_id"]: v for v in case_views(conn, date(2024, 3, 2))}
    assert views["B-L1"]["last_step_on"] == {"call_debtor": date(2024, 3, 1)}
    assert views["B-L1"]["last_conversation_on"] is None


def test_case_views_unreachable_days_and_promises(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(
        engine,
        tmp_path,
        ["L1", "L2"],
        profiles={"B-L2": {"risk_score": 800}},
        emergency={"B-L2": ["139", "137"]},
    )
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    item = _queue_one(engine, "L2")
    with engine.begin() as conn:
        succeeded(
            record_outcome(
                conn,
                item_id=item,
                outcome="promise_to_pay",
                at=sh("2024-03-03 10:00"),
                promise=(date(2024, 3, 9), 10000),
            )
        )
        views = {v["borrower_id"]: v for v in case_views(conn, date(2024, 3, 6))}
    one, two = views["B-L1"], views["B-L2"]
    assert one["unreachable_days"] == 5  # case opened 03-01, never spoken with
    assert two["unreachable_days"] == 3  # spoken with on 03-03
    assert two["promise_until"] == date(2024, 3, 9) and one["promise_until"] is None
    assert (one["risk_score"], two["risk_score"]) == (500, 800)
    assert (one["emergency_contacts"], two["emergency_contacts"]) == (0, 2)
    assert one["loan_id"] == "L1" and one["overdue"] > 0 and one["outstanding"] >= one["overdue"]


def test_one_open_case_per_borrower_is_enforced_by_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(cases).values(borrower_id="B-L1", opened_on=date(2024, 3, 2)))
