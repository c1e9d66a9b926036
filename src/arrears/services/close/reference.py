"""The daily close, reference engine: every active loan aged day by day, per loan, in Python.

Written for clarity: it is the reference the columnar engine must match. Work is done in
chunks of loans, one transaction each, every loan advanced from its own ``as_of`` to the
target date; a crash loses at most the chunk in flight, and a rerun picks up where it
stopped (a loan already at the target date is skipped), so the close is idempotent per date
and resumable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import Engine, delete, func, insert, select

from arrears.core.ledger.account import (
    NO_PAUSES,
    ONE_DAY,
    Account,
    Pauses,
    accrue_loan_day,
    paused_on,
)
from arrears.core.ledger.journal import Entry
from arrears.core.loans.product import Product
from arrears.services.accounts import load_accounts, post_entries, save_accounts
from arrears.services.moratoria import loan_pauses
from arrears.store import tables

LOANS_PER_CHUNK = 1000  # loans per transaction of the per-loan close
AccrualKernel = Literal["reference", "polars", "spark"]
ACCRUAL_KERNELS: tuple[AccrualKernel, ...] = ("polars", "reference", "spark")


@dataclass(slots=True)
class CloseResult:
    through: date
    loans_aged: int = 0
    loan_days: int = 0
    entries_posted: int = 0
    by_bucket: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """What ``close-day --no-collect --json`` prints."""
        return {
            "through": self.through.isoformat(),
            "loans_aged": self.loans_aged,
            "loan_days": self.loan_days,
            "entries_posted": self.entries_posted,
            "by_bucket": self.by_bucket,
        }


Progress = Callable[[int, int], None]  # (done, total) loans


def accrue_loan_through(
    acct: Account, product: Product, through: date, pauses: Pauses = NO_PAUSES
) -> tuple[Account, list[Entry], int]:
    """Close one account day by day up to ``through``; no penalty on the days in ``pauses``."""

    entries: list[Entry] = []
    days = 0
    while acct.as_of < through:
        day = acct.as_of + ONE_DAY
        acct, new = accrue_loan_day(acct, product, day, accrues=not paused_on(pauses, day))
        entries.extend(new)
        days += 1
    return acct, entries, days


def pending_loans(engine: Engine, through: date) -> list[str]:
    with engine.connect() as conn:
        q = (
            select(tables.loan_state.c.loan_id)
            .where(tables.loan_state.c.as_of < through, tables.loan_state.c.status == "active")
            .order_by(tables.loan_state.c.loan_id)
        )
        return list(conn.execute(q).scalars())


def close_through(
    engine: Engine,
    through: date,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    kernel: AccrualKernel = "reference",
    loans_per_chunk: int | None = None,
) -> CloseResult:
    """Age every active loan through ``through``. ``after_chunk`` exists for crash tests.
    ``loans_per_chunk``: loans per transaction (default the kernel's ``LOANS_PER_CHUNK``).

    ``kernel="polars"`` runs the columnar engine (``arrears.core.close``) on large chunks (the CLI's
    default); ``"reference"`` the per-loan engine below; ``"spark"`` the columnar kernel on
    Apache Spark (``services/close/spark_engine``: the optional extra ``arrears[spark]``, one
    transaction, no chunks, so ``after_chunk`` and ``loans_per_chunk`` do not apply). All
    leave the same tables.
    """
    result = CloseResult(through)
    started = datetime.now(UTC)
    if kernel == "polars":
        from arrears.services.close.accrual import run  # the columnar engine imports this module

        counts = run(engine, through, progress, after_chunk, loans_per_chunk)
        result.loans_aged = counts.loans_aged
        result.loan_days = counts.loan_days
        result.entries_posted = counts.entries_posted
    elif kernel == "spark":
        from arrears.services.close.spark_engine import run as run_on_spark

        counts = run_on_spark(engine, through, progress)
        result.loans_aged = counts.loans_aged
        result.loan_days = counts.loan_days
        result.entries_posted = counts.entries_posted
    elif kernel == "reference":
        _reference_chunks(
            engine, through, result, progress, after_chunk, loans_per_chunk or LOANS_PER_CHUNK
        )
    else:
        raise ValueError(f"unknown close kernel {kernel!r}")
    _finish(engine, through, result, started)
    return result


def _reference_chunks(
    engine: Engine,
    through: date,
    result: CloseResult,
    progress: Progress | None,
    after_chunk: Callable[[int], None] | None,
    size: int,
) -> None:
    ids = pending_loans(engine, through)
    total = len(ids)
    for k in range(0, total, size):
        chunk = ids[k : k + size]
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Hold the chunk's loans (in id order, as payments lock one loan at a time, so
                # no deadlock) so that a payment committed mid-chunk is not overwritten.
                conn.execute(
                    select(tables.loans.c.loan_id)
                    .where(tables.loans.c.loan_id.in_(chunk))
                    .order_by(tables.loans.c.loan_id)
                    .with_for_update()
                )
            loaded = load_accounts(conn, chunk)
            paused = loan_pauses(conn, chunk)
            saved = []
            entries: list[Entry] = []
            for rec, acct in loaded.values():
                if acct.as_of >= through:  # another close got here first
                    continue
                acct, new, days = accrue_loan_through(
                    acct, rec.product, through, paused.get(acct.loan_id, ())
                )
                entries.extend(new)
                saved.append((acct, rec.product))
                result.loan_days += days
            post_entries(conn, entries)
            save_accounts(conn, saved)
            result.loans_aged += len(saved)
            result.entries_posted += len(entries)
        if progress:
            progress(min(k + size, total), total)
        if after_chunk:
            after_chunk(k // size)


def _finish(engine: Engine, through: date, result: CloseResult, started: datetime) -> None:
    with engine.begin() as conn:
        rows = conn.execute(
            select(tables.loan_state.c.bucket, func.count())
            .where(tables.loan_state.c.status == "active")
            .group_by(tables.loan_state.c.bucket)
        ).all()
        result.by_bucket = {b: int(n) for b, n in rows}
        conn.execute(delete(tables.close_runs).where(tables.close_runs.c.business_date == through))
        conn.execute(
            insert(tables.close_runs),
            [
                {
                    "business_date": through,
                    "status": "done",
                    "started_at": started,
                    "finished_at": datetime.now(UTC),
                    "loans": result.loans_aged,
                    "summary": json.dumps(asdict(result), default=str, sort_keys=True),
                }
            ],
        )
