"""The gate phase planned in worker processes writes exactly what one process writes.

Two databases get the same scenario and the same earlier closes; one closes the day planning
every chunk itself, the other with two planning processes. Every row the gate phase writes and
every evidence record (hashes included: same entries, same order, same chains) must be equal.
And a plan whose borrowers have moved on since it was made (a new evidence record) is made
again in the writing transaction, not written stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from test_close_resume import DAY, NOW, prepared, written

import arrears.services.close.day as day_mod
import arrears.services.close.gate_phase as gate_mod
from arrears.services import evidence as log
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.policy_files import default_policy_set
from arrears.store.evidence_tables import evidence_records
from factories import second_database


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    with second_database(db_url, tmp_path) as url:
        yield url


def everything(engine: Engine) -> dict[str, object]:
    out = written(engine)
    with engine.connect() as conn:
        e = evidence_records
        out["chains"] = conn.execute(
            select(e.c.borrower_id, e.c.seq, e.c.kind, e.c.payload, e.c.hash).order_by(
                e.c.borrower_id, e.c.seq
            )
        ).all()
    return out


def test_two_planning_processes_write_what_one_writes(
    db_url: str, other_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(day_mod, "BORROWERS_PER_CHUNK", 3)  # many chunks even in a small book
    pools: list[int] = []

    class CountedPool(gate_mod.ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(gate_mod, "ProcessPoolExecutor", CountedPool)
    one, two = prepared(db_url), prepared(other_db_url)
    try:
        alone = close_business_day(one, DAY, CloseConfig(default_policy_set()), now=NOW)
        pooled = close_business_day(two, DAY, CloseConfig(default_policy_set(), workers=2), now=NOW)
        assert sum(alone.actions.values()) > 6  # several chunks had work
        assert (pooled.actions, pooled.blocked, pooled.routings) == (
            alone.actions,
            alone.blocked,
            alone.routings,
        )
        assert pools == [2]  # the day really was planned by two processes
        assert everything(two) == everything(one)
        with two.connect() as conn:
            assert log.verify_db(conn) == []
    finally:
        one.dispose()
        two.dispose()


def test_a_plan_overtaken_by_a_new_record_is_made_again(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(day_mod, "BORROWERS_PER_CHUNK", 4)
    engine = prepared(db_url)
    made: list[str] = []
    real_plan = gate_mod.plan_chunk

    def counting_plan(conn, chunk, config):  # type: ignore[no-untyped-def]
        made.append(chunk.borrower_ids[0])
        return real_plan(conn, chunk, config)

    def stale_plans(engine_, chunks, config, workers):  # type: ignore[no-untyped-def]
        # Plan each chunk, then let a borrower of it move on before the plan is written.
        for c in chunks:
            with engine_.connect() as conn:
                plan = counting_plan(conn, c, config)
            with engine_.begin() as conn:
                at = datetime.combine(DAY, time(0, 5), UTC)
                log.append(conn, c.borrower_ids[0], "borrower.request", {"what": "call me"}, at)
            yield c, plan

    monkeypatch.setattr(gate_mod, "plan_chunk", counting_plan)
    monkeypatch.setattr(day_mod, "plans", stale_plans)
    try:
        report = close_business_day(engine, DAY, CloseConfig(default_policy_set()), now=NOW)
        chunks = len(set(made))
        assert sum(report.actions.values()) > 0
        # Every chunk was planned twice: once ahead, once again after its borrower moved on.
        assert len(made) == 2 * chunks
        with engine.connect() as conn:
            assert log.verify_db(conn) == []
    finally:
        engine.dispose()
