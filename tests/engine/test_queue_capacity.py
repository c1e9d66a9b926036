"""The agent queue is planned to capacity and drained by the clock, however long nobody dials.

A collections floor of ``agents`` x ``calls_per_agent_per_day`` makes that many calls a day.
Over 30 closes in which no agent works the queue, the queue's open size never passes one day's
capacity: each close plans at most that many calls, and the calls nobody dialled expire when
their window ends (each with a ``contact.expired`` record, none with a ``contact.attempt``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, func, select

from arrears.core.evidence.chain import Kind
from arrears.core.lender.settings import Capacity
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.collection.queue import next_item
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.store.case_tables import contact_attempts, queue_items
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records

START = date(2026, 3, 2)
FIRST = START + timedelta(days=20)
CAPACITY = Capacity(agents=2, calls_per_agent_per_day=3, visits_per_region_per_day=1)


def _count(engine: Engine, *where: object) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(queue_items).where(*where)).scalar_one()
        )


def test_the_queue_stays_within_capacity_over_30_undialled_closes(db_url: str) -> None:
    engine = make_engine(db_url)
    scenario.build(engine, START, loans=60, seed=5, pack="cn", days=60)
    config = CloseConfig(default_policy_set(), capacity=CAPACITY)
    reports = []
    for i in range(30):
        d = FIRST + timedelta(days=i)
        reports.append(
            close_business_day(engine, d, config, now=datetime.combine(d, time(0, 30), UTC))
        )
        open_now = _count(engine, queue_items.c.done_at.is_(None))
        assert open_now <= CAPACITY.calls_per_day, (d, open_now)
        assert reports[-1].queue.open == open_now
    # The policy wanted more calls than the floor can make: the cut was real.
    assert sum(r.queue.over_capacity for r in reports) > 0
    assert all(r.queue.capacity == 6 for r in reports)
    assert all(r.queue.planned - r.queue.over_capacity <= 6 for r in reports)
    expired = _count(engine, queue_items.c.outcome == "expired")
    assert expired == sum(r.queue.expired for r in reports) > 0
    with engine.connect() as conn:
        records = conn.execute(
            select(func.count()).where(evidence_records.c.kind == Kind.CONTACT_EXPIRED.value)
        ).scalar_one()
        made = conn.execute(select(func.count()).select_from(contact_attempts)).scalar_one()
    assert records == expired and made == 0


def test_an_agent_is_not_given_a_call_whose_window_has_ended(db_url: str) -> None:
    engine = make_engine(db_url)
    scenario.build(engine, START, loans=60, seed=5, pack="cn", days=60)
    config = CloseConfig(default_policy_set(), capacity=CAPACITY)
    close_business_day(engine, FIRST, config, now=datetime.combine(FIRST, time(0, 30), UTC))
    assert _count(engine, queue_items.c.done_at.is_(None)) > 0
    # 21:00 Beijing time: every call of the day was due by 20:00.
    late = datetime.combine(FIRST, time(13, 0), UTC)
    with engine.begin() as conn:
        assert next_item(conn, "agent-1", late) is None
    # The afternoon, within the window: the first call is handed out.
    with engine.begin() as conn:
        item = next_item(conn, "agent-1", datetime.combine(FIRST, time(8, 0), UTC))
    assert item is not None and item.claimed_by == "agent-1"


def test_a_claimed_call_waits_a_day_for_its_write_up_then_expires(db_url: str) -> None:
    engine = make_engine(db_url)
    scenario.build(engine, START, loans=60, seed=5, pack="cn", days=60)
    config = CloseConfig(default_policy_set(), capacity=CAPACITY)

    def close(d: date) -> None:
        close_business_day(engine, d, config, now=datetime.combine(d, time(0, 30), UTC))

    close(FIRST)
    with engine.begin() as conn:
        item = next_item(conn, "agent-1", datetime.combine(FIRST, time(8, 0), UTC))
    assert item is not None
    mine = queue_items.c.item_id == item.item_id
    close(FIRST + timedelta(days=1))  # the agent may still write up yesterday's call
    assert _count(engine, mine, queue_items.c.done_at.is_(None)) == 1
    assert _count(engine, queue_items.c.on_date == FIRST, queue_items.c.claimed_by.is_(None),
                  queue_items.c.outcome != "expired") == 0  # fmt: skip
    close(FIRST + timedelta(days=2))  # a day later the claim is abandoned
    assert _count(engine, mine, queue_items.c.outcome == "expired") == 1
