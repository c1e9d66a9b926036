"""The close collects garbage less often while it runs and leaves the caller's settings as
they were; the gate's planning processes keep the batch thresholds."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from arrears.services.close import day as day_mod
from arrears.services.close import gate_phase
from arrears.services.close.gc_tuning import BATCH_THRESHOLDS, fewer_collections
from arrears.services.policy_files import default_policy_set


@pytest.fixture
def callers_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(123, 4, 5)  # the embedding application's own choice
    yield (123, 4, 5)
    gc.set_threshold(*before)


def test_batch_thresholds_inside_the_callers_after(callers_thresholds: tuple[int, ...]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == BATCH_THRESHOLDS
        with fewer_collections():  # nested: still batch, and the outer one restores
            assert gc.get_threshold() == BATCH_THRESHOLDS
        assert gc.get_threshold() == BATCH_THRESHOLDS
    assert gc.get_threshold() == callers_thresholds
    assert gc.isenabled()  # less often, never off


def test_the_callers_thresholds_come_back_after_an_error(
    callers_thresholds: tuple[int, ...],
) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a chunk failed")
    assert gc.get_threshold() == callers_thresholds


def test_a_planning_process_starts_with_batch_thresholds(
    callers_thresholds: tuple[int, ...], tmp_path: Path
) -> None:
    gate_phase._worker_init(f"sqlite:///{tmp_path / 'w.db'}", gate_phase.GateConfig())
    try:
        assert gc.get_threshold() == BATCH_THRESHOLDS
    finally:
        assert gate_phase._worker_engine is not None
        gate_phase._worker_engine.dispose()
        gate_phase._worker_engine = None


def test_a_close_runs_with_batch_thresholds(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, callers_thresholds: tuple[int, ...]
) -> None:
    seen: list[tuple[int, int, int]] = []
    real = day_mod.sync_cases

    def watched(conn: Connection, day: date, at: datetime) -> object:
        seen.append(gc.get_threshold())
        return real(conn, day, at)

    monkeypatch.setattr(day_mod, "sync_cases", watched)
    day_mod.close_business_day(engine, date(2026, 1, 5), day_mod.CloseConfig(default_policy_set()))
    assert seen == [BATCH_THRESHOLDS]
    assert gc.get_threshold() == callers_thresholds
