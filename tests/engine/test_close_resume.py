"""A close that dies in its collection phase and is run again ends where one clean run ends.

Two databases get the same scenario. One closes the day in one go; the other crashes after
its first chunk of borrowers has been gated and committed, then closes again. Every row the
collection phase writes (outbox, agent queue, contact history, visits, evidence) must be the
same, and no action twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import arrears.services.close.day as day_mod
from arrears.services import evidence as log
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.store.case_tables import contact_attempts, queue_items, visits
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records
from arrears.store.outbox_tables import outbox
from factories import second_database

START = date(2026, 3, 2)
DAY = START + timedelta(days=40)  # deep enough into the run that everyone is in collection
NOW = datetime.combine(DAY, time(0, 30), UTC)


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    with second_database(db_url, tmp_path) as url:
        yield url


class Crash(Exception):
    pass


def prepared(url: str) -> Engine:
    engine = make_engine(url)
    scenario.build(engine, START, loans=40, seed=3, pack="cn", days=60)
    # Bring the book to the day before, with collection on every day, as in production.
    config = CloseConfig(default_policy_set())
    d = DAY - timedelta(days=3)
    while d < DAY:
        close_business_day(engine, d, config, now=datetime.combine(d, time(0, 30), UTC))
        d += timedelta(days=1)
    return engine


def written(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {
            "outbox": sorted(conn.execute(select(outbox.c.message_key, outbox.c.body)).all()),
            "queue": sorted(conn.execute(select(queue_items.c.key, queue_items.c.number)).all()),
            "attempts": sorted(conn.execute(select(contact_attempts.c.key)).scalars()),
            "visits": sorted(conn.execute(select(visits.c.key, visits.c.status)).all()),
            "evidence": sorted(
                conn.execute(
                    select(evidence_records.c.borrower_id, func.count()).group_by(
                        evidence_records.c.borrower_id
                    )
                ).all()
            ),
        }


def test_a_crash_mid_collection_then_a_rerun_equals_one_clean_run(
    db_url: str, other_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        day_mod, "BORROWERS_PER_CHUNK", 4
    )  # several gate chunks even in a small book
    config = CloseConfig(default_policy_set())
    clean = prepared(db_url)
    crashed = prepared(other_db_url)
    try:
        clean_report = close_business_day(clean, DAY, config, now=NOW)
        assert sum(clean_report.actions.values()) > 4  # more than one chunk had work

        def boom(chunk: int) -> None:
            if chunk == 1:
                raise Crash

        with pytest.raises(Crash):
            close_business_day(crashed, DAY, config, after_chunk=boom, now=NOW)
        partial = written(crashed)
        assert partial != written(clean)  # the crash really left the day half done
        rerun = close_business_day(crashed, DAY, config, now=NOW)
        assert written(crashed) == written(clean)
        assert rerun.actions == clean_report.actions
        assert rerun.blocked == clean_report.blocked
        assert (rerun.rolls, rerun.loans_aged) == (clean_report.rolls, clean_report.loans_aged)
        with crashed.connect() as conn:
            assert log.verify_db(conn) == []
        # And a third run changes nothing and reports the stored close.
        again = close_business_day(crashed, DAY, config, now=NOW)
        assert again.already_closed and written(crashed) == written(clean)
    finally:
        clean.dispose()
        crashed.dispose()
