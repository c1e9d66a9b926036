"""The agent queue: order, enqueue once per action, claim once (also under concurrency)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.core.contact.queue import QueueItem, ordered
from arrears.services.collection.queue import enqueue_calls, list_queue, next_item
from arrears.store.case_tables import queue_items
from arrears.store.engine import make_engine

from .test_cases_support import call_action, overdue_loans, sh

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def item(item_id: int, borrower: str, priority: int, dpd: int, amount: int) -> QueueItem:
    return QueueItem(
        item_id,
        f"k{item_id}",
        borrower,
        "L",
        "p",
        "s",
        "debtor",
        "1",
        "",
        priority,
        dpd,
        amount,
        T0,
    )


def test_queue_order_priority_then_dpd_then_amount_then_borrower() -> None:
    items = [
        item(1, "B3", 0, 30, 100),
        item(2, "B1", 5, 1, 1),
        item(3, "B2", 0, 30, 500),
        item(4, "B1", 0, 30, 500),
        item(5, "B9", 0, 60, 1),
        item(6, "B1", 0, 30, 500),  # equal to item 4 on every key: stays after it
    ]
    # By hand: priority 5 first (2); then dpd 60 (5); then dpd 30 by amount 500 (B1: 4, 6;
    # B2: 3) before amount 100 (1).
    assert [i.item_id for i in ordered(items)] == [2, 5, 4, 6, 3, 1]
    assert [i.item_id for i in ordered(reversed(items))] == [2, 5, 6, 4, 3, 1]


def test_enqueue_once_per_action_and_claim_in_order(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2", "L3"], through=date(2024, 3, 1))
    actions = [
        call_action("L1", priority=1),
        call_action("L2", priority=3),
        call_action("L3", priority=1, at=time(15, 0)),
        call_action("L1", party="emergency_contact", step="call_ec"),  # no emergency contact
    ]
    with engine.begin() as conn:
        added, problems = enqueue_calls(conn, actions)
    assert added == 3
    assert [(p.field, p.reason) for p in problems] == [
        ("number", "no emergency_contact number to call")
    ]
    with engine.begin() as conn:  # the close reruns: nothing is queued twice
        assert enqueue_calls(conn, actions[:3]) == (0, [])
    with engine.begin() as conn:
        first = next_item(conn, "alice", sh("2024-03-01 10:00"))
        again = next_item(conn, "alice", sh("2024-03-01 10:01"))  # still her current item
        second = next_item(conn, "bob", sh("2024-03-01 10:00"))
        # L3 is due at 15:00 Shanghai time: not before then.
        nothing = next_item(conn, "carol", sh("2024-03-01 14:59"))
        third = next_item(conn, "carol", sh("2024-03-01 15:00"))
    assert first is not None and first.loan_id == "L2" and first.claimed_by == "alice"
    assert again == first
    assert second is not None and second.loan_id == "L1"
    assert nothing is None
    assert third is not None and third.loan_id == "L3"
    assert third.due_at == sh("2024-03-01 15:00")
    with engine.connect() as conn:
        assert [i.loan_id for i in list_queue(conn)] == ["L2", "L1", "L3"]
        assert [i.loan_id for i in list_queue(conn, agent="bob")] == ["L1"]


def test_concurrent_agents_claim_each_item_once(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    loans = [f"L{i}" for i in range(12)]
    overdue_loans(engine, tmp_path, loans)
    with engine.begin() as conn:
        added, _ = enqueue_calls(
            conn, [call_action(lid, priority=i % 3) for i, lid in enumerate(loans)]
        )
    assert added == 12
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def agent(name: str) -> None:
        eng = make_engine(db_url)
        try:
            barrier.wait()
            mine: list[int] = []
            while True:
                with eng.begin() as conn:
                    got = next_item(conn, name, sh("2024-03-01 12:00"))
                    if got is None:
                        break
                    # Finish it so the next call claims a new one.
                    conn.execute(
                        queue_items.update()
                        .where(queue_items.c.item_id == got.item_id)
                        .values(done_at=T0)
                    )
                    mine.append(got.item_id)
            claimed[name] = mine
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=agent, args=(f"agent{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert sorted(every) == sorted(set(every)) and len(every) == 12
    with engine.connect() as conn:
        owners = conn.execute(
            select(func.count()).select_from(queue_items).where(queue_items.c.claimed_by.is_(None))
        ).scalar_one()
    assert owners == 0


def test_non_call_actions_are_a_bug() -> None:
    from dataclasses import replace

    sms = replace(call_action("L1"), channel="sms")
    with pytest.raises(ValueError):
        enqueue_calls(None, [sms])  # type: ignore[arg-type]


def test_postgresql_claim_skips_a_row_another_agent_holds(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises whole transactions")
    from sqlalchemy import text

    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        enqueue_calls(conn, [call_action("L1", priority=2), call_action("L2", priority=1)])
    other = make_engine(db_url)
    try:
        with engine.begin() as first, other.begin() as second:
            a = next_item(first, "alice", sh("2024-03-01 12:00"))  # holds L1's row, uncommitted
            # Without SKIP LOCKED this would wait for alice's transaction; fail instead of hang.
            second.execute(text("SET LOCAL lock_timeout = '5s'"))
            b = next_item(second, "bob", sh("2024-03-01 12:00"))
            assert a is not None and b is not None
            assert (a.loan_id, b.loan_id) == ("L1", "L2")
    finally:
        other.dispose()
