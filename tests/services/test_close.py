"""The daily close: idempotent, resumable after a crash, and ageing by the rules.

Issue 2, items 6 and 7. Rules (from the issue text, not from the code):

* DPD counts from the oldest unpaid installment: 0 on its due date, ``D - due`` after it;
* bucket ``C`` current, ``M1`` 1-30, ``M2`` 31-60 ... ``M6`` 151-180, ``M7`` over 180;
* classification ``special_mention`` > 0, ``substandard`` > 90, ``doubtful`` > 270,
  ``loss`` > 360 days past due (REFERENCES.md defaults), else ``normal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.services import events as ev
from arrears.services.close import reference as close_mod
from arrears.services.close.reference import close_through
from arrears.services.reports import loan_view
from arrears.store import tables as t
from arrears.store.engine import make_engine
from factories import (
    assert_journal_consistent,
    dump,
    import_rows,
    loan_row,
    second_database,
    state_row,
    succeeded,
)


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    with second_database(db_url, tmp_path) as url:
        yield url


METHODS = ["annuity", "equal-principal", "interest-first", "bullet"]


def portfolio(n: int = 30) -> list[dict[str, str]]:
    """``n`` loans of every method, both rate bases, some with a repayment day."""
    rows = []
    for k in range(n):
        daily = k % 5 == 4
        rows.append(
            loan_row(
                f"L{k:02d}",
                principal=f"{1000 + 137 * k}.{k % 100:02d}",
                rate="0.05%" if daily else f"{6 + k % 13}%",
                rate_basis="daily" if daily else "annual",
                months=str(1 + k % 12),
                method=METHODS[k % 4],
                disbursed_on=(date(2023, 10, 1) + timedelta(days=3 * k)).isoformat(),
                due_day=str(1 + (k * 7) % 28) if k % 3 == 0 else "",
            )
        )
    return rows


def setup_portfolio(engine: Engine, tmp_path: Path, n: int = 30) -> None:
    import_rows(engine, tmp_path, portfolio(n))
    # a few payments so that not every loan is a never-payer (same on every database)
    for k in range(0, n, 4):
        succeeded(ev.pay(engine, f"L{k:02d}", 10000 + k, date(2024, 1, 5), f"pay-{k}"))


THROUGH = date(2024, 3, 10)


def test_second_close_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    setup_portfolio(engine, tmp_path, 12)
    first = close_through(engine, THROUGH)
    assert first.loans_aged == 12 and first.loan_days > 0
    after_first = dump(engine)
    second = close_through(engine, THROUGH)
    assert (second.loans_aged, second.loan_days, second.entries_posted) == (0, 0, 0)
    assert dump(engine) == after_first
    # an earlier date after a later one changes nothing either
    close_through(engine, THROUGH - timedelta(days=30))
    assert dump(engine) == after_first
    with engine.connect() as conn:
        runs = conn.execute(select(t.close_runs.c.business_date, t.close_runs.c.status)).all()
    assert (THROUGH, "done") in runs
    assert_journal_consistent(engine)


def test_close_in_steps_equals_close_at_once(
    engine: Engine, other_db_url: str, tmp_path: Path
) -> None:
    setup_portfolio(engine, tmp_path, 12)
    for through in (date(2023, 12, 31), date(2024, 1, 1), date(2024, 2, 15), THROUGH):
        close_through(engine, through)
    other = make_engine(other_db_url)
    try:
        setup_portfolio(other, tmp_path, 12)
        close_through(other, THROUGH)
        assert dump(engine) == dump(other)
    finally:
        other.dispose()


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("crash_after", [0, 2])
def test_crash_mid_run_then_rerun_equals_a_clean_run(
    engine: Engine,
    other_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crash_after: int,
) -> None:
    setup_portfolio(engine, tmp_path)
    monkeypatch.setattr(close_mod, "LOANS_PER_CHUNK", 7)

    def boom(chunk: int) -> None:
        if chunk == crash_after:
            raise Crash(f"killed after chunk {chunk}")

    with pytest.raises(Crash):
        close_through(engine, THROUGH, after_chunk=boom)
    with engine.connect() as conn:
        done = conn.execute(
            select(t.loan_state.c.loan_id).where(t.loan_state.c.as_of == THROUGH)
        ).all()
    assert len(done) == 7 * (crash_after + 1)  # the chunks before the crash were committed
    rerun = close_through(engine, THROUGH)
    assert rerun.loans_aged == 30 - 7 * (crash_after + 1)

    monkeypatch.setattr(close_mod, "LOANS_PER_CHUNK", 1000)
    clean = make_engine(other_db_url)
    try:
        setup_portfolio(clean, tmp_path)
        assert close_through(clean, THROUGH).loans_aged == 30
        crashed, single = dump(engine), dump(clean)
        for table in ("journal", "installments", "loan_state", "loan_events", "loans"):
            assert crashed[table] == single[table], table
        assert crashed == single
    finally:
        clean.dispose()
    assert_journal_consistent(engine)


# --- ageing of a loan that never pays --------------------------------------------------


def expected_bucket(dpd: int) -> str:
    if dpd == 0:
        return "C"
    for k, upper in enumerate((30, 60, 90, 120, 150, 180), start=1):
        if dpd <= upper:
            return f"M{k}"
    return "M7"


def expected_class(dpd: int) -> str:
    if dpd > 360:
        return "loss"
    if dpd > 270:
        return "doubtful"
    if dpd > 90:
        return "substandard"
    if dpd > 0:
        return "special_mention"
    return "normal"


# Days after the first due date: every edge of every bucket and class.
OFFSETS = [-1, 0, 1, 30, 31, 60, 61, 90, 91, 120, 121, 150, 151, 180, 181, 270, 271, 360, 361]


def test_never_paying_loan_ages_by_the_rules(engine: Engine, tmp_path: Path) -> None:
    # 12,000.00 over 12 months, annuity at 12% a year, drawn 2023-01-10: due the 10th.
    import_rows(
        engine,
        tmp_path,
        [
            loan_row(
                "N1",
                principal="12000.00",
                months="12",
                method="annuity",
                disbursed_on="2023-01-10",
            )
        ],
    )
    due1 = date(2023, 2, 10)
    # the annuity by hand: r = 1%, payment = P r (1+r)^12 / ((1+r)^12 - 1), to the fen
    r = Fraction(1, 100)
    pay = 1200000 * r * (1 + r) ** 12 / ((1 + r) ** 12 - 1)
    payment = int(pay + Fraction(1, 2))
    assert payment == 106619
    interest1, principal1 = 12000, 106619 - 12000
    seen = []
    for off in OFFSETS:
        day = due1 + timedelta(days=off)
        close_through(engine, day)
        row = state_row(engine, "N1")
        dpd = max(0, off)
        assert row.as_of == day
        assert (row.dpd, row.bucket, row.classification) == (
            dpd,
            expected_bucket(dpd),
            expected_class(dpd),
        ), off
        with engine.connect() as conn:
            view = succeeded(loan_view(conn, "N1", day))  # the replay as of the day agrees
        assert (view.aged.dpd, view.aged.bucket, view.aged.classification) == (
            row.dpd,
            row.bucket,
            row.classification,
        )
        seen.append(row.bucket)
        if off == 1:
            # one day late: installment 1 overdue, one day's penalty on principal + interest
            pen = int(Fraction(principal1 + interest1, 2000) + Fraction(1, 2))
            assert (row.overdue_principal, row.overdue_interest, row.overdue_penalty) == (
                principal1,
                interest1,
                pen,
            )
            assert row.consecutive_overdue == 1
        if off == 31:
            # 2023-03-13: installment 2 (due 03-10) is overdue too
            assert row.consecutive_overdue == 2
    assert seen[-1] == "M7"
    assert_journal_consistent(engine)


def test_written_off_and_settled_loans_are_not_aged(engine: Engine, tmp_path: Path) -> None:
    import_rows(engine, tmp_path, [loan_row("A"), loan_row("B"), loan_row("C")])
    succeeded(ev.write_off(engine, "A", date(2024, 2, 1), "wo"))
    succeeded(ev.pay(engine, "B", 120000, date(2024, 1, 15), "all"))
    res = close_through(engine, date(2024, 3, 1))
    assert res.loans_aged == 1
    assert state_row(engine, "A").as_of == date(2024, 2, 1)
    assert state_row(engine, "B").status == "settled"
    assert state_row(engine, "C").dpd == (date(2024, 3, 1) - date(2024, 2, 15)).days
    assert_journal_consistent(engine)


@pytest.mark.parametrize("kernel", ["reference", "polars"])
def test_loans_per_chunk_sets_the_transactions_of_either_kernel(
    engine: Engine, tmp_path: Path, kernel: str
) -> None:
    setup_portfolio(engine, tmp_path)  # 30 loans
    committed: list[int] = []
    res = close_through(
        engine,
        THROUGH,
        after_chunk=committed.append,
        kernel=kernel,  # type: ignore[arg-type]
        loans_per_chunk=7,
    )
    assert res.loans_aged == 30
    assert committed == [0, 1, 2, 3, 4]  # 7 + 7 + 7 + 7 + 2 loans, each chunk its own commit
