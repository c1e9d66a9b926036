"""A case routed to people (legal, forbearance, dispute review) is recorded once per case and
kind: the policy routes it again every day its condition holds, and those days add neither a
routing nor an evidence record. A new case of the same borrower is routed afresh."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from arrears.services import evidence as log
from arrears.services.close.gate_phase import ChunkInput, GateConfig, Tally, apply_chunk
from arrears.services.collection.cases import sync_cases
from arrears.store.case_tables import case_routings, cases
from arrears.store.evidence_tables import evidence_records
from arrears.store.migrate import downgrade, upgrade
from contact.test_cases_support import overdue_loans

DAY = date(2024, 3, 20)


def routing(kind: str = "legal") -> dict[str, Any]:
    return {
        "borrower_id": "B-L1",
        "loan_id": "L1",
        "kind": kind,
        "policy": "champion",
        "reason": f"{kind}: the policy's condition holds",
    }


def close_gate(engine: Engine, day: date, kinds: list[str]) -> Tally:
    now = datetime.combine(day, time(1), tzinfo=UTC)
    chunk = ChunkInput(day, [], [routing(k) for k in kinds], {}, now)
    with engine.begin() as conn:
        return apply_chunk(conn, chunk, None, GateConfig())


def routed_records(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        payloads = conn.execute(
            select(evidence_records.c.payload)
            .where(evidence_records.c.kind == "case.routed")
            .order_by(evidence_records.c.seq)
        ).scalars()
        return [(p["kind"], p["business_date"]) for p in map(json.loads, payloads)]


def routings(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        q = select(case_routings.c.case_id, case_routings.c.kind, case_routings.c.routed_on)
        return [tuple(r) for r in conn.execute(q.order_by(case_routings.c.case_id, "kind"))]


def test_a_routing_is_recorded_on_its_first_day_only(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), datetime(2024, 3, 1, 0, 30, tzinfo=UTC))
        case_id = conn.execute(select(cases.c.case_id)).scalar_one()
    first = close_gate(engine, DAY, ["legal"])
    again = close_gate(engine, DAY + timedelta(1), ["legal", "forbearance"])
    close_gate(engine, DAY + timedelta(2), ["forbearance", "legal"])
    d0, d1 = DAY.isoformat(), (DAY + timedelta(1)).isoformat()
    assert routed_records(engine) == [("legal", d0), ("forbearance", d1)]
    assert routings(engine) == [
        (case_id, "forbearance", DAY + timedelta(1)),
        (case_id, "legal", DAY),
    ]
    # The report still counts what the policy routed each day.
    assert first.routings == {("legal", "champion"): 1}
    assert again.routings == {("legal", "champion"): 1, ("forbearance", "champion"): 1}
    with engine.connect() as conn:
        assert log.verify_db(conn) == []


def test_a_new_case_is_routed_afresh(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), datetime(2024, 3, 1, 0, 30, tzinfo=UTC))
    close_gate(engine, DAY, ["legal"])
    with engine.begin() as conn:  # cured, then overdue again: a second case
        conn.execute(update(cases).values(closed_on=DAY, close_reason="cured"))
        conn.execute(insert(cases).values(borrower_id="B-L1", opened_on=DAY + timedelta(5)))
    close_gate(engine, DAY + timedelta(6), ["legal"])
    close_gate(engine, DAY + timedelta(7), ["legal"])
    assert routed_records(engine) == [
        ("legal", DAY.isoformat()),
        ("legal", (DAY + timedelta(6)).isoformat()),
    ]
    assert [kind for _, kind, _ in routings(engine)] == ["legal", "legal"]


def test_the_migration_keeps_what_the_log_has_routed_already(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), datetime(2024, 3, 1, 0, 30, tzinfo=UTC))
        case_id = conn.execute(select(cases.c.case_id)).scalar_one()
    downgrade(engine, "0012")
    for day in (DAY, DAY + timedelta(1)):  # the old close: a record every day
        with engine.begin() as conn:
            log.append(
                conn,
                "B-L1",
                "case.routed",
                {
                    "kind": "legal",
                    "loan_id": "L1",
                    "policy": "champion",
                    "reason": "dpd >= 90",
                    "business_date": day.isoformat(),
                },
                datetime.combine(day, time(1), tzinfo=UTC),
            )
    upgrade(engine)
    assert routings(engine) == [(case_id, "legal", DAY)]
    close_gate(engine, DAY + timedelta(2), ["legal"])
    assert len(routed_records(engine)) == 2  # nothing added after the migration
