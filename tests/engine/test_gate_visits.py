"""Home visits at the close: the rare, costly last step, booked to each region's field team.

A supervisor is asked to approve a visit only where there is an address to go to; an approved
visit is booked while its region has room that day (settings ``visits_per_region_per_day``) and
otherwise waits, approved, for a day with room.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from arrears.core.contact.action import PlannedAction
from arrears.services.close.gate_phase import ChunkInput, GateConfig, Tally, apply_chunk
from arrears.services.collection.visits import approve_visit, request_visit
from arrears.store.case_tables import visits
from contact.test_cases_support import overdue_loans, sh
from contact.test_visits import _people
from factories import succeeded

DAY = date(2024, 3, 18)  # the visits are booked for two days later, the 20th (test_visits)


def _gate(engine: Engine, day: date, actions: list[PlannedAction], per_region: int = 4) -> Tally:
    routings: list[dict[str, Any]] = []
    return _apply(engine, day, actions, routings, per_region)


def _apply(
    engine: Engine,
    day: date,
    actions: list[PlannedAction],
    routings: list[dict[str, Any]],
    per_region: int = 4,
) -> Tally:
    now = datetime.combine(day, time(1), tzinfo=UTC)
    chunk = ChunkInput(day, actions, routings, {}, now)
    with engine.begin() as conn:
        return apply_chunk(conn, chunk, None, GateConfig(visits_per_region=per_region))


def _visit_action(loan_id: str, day: date) -> PlannedAction:
    return PlannedAction(
        borrower_id=f"B-{loan_id}",
        loan_id=loan_id,
        business_date=day,
        policy="default",
        step="home_visit",
        channel="visit",
        party="debtor",
        template="home_visit_script",
        local_time=time(10, 0),
        priority=30,
    )


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(visits.c.loan_id, visits.c.status)).all()
    return {loan: status for loan, status in rows}


def test_no_visit_is_requested_for_a_borrower_without_an_address(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(
        engine,
        tmp_path,
        ["L1", "L2", "L3"],
        profiles={"B-L1": {"address": "上海市某路1号"}, "B-L2": {"address": "  "}},
    )
    asked = [
        {
            "borrower_id": f"B-{loan}",
            "loan_id": loan,
            "kind": "visit_approval",
            "policy": "default",
            "reason": "visit: unreachable 14 days",
        }
        for loan in ("L1", "L2", "L3")
    ]
    tally = _apply(engine, DAY, [], asked)
    assert _statuses(engine) == {"L1": "requested"}
    assert tally.blocked["visit.no_address"] == 2


def test_approved_visits_are_booked_to_each_regions_capacity(
    engine: Engine, tmp_path: Path
) -> None:
    addresses = {"L1": "上海市某路1号", "L2": "上海市某路2号", "L3": "广东省深圳市某路3号"}
    overdue_loans(
        engine,
        tmp_path,
        sorted(addresses),
        profiles={f"B-{k}": {"address": a} for k, a in addresses.items()},
    )
    _people(engine)
    with engine.begin() as conn:
        for loan in sorted(addresses):
            v = succeeded(
                request_visit(conn, f"visit-{loan}", loan, "agent7", sh("2024-03-10 09:00"), "r")
            )
            succeeded(approve_visit(conn, v.visit_id, "supervisor1", sh("2024-03-11 09:00")))
    tally = _gate(engine, DAY, [_visit_action(k, DAY) for k in sorted(addresses)], per_region=1)
    # One visit for Shanghai's team, one for Guangdong's; the second in Shanghai waits.
    assert _statuses(engine) == {"L1": "noticed", "L2": "approved", "L3": "noticed"}
    assert tally.blocked["visit.over_capacity"] == 1
    # The next day books the 21st, where Shanghai has room again.
    nxt = DAY + timedelta(days=1)
    _gate(engine, nxt, [_visit_action("L2", nxt)], per_region=1)
    assert _statuses(engine)["L2"] == "noticed"
    with engine.connect() as conn:
        start = conn.execute(
            select(visits.c.window_start).where(visits.c.loan_id == "L2")
        ).scalar_one()
    assert start is not None and start.date() == date(2024, 3, 21)
