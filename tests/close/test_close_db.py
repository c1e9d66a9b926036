"""The columnar close on a database leaves exactly the tables the reference close leaves.

Issue 3, item 1 (DB level): the same portfolio, payments, waivers and write-offs in two
databases of the same backend; one closed with ``kernel="reference"``, the other with
``kernel="polars"``; ``loan_state``, ``installments``, the journal (entries by key, with their
postings) and every other table must be equal. Then crash and resume, in-process and by
killing a real ``arrears close-day`` process.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from arrears.core.loans.product import Component, PenaltyBase, Product
from arrears.core.sim.sample import sample_portfolio
from arrears.services import events as ev
from arrears.services.close import accrual as runner
from arrears.services.close.reference import close_through
from arrears.services.payments_file import import_payments
from arrears.services.portfolio_files import write_payments
from arrears.store import tables as t
from arrears.store.engine import make_engine
from factories import (
    assert_journal_consistent,
    dump,
    import_rows,
    is_postgres,
    loan_row,
    second_database,
    succeeded,
)

AS_OF = date(2026, 3, 31)
PRODUCTS = [
    Product("grace3", grace_days=3, penalty_base=PenaltyBase.PRINCIPAL),
    Product(
        "strict",
        grace_days=1,
        penalty_multiplier=__import__("fractions").Fraction(2),
        classification_thresholds=(0, 30, 120, 200),
    ),
]


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    with second_database(db_url, tmp_path) as url:
        yield url


def setup(engine: Engine, tmp_path: Path, n: int = 80, as_of: date = AS_OF) -> None:
    """The sample portfolio over three products, its payments, a waiver and a write-off."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.products),
            [{"product_id": p.product_id, "spec": p.to_json()} for p in PRODUCTS],
        )
    rows, pays = sample_portfolio(n, seed=11, as_of=as_of)
    for k, r in enumerate(rows):
        if k % 3:
            r["product"] = PRODUCTS[k % 3 - 1].product_id
    import_rows(engine, tmp_path, rows)
    path = tmp_path / f"pays-{id(engine)}.csv"
    write_payments(pays, path)
    succeeded(import_payments(engine, path))
    succeeded(ev.write_off(engine, rows[5]["loan_id"], as_of, "wo-1"))
    with engine.connect() as conn:
        owing = conn.execute(
            select(t.loan_state.c.loan_id, t.loan_state.c.as_of)
            .where(t.loan_state.c.penalty_owed > 10, t.loan_state.c.status == "active")
            .order_by(t.loan_state.c.loan_id)
        ).first()
    if owing is not None:
        succeeded(ev.waive(engine, owing.loan_id, Component.PENALTY, 10, owing.as_of, "wv-1"))


STEPS = (date(2026, 4, 30), date(2026, 5, 1), date(2026, 7, 14))


def test_polars_close_equals_reference_close(
    engine: Engine, other_db_url: str, tmp_path: Path
) -> None:
    setup(engine, tmp_path)
    other = make_engine(other_db_url)
    try:
        setup(other, tmp_path)
        before = dump(engine)
        assert before == dump(other)
        for through in STEPS:
            ref = close_through(engine, through, kernel="reference")
            col = close_through(other, through, kernel="polars")
            assert (col.loans_aged, col.loan_days, col.entries_posted, col.by_bucket) == (
                ref.loans_aged,
                ref.loan_days,
                ref.entries_posted,
                ref.by_bucket,
            )
            assert ref.loans_aged > 0 and ref.entries_posted > 0
            a, b = dump(engine, close_runs=False), dump(other, close_runs=False)
            for table in ("loan_state", "installments", "journal"):
                assert a[table] == b[table], (table, through)
            assert a == b
            with other.connect() as conn:
                runs = conn.execute(
                    select(t.close_runs.c.status, t.close_runs.c.loans).where(
                        t.close_runs.c.business_date == through
                    )
                ).all()
            assert [tuple(r) for r in runs] == [("done", ref.loans_aged)]
        assert_journal_consistent(other)
        # a second run at the same date does nothing
        again = close_through(other, STEPS[-1], kernel="polars")
        assert (again.loans_aged, again.loan_days, again.entries_posted) == (0, 0, 0)
        assert dump(other) == dump(engine)
    finally:
        other.dispose()


def test_polars_close_in_many_chunks_at_once_equals_reference_close(
    engine: Engine, other_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks, so that PostgreSQL closes several at once (threads, a connection each)."""
    monkeypatch.setattr(runner, "LOANS_PER_CHUNK", 7)
    threads: set[int] = set()
    close_chunk = runner.close_chunk

    def recording(*args: Any) -> runner.ChunkCounts:
        threads.add(threading.get_ident())
        return close_chunk(*args)

    monkeypatch.setattr(runner, "close_chunk", recording)
    setup(engine, tmp_path)
    other = make_engine(other_db_url)
    try:
        setup(other, tmp_path)
        for through in STEPS:
            ref = close_through(engine, through, kernel="reference")
            col = close_through(other, through, kernel="polars")
            assert (col.loans_aged, col.loan_days, col.entries_posted) == (
                ref.loans_aged,
                ref.loan_days,
                ref.entries_posted,
            )
            assert dump(engine, close_runs=False) == dump(other, close_runs=False), through
        assert_journal_consistent(other)
    finally:
        other.dispose()
    assert len(threads) == (runner.THREADS if is_postgres(other_db_url) else 1)


def test_payment_after_polars_close_replays_cleanly(engine: Engine, tmp_path: Path) -> None:
    """What the polars close wrote is what the payment path's replay expects."""
    setup(engine, tmp_path, 20)
    close_through(engine, STEPS[0], kernel="polars")
    with engine.connect() as conn:
        lid = (
            conn.execute(
                select(t.loan_state.c.loan_id)
                .where(t.loan_state.c.status == "active", t.loan_state.c.dpd > 0)
                .order_by(t.loan_state.c.loan_id)
            )
            .scalars()
            .first()
        )
    assert lid is not None
    succeeded(ev.pay(engine, lid, 100, STEPS[0], "after-close"))
    assert_journal_consistent(engine)


class Crash(RuntimeError):
    pass


def test_crash_after_a_chunk_then_rerun_equals_a_clean_run(
    engine: Engine, other_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(engine, tmp_path, 40)
    monkeypatch.setattr(runner, "LOANS_PER_CHUNK", 9)

    def boom(k: int) -> None:
        if k == 1:
            raise Crash("killed after chunk 1")

    through = STEPS[-1]
    with engine.connect() as conn:
        active = len(
            conn.execute(
                select(t.loan_state.c.loan_id).where(t.loan_state.c.status == "active")
            ).all()
        )
    assert active > 27  # at least four chunks
    with pytest.raises(Crash):
        close_through(engine, through, after_chunk=boom, kernel="polars")
    with engine.connect() as conn:
        done = conn.execute(
            select(t.loan_state.c.loan_id).where(t.loan_state.c.as_of == through)
        ).all()
    assert len(done) == 18
    rerun = close_through(engine, through, kernel="polars")
    assert rerun.loans_aged == active - 18
    clean = make_engine(other_db_url)
    try:
        setup(clean, tmp_path, 40)
        close_through(clean, through, kernel="reference")
        assert dump(engine) == dump(clean)
    finally:
        clean.dispose()
    assert_journal_consistent(engine)


def closed_loans(engine: Engine, db_url: str, through: date) -> int:
    """Loans at ``through``, read without taking SQLite's write lock (the engine's BEGIN
    IMMEDIATE would queue behind the close being watched)."""
    if is_postgres(db_url):
        with engine.connect() as conn:
            q = select(t.loan_state.c.loan_id).where(t.loan_state.c.as_of == through)
            return len(conn.execute(q).all())
    with sqlite3.connect(db_url, timeout=30) as raw:
        q = "SELECT count(*) FROM loan_state WHERE as_of = ?"
        return int(raw.execute(q, (through.isoformat(),)).fetchone()[0])


def test_killed_close_day_process_then_rerun_equals_a_clean_run(
    engine: Engine, db_url: str, other_db_url: str, tmp_path: Path
) -> None:
    setup(engine, tmp_path, 60)
    through = date(2026, 12, 31)
    with engine.connect() as conn:
        active = len(
            conn.execute(
                select(t.loan_state.c.loan_id).where(t.loan_state.c.status == "active")
            ).all()
        )
    cmd = [
        sys.executable,
        "-m",
        "arrears.cli.main",
        "close-day",
        "--through",
        through.isoformat(),
        "--db",
        db_url,
        "--engine",
        "polars",
        "--chunk-size",
        "5",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # wait until at least one chunk is committed, then kill without warning
        done = 0
        while proc.poll() is None:
            done = closed_loans(engine, db_url, through)
            if done:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the close finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with engine.connect() as conn:
        partial = len(
            conn.execute(
                select(t.loan_state.c.loan_id).where(t.loan_state.c.as_of == through)
            ).all()
        )
    assert 0 < partial < active and partial % 5 == 0  # whole chunks only
    out = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True)
    assert f'"loans_aged": {active - partial}' in out.stdout
    clean = make_engine(other_db_url)
    try:
        setup(clean, tmp_path, 60)
        close_through(clean, through, kernel="reference")
        assert dump(engine) == dump(clean)
    finally:
        clean.dispose()


def test_concurrent_state_change_is_not_overwritten_on_rerun(
    engine: Engine, tmp_path: Path
) -> None:
    """A loan moved past the target by someone else is skipped, as in the reference."""
    setup(engine, tmp_path, 10)
    with engine.begin() as conn:
        lid = conn.execute(select(t.loans.c.loan_id).order_by(t.loans.c.loan_id)).scalars().first()
        conn.execute(
            update(t.loan_state).where(t.loan_state.c.loan_id == lid).values(as_of=STEPS[-1])
        )
        before = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == lid)).one()
    close_through(engine, STEPS[-1], kernel="polars")
    with engine.connect() as conn:
        after = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == lid)).one()
    assert after == before


def test_close_day_refuses_an_unknown_engine(db_url: str) -> None:
    from typer.testing import CliRunner

    from arrears.cli.main import app

    res = CliRunner().invoke(
        app, ["close-day", "--through", "2026-01-01", "--db", db_url, "--engine", "dask"]
    )
    assert res.exit_code == 2
    assert "--engine" in res.output and "dask" in res.output
    assert "spark" in res.output  # the engines there are, named


def _loans(engine: Engine, on: date) -> list[Any]:
    """The active loans' stored state on ``on``, in id order."""
    s = t.loan_state
    with engine.connect() as conn:
        q = select(s).where(s.c.status == "active", s.c.as_of == on).order_by(s.c.loan_id)
        return list(conn.execute(q).all())


def _due_between(engine: Engine, first: date, last: date) -> set[str]:
    with engine.connect() as conn:
        q = select(t.installments.c.loan_id).where(
            t.installments.c.due_date >= first, t.installments.c.due_date <= last
        )
        return set(conn.execute(q).scalars())


def test_one_day_closes_with_quiet_loans_equal_reference(
    engine: Engine, other_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Day after day over a month end, with payments, a prepayment and a write-off between
    the closes: the quiet loans moved by one UPDATE and the rest by the kernel leave what the
    reference leaves, and the loans the quiet check must turn away were there.

    Turned away: current loans with an installment due yesterday (it goes overdue) or today
    (its interest falls due), overdue loans, loans just brought up to date, and at the month
    end a current loan with penalty accrued but not posted. Payments pay the penalty first,
    so that last one is written into ``loan_state`` directly (on both books).
    """
    quiet: list[int] = []
    real_quiet = runner._quiet

    def counting(db: Any, lo: str, hi: str, through: date) -> int:
        n = real_quiet(db, lo, hi, through)
        quiet.append(n)
        return n

    monkeypatch.setattr(runner, "_quiet", counting)
    start = date(2026, 3, 26)
    other = make_engine(other_db_url)
    planted = ""
    try:
        for eng in (engine, other):
            setup(eng, tmp_path, 60, start - timedelta(days=1))
        close_through(engine, start, kernel="reference")
        close_through(other, start, kernel="polars")
        assert dump(engine) == dump(other)
        day, due_and_current = start, 0
        while day < date(2026, 4, 3):
            loans = _loans(engine, day)
            current = [r for r in loans if r.dpd == 0]
            overdue = [r for r in loans if r.dpd > 0]
            assert current and overdue
            # between the closes: the same events on both books, on the last closed day
            events: list[tuple[Any, ...]] = []
            if day.day % 2:  # bring an overdue loan up to date
                r = overdue[day.day % len(overdue)]
                owed = r.overdue_principal + r.overdue_interest + r.overdue_penalty
                events.append((ev.pay, r.loan_id, owed, day, f"up-{day}"))
            if day == date(2026, 3, 28):  # pay part of a current loan ahead of its schedule
                r = current[-1]
                events.append((ev.pay, r.loan_id, r.outstanding_principal // 2, day, "pre"))
            if day == date(2026, 3, 29):
                events.append((ev.write_off, overdue[-1].loan_id, day, "wo-2"))
            for eng in (engine, other):
                for fn, *args in events:
                    succeeded(fn(eng, *args))
            nxt = day + timedelta(days=1)
            if (nxt + timedelta(days=1)).month != nxt.month:  # the close of a month end
                planted = current[0].loan_id
                s = t.loan_state
                for eng in (engine, other):
                    with eng.begin() as conn:
                        conn.execute(
                            update(s)
                            .where(s.c.loan_id == planted)
                            .values(
                                penalty_unposted=7,  # and the read-outs that show it
                                overdue_penalty=s.c.penalty_owed + 7,
                                outstanding_penalty=s.c.penalty_owed + 7,
                            )
                        )
            assert dump(engine) == dump(other)
            due_and_current += len({r.loan_id for r in current} & _due_between(other, day, nxt))
            quiet.clear()
            ref = close_through(engine, nxt, kernel="reference")
            col = close_through(other, nxt, kernel="polars")
            assert (col.loans_aged, col.loan_days, col.entries_posted, col.by_bucket) == (
                ref.loans_aged,
                ref.loan_days,
                ref.entries_posted,
                ref.by_bucket,
            ), nxt
            assert 0 < sum(quiet) < col.loans_aged, nxt  # both paths ran
            assert dump(engine, close_runs=False) == dump(other, close_runs=False), nxt
            day = nxt
        assert due_and_current >= 3
        with other.connect() as conn:
            posted = conn.execute(
                select(t.journal_entries.c.key).where(
                    t.journal_entries.c.key == f"{planted}:penalty:2026-03-31"
                )
            ).all()
        assert len(posted) == 1  # the planted penalty was posted at the month end
        with other.connect() as conn:
            ids = [i for i in conn.execute(select(t.loans.c.loan_id)).scalars() if i != planted]
        assert_journal_consistent(other, ids)
    finally:
        other.dispose()


def test_one_day_with_nothing_due_in_the_window_equals_reference(
    engine: Engine, other_db_url: str, tmp_path: Path
) -> None:
    """Overdue loans (so not quiet) with no installment due within grace of the day: the
    kernel runs on an empty window of installments, from the stored read-outs alone."""
    rows = [loan_row("L1"), loan_row("L2", months="1", method="bullet")]
    other = make_engine(other_db_url)
    try:
        for eng in (engine, other):
            import_rows(eng, tmp_path, rows)
        close_through(engine, date(2024, 6, 1), kernel="reference")
        close_through(other, date(2024, 6, 1), kernel="polars")
        for through in (date(2024, 6, 2), date(2024, 6, 3)):
            with other.connect() as conn:
                due = conn.execute(
                    select(t.installments.c.loan_id).where(
                        t.installments.c.due_date >= date(2024, 5, 1),
                        t.installments.c.due_date <= through,
                    )
                ).all()
            assert due == []
            ref = close_through(engine, through, kernel="reference")
            col = close_through(other, through, kernel="polars")
            assert (col.loans_aged, col.loan_days) == (ref.loans_aged, ref.loan_days) == (2, 2)
            assert dump(engine, close_runs=False) == dump(other, close_runs=False)
        # both overdue since their first due date, 2024-02-15, so neither was quiet
        dpd = (date(2024, 6, 3) - date(2024, 2, 15)).days
        assert [r.dpd for r in _loans(other, date(2024, 6, 3))] == [dpd, dpd]
    finally:
        other.dispose()


def test_a_broken_invariant_stops_the_accrual_and_writes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    # A corrupt stored state (an overdue loan's owed penalty below zero): the kernel's check
    # fires naming the loan, and the chunk's transaction leaves the book as it was.
    from arrears.core.close.invariants import BrokenInvariant

    setup(engine, tmp_path)
    with engine.begin() as conn:
        loan_id = (
            conn.execute(
                select(t.loan_state.c.loan_id)
                .where(t.loan_state.c.dpd > 0, t.loan_state.c.status == "active")
                .order_by(t.loan_state.c.loan_id)
            )
            .scalars()
            .first()
        )
        assert loan_id is not None
        conn.execute(
            update(t.loan_state).where(t.loan_state.c.loan_id == loan_id).values(penalty_owed=-1)
        )
    before = dump(engine)
    with pytest.raises(BrokenInvariant, match=f"penalty_owed is negative: loans {loan_id}"):
        runner.run(engine, STEPS[0])
    assert dump(engine) == before
