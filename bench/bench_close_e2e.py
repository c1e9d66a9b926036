"""End-to-end close of one business day on SQLite and PostgreSQL, with the split by phase.

    .venv/bin/python bench/bench_close_e2e.py [--loans 1000000] [--backends sqlite,postgresql]
        [--reference-loans 100000] [--workers 2] [--no-payments] [--no-warm-up]
        [--keep-books [--repeat 3]]

For each backend: a generated portfolio is imported with its payment history and accrued up
to two days before the timed day; the day before is closed with collection (the warm-up: every
case opened, the first credit notices) and its messages dispatched to the local mailbox through
that day, as production has it (set-up, timed but not the figure). Then one ordinary business
day is closed end to end (`arrears.services.close.day.close_business_day`: accrual, cases and
promises, the policy's choice, the gate and the enqueue of every contact with ``--workers`` planning
processes, the report and the evidence root), timed per phase. At ``--reference-loans`` the
same day is also closed with the per-loan reference accrual on its own database, so that the
ratio of the two is measured in the same run. PostgreSQL: a scratch database on ``--pg-admin``
(default postgresql://postgres@127.0.0.1:5432/postgres) is created and dropped; with
``--keep-books`` the set-up is kept as a template database and reused by later runs, and each
of ``--repeat`` days is timed on a fresh copy of it (the median is reported, every run listed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import Engine

from arrears.adapters import MailboxAdapter
from arrears.core.lender.settings import Capacity
from arrears.core.problem import expect
from arrears.core.sim.generate import generate
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.close.reference import close_through
from arrears.services.collection.dispatch import dispatch
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments
from arrears.services.policy_files import default_policy_set
from arrears.services.portfolio_files import write_table
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade

AS_OF = date(2026, 11, 27)
DAY = AS_OF + timedelta(days=1)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = clock.perf_counter()
    out = fn(*args, **kwargs)
    dt = clock.perf_counter() - t0
    log(f"  {label}: {dt:.1f}s")
    return out, dt


def fresh_pg(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + f"/{name}"


def drop_pg(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, loans: Path, pays: Path | None) -> tuple[Engine, dict[str, float]]:
    engine = make_engine(url)
    upgrade(engine)
    setup: dict[str, float] = {}
    res, setup["import_loans"] = timed("import loans", import_file, engine, loans)
    expect(res)
    if pays is not None:
        paid, setup["import_payments"] = timed("import payments", import_payments, engine, pays)
        expect(paid)
    _, setup["catch_up_close"] = timed(
        "accrue up to the day before the warm-up",
        close_through,
        engine,
        AS_OF - timedelta(days=1),
        kernel="polars",
    )
    return engine, setup


# Every call the policy chooses is planned, as in the figures before the queue had a capacity:
# the bench measures the cost of a day's contacts, not a floor of a given size.
UNBOUNDED = Capacity(agents=1_000_000, calls_per_agent_per_day=1_000, visits_per_region_per_day=1)


def warm_up(engine: Engine, workers: int) -> dict[str, float]:
    """The day before the timed one, as production has it: the close with collection (opening
    every case, the first credit notices), then the dispatcher through that day (every two hours,
    to the local mailbox), so that the timed day is an ordinary one."""
    config = CloseConfig(default_policy_set(), workers=workers, capacity=UNBOUNDED)
    out: dict[str, float] = {}
    _, out["warm_up_close"] = timed(
        f"close {AS_OF} (warm-up)", close_business_day, engine, AS_OF, config
    )
    mailbox = MailboxAdapter(engine)
    adapters = {"sms": mailbox, "email": mailbox, "letter": mailbox}

    def deliver() -> int:
        sent = 0
        for hour in range(1, 24, 2):
            at = datetime.combine(AS_OF, time(hour, 0), UTC)
            sent += dispatch(engine, adapters, now=at, limit=10_000_000).sent
        return sent

    sent, out["warm_up_dispatch"] = timed("dispatch the warm-up day's messages", deliver)
    log(f"  {sent:,} messages delivered")
    return out


def one_day(engine: Engine, kernel: str, workers: int) -> dict[str, object]:
    config = CloseConfig(
        default_policy_set(),
        kernel=kernel,  # type: ignore[arg-type]
        workers=workers,
        capacity=UNBOUNDED,
    )
    report, total = timed(f"close {DAY} ({kernel})", close_business_day, engine, DAY, config)
    return {
        "total_s": round(total, 2),
        "phases_s": {k: round(v, 2) for k, v in report.phases.items()},
        "actions": sum(report.actions.values()),
        "blocked": sum(report.blocked.values()),
        "loans_aged": report.loans_aged,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loans", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--reference-loans", type=int, default=100_000)
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--workers", type=int, default=2, help="gate planning processes (close-day --workers)"
    )
    ap.add_argument(
        "--no-warm-up",
        action="store_true",
        help="time the first close after the import (every case opened, every first credit "
        "notice) instead of an ordinary day after a warm-up day and its dispatch",
    )
    ap.add_argument(
        "--no-payments",
        action="store_true",
        help="skip the payment history (its import replays every loan and takes long): nobody "
        "has paid, so every loan past its first due date is in collection - the heaviest day",
    )
    ap.add_argument(
        "--keep-books",
        action="store_true",
        help="PostgreSQL: keep each set-up as a template database (arrears_book_N_sSEED) and "
        "reuse it on later runs; each day is timed on a fresh copy",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="with --keep-books: days timed, each on a fresh copy (the median is reported)",
    )
    args = ap.parse_args()
    results: dict[str, object] = {
        "loans": args.loans,
        "day": DAY.isoformat(),
        "payments": not args.no_payments,
        "workers": args.workers,
        "warm_up": not args.no_warm_up,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def files(n: int) -> tuple[Path, Path | None]:
            loans, pays = work / f"loans-{n}.parquet", work / f"payments-{n}.parquet"
            if not loans.exists():
                log(f"generating {n:,} loans")
                p, _ = timed("generate", generate, n, args.seed, AS_OF)
                write_table(p.loans, loans)
                write_table(p.payments, pays)
            return loans, None if args.no_payments else pays

        runs = list(
            dict.fromkeys(
                [
                    (args.loans, "polars"),
                    (args.reference_loans, "polars"),
                    (args.reference_loans, "reference"),
                ]
            )
        )
        for backend in args.backends.split(","):
            for n, kernel in runs:
                log(f"{backend}, {n:,} loans, {kernel}")
                if backend == "postgresql" and args.keep_books:
                    out = kept_book_days(args, n, kernel, files)
                else:
                    out = fresh_book_day(args, backend, n, kernel, work, files)
                results[f"{backend}/{n}/{kernel}"] = out
    print(json.dumps(results, indent=2))
    print_table(results, args)


def fresh_book_day(
    args: argparse.Namespace,
    backend: str,
    n: int,
    kernel: str,
    work: Path,
    files: Callable[[int], tuple[Path, Path | None]],
) -> dict[str, object]:
    """Set up a book on a scratch database, time one day on it, drop it."""
    name = f"arrears_bench_{n}_{kernel}"
    url = f"sqlite:///{work / name}.db" if backend == "sqlite" else fresh_pg(args.pg_admin, name)
    engine, setup = prepare(url, *files(n))
    if not args.no_warm_up:
        setup.update(warm_up(engine, args.workers))
    if backend == "postgresql":
        checkpoint(url)
    out = one_day(engine, kernel, args.workers)
    out["setup_s"] = {k: round(v, 1) for k, v in setup.items()}
    engine.dispose()
    if backend == "postgresql":
        drop_pg(args.pg_admin, name)
    else:
        Path(f"{work / name}.db").unlink(missing_ok=True)
    return out


def kept_book_days(
    args: argparse.Namespace,
    n: int,
    kernel: str,
    files: Callable[[int], tuple[Path, Path | None]],
) -> dict[str, object]:
    """PostgreSQL with ``--keep-books``: the set-up once, kept as a template database (a 1M
    book takes about an hour to set up); each of ``--repeat`` days on a fresh copy of it."""
    book = f"arrears_book_{n}_s{args.seed}" + ("_nopay" if args.no_payments else "")
    book += "_cold" if args.no_warm_up else ""
    admin = args.pg_admin
    with psycopg.connect(admin, autocommit=True) as c:
        kept = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (book,)).fetchone()
    setup: dict[str, float] = {}
    if kept is None:
        engine, setup = prepare(fresh_pg(admin, book), *files(n))
        if not args.no_warm_up:
            setup.update(warm_up(engine, args.workers))
        engine.dispose()
    else:
        log(f"  book {book} kept from an earlier run: no set-up")
    days: list[dict[str, object]] = []
    for _ in range(args.repeat):
        copy = f"arrears_day_{n}_{kernel}"
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{book}"')
        url = admin.rsplit("/", 1)[0] + f"/{copy}"
        engine = make_engine(url)
        upgrade(engine)  # a book kept from an older schema
        checkpoint(url)
        days.append(one_day(engine, kernel, args.workers))
        engine.dispose()
        drop_pg(admin, copy)
    out = dict(sorted(days, key=lambda d: float(d["total_s"]))[len(days) // 2])  # type: ignore[arg-type]
    out["runs_s"] = [d["total_s"] for d in days]
    out["setup_s"] = {k: round(v, 1) for k, v in setup.items()}
    return out


def checkpoint(url: str) -> None:
    """The set-up's pages written out before the day, as the hours between two closes would
    have it, not by the checkpointer during the timed day."""
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:
        c.execute("CHECKPOINT")


def print_table(results: dict[str, object], args: argparse.Namespace) -> None:
    print("\n| backend | loans | accrual | close, one day | phases (s) | contacts enqueued |")
    print("|---|---:|---|---:|---|---:|")
    for key, val in results.items():
        if not isinstance(val, dict):
            continue
        backend, n, kernel = key.split("/")
        phases = ", ".join(f"{k} {v}" for k, v in val["phases_s"].items())
        print(
            f"| {backend} | {int(n):,} | {kernel} | {val['total_s']} s | {phases} "
            f"| {val['actions']:,} |"
        )
    for backend in args.backends.split(","):
        ref = results.get(f"{backend}/{args.reference_loans}/reference")
        pol = results.get(f"{backend}/{args.reference_loans}/polars")
        if isinstance(ref, dict) and isinstance(pol, dict):
            ratio = ref["phases_s"]["accrual"] / max(pol["phases_s"]["accrual"], 1e-9)
            print(
                f"\n{backend}, {args.reference_loans:,} loans: accrual phase reference / polars = "
                f"{ratio:.1f}x (whole day {ref['total_s']} s vs {pol['total_s']} s)"
            )


if __name__ == "__main__":
    main()
