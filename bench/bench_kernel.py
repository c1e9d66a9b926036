"""Benchmark of the columnar close kernel: one business day at 1M and 10M loans.

    .venv/bin/python bench/bench_kernel.py [--quick] [--sizes 1000000,10000000] [--runs 5]

Each size runs in its own subprocess, so its peak RSS (``resource.getrusage`` maxrss) is its
own. The state columns are built directly with numpy (no database): a realistic mix (about
85% current, 10% 1-90 days overdue, 5% deeper; 2% settled, 1% written off; grace 0-3; both
penalty bases; daily and annual rates). The day is a month end, so the penalty posting (one
entry per loan with penalty) is part of the timed work. The installments frame holds each
loan's next installment (due dates spread over the month) and, for overdue loans, the
installment that starts accruing penalty in the window; the kernel only slices the
installments due on D, D-1 and D-1-grace, so older and later installments would add memory,
not time.

Timed per run: ``accrue_portfolio_day`` (with its invariant checks, and again without them:
the cost of the checks is reported as a ratio) and ``runner.writer_frames`` (the read-outs and
every frame the database writer ingests: the kernel gives entries and read-outs as integer
codes, the writer's SQL spells keys, accounts, bucket and class, so the Python side of that
hand-over is timed here; PostgreSQL's frames, as SQLite's only add ISO text for the dates).
Reported per size: median wall and CPU seconds over ``--runs`` runs (CPU:
``time.process_time``, all threads), loans/s by wall time, peak RSS, and the ratio to the time
numpy takes just to sum the same input columns (the memory-bandwidth floor). Then the ratio to
the reference engine (``accrue_loan_day`` + ``state_row`` per loan, in Python) at 100k loans,
the reference timed on a sample.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

from arrears.core.close import kernel as k
from arrears.services.close.accrual import writer_frames

DAY = date(2026, 1, 31)  # a month end: penalty is posted


def synthetic(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    d = k.day_number(DAY)
    kind = rng.choice(3, size=n, p=[0.85, 0.10, 0.05])  # current, early, deep overdue
    dpd = np.where(
        kind == 0, 0, np.where(kind == 1, rng.integers(1, 91, n), rng.integers(91, 400, n))
    )
    status = rng.choice(3, size=n, p=[0.97, 0.02, 0.01]).astype(np.uint32)
    installment = rng.choice([50_000, 100_000, 200_000, 500_000, 1_000_000], size=n)
    # a written-off loan carries zero amounts (the state's invariant; its DPD still counts)
    live = status != k.STATUSES.index("written_off")
    od_count = np.where(live & (dpd > 0), dpd // 30 + 1, 0).astype(np.int32)
    od_principal = (od_count * installment * 9 // 10).astype(np.int64)
    od_interest = (od_count * installment // 10).astype(np.int64)
    grace = rng.integers(0, 4, n).astype(np.int32)
    base_interest = rng.random(n) < 0.7
    daily = rng.random(n) < 0.7
    # penalty rate = daily rate x 1.5: 0.05%/day -> 3/4000; 12%/yr -> 1/2000
    num = np.where(daily, 3, 1).astype(np.int64)
    den = np.where(daily, 4000, 2000).astype(np.int64)
    pen_base = np.where(
        dpd > grace, od_principal + np.where(base_interest, od_interest, 0), 0
    ).astype(np.int64)
    # next installment of every loan, due over the 28 days from D-1 (the day before is as_of:
    # due then, unpaid, it goes overdue today); plus, for overdue loans within grace, the
    # installment that joins the penalty base today. The state is consistent with them (the
    # kernel's invariant checks hold it to that)
    nxt = (d - 1 + rng.integers(0, 28, n)).astype(np.int32)
    late = np.flatnonzero((dpd > 0) & (dpd == grace + 1))
    due_yesterday = np.zeros(n, dtype=np.bool_)  # a late installment with no grace
    due_yesterday[late[grace[late] == 0]] = True
    ids = pl.Series("loan_id", np.arange(n)).cast(pl.String).str.zfill(9)
    state = pl.DataFrame(
        {
            "loan_id": "L" + ids,
            "as_of": np.full(n, d - 1, dtype=np.int32),
            "status": pl.Series(k.STATUSES, dtype=k.StatusDtype).gather(status),
            "penalty_unposted": (pen_base * num // den) * rng.integers(0, 30, n),
            "penalty_owed": np.where(dpd > 30, installment // 20, 0).astype(np.int64),
            "prepaid_principal": np.zeros(n, dtype=np.int64),
            "grace_days": grace,
            "base_interest": base_interest,
            "rate_num": num,
            "rate_den": den,
            "t1": np.zeros(n, dtype=np.int32),
            "t2": np.full(n, 90, dtype=np.int32),
            "t3": np.full(n, 270, dtype=np.int32),
            "t4": np.full(n, 360, dtype=np.int32),
            "pen_base": pen_base,
            "od_principal": od_principal,
            "od_interest": od_interest,
            "od_count": od_count,
            "od_oldest": np.where(dpd > 0, d - 1 - dpd, k.NO_DUE).astype(np.int32),
            "os_principal": np.where(live, od_principal + installment * 6, 0),
            # interest of installments due by as_of: the overdue ones' and yesterday's
            "os_interest": od_interest
            + np.where(live & (nxt == d - 1), installment // 10, 0)
            + np.where(live & due_yesterday, installment // 10, 0),
        },
        schema=k.STATE_SCHEMA,
    )
    rows = np.arange(n, dtype=np.uint32)
    insts = pl.DataFrame(
        {
            "row": np.concatenate([rows, rows[late]]),
            "n": np.concatenate([np.full(n, 7, np.int32), np.full(late.size, 6, np.int32)]),
            "due": np.concatenate([nxt, (d - 1 - grace[late]).astype(np.int32)]),
            "interest": np.concatenate([installment // 10, installment[late] // 10]),
            "unpaid_principal": np.concatenate(
                [installment * 9 // 10, installment[late] * 9 // 10]
            ),
            "unpaid_interest": np.concatenate([installment // 10, installment[late] // 10]),
        },
        schema=k.INST_SCHEMA,
    ).sort("due", "row")
    return state, insts


def time_kernel(n: int, runs: int) -> dict[str, Any]:
    state, insts = synthetic(n)
    d = k.day_number(DAY)
    times, cpus, entries = [], [], 0
    unchecked, unchecked_cpus = [], []
    for _ in range(runs):
        # with and without the day's invariant checks, in turn, so both see the same load
        for check, wall, cpu in ((False, unchecked, unchecked_cpus), (True, times, cpus)):
            t0, c0 = time.perf_counter(), time.process_time()
            res = k.accrue_portfolio_day(state, insts, d, check=check)
            out = writer_frames(res.state, res.entries, pg=True)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            entries = res.entries.height
            del res, out
    numeric = [
        state[c].to_physical().to_numpy() for c, t in k.STATE_SCHEMA.items() if c != "loan_id"
    ]
    floor = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for a in numeric:
            a.sum()
        floor.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {
        "loans": n,
        "seconds": med,
        "cpu_seconds": statistics.median(cpus),
        "unchecked_seconds": statistics.median(unchecked),
        "unchecked_cpu_seconds": statistics.median(unchecked_cpus),
        "loans_per_s": n / med,
        "entries": entries,
        "floor_seconds": statistics.median(floor),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def time_reference(sample: int) -> tuple[float, float]:
    """Wall and CPU seconds per loan for the reference: ``accrue_loan_day`` and ``state_row``."""
    from arrears.core.ledger.account import ONE_DAY, accrue_loan_day, open_account
    from arrears.core.loans.product import Method, Product
    from arrears.core.loans.schedule import LoanTerms
    from arrears.core.money import Rate, RateBasis
    from arrears.services.accounts import state_row

    rng = np.random.default_rng(2)
    product = Product()
    accts = []
    for i in range(sample):
        start = DAY - timedelta(days=int(rng.integers(40, 400)))
        terms = LoanTerms(
            f"R{i}",
            int(rng.choice([500_000, 1_000_000, 2_000_000])),
            Rate(Fraction(5, 10_000), RateBasis.DAILY),
            12,
            Method.ANNUITY,
            start,
            None,
        )
        acct, _ = open_account(terms, product)
        # a never-payer closed to the day before (about 15% of real loans are overdue; the
        # per-loan cost barely depends on it: every installment is looked at every day)
        from dataclasses import replace

        accts.append(replace(acct, as_of=DAY - ONE_DAY))
    t0, c0 = time.perf_counter(), time.process_time()
    for a in accts:
        nxt, _ = accrue_loan_day(a, product, DAY)
        state_row(nxt, product)
    return (time.perf_counter() - t0) / sample, (time.process_time() - c0) / sample


def child(n: int, runs: int) -> None:
    print(json.dumps(time_kernel(n, runs)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k and 1M loans, 3 runs")
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.runs)
        return
    sizes = [100_000, 1_000_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = 3 if args.quick else args.runs
    results = []
    for n in [100_000, *[s for s in sizes if s != 100_000]]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--runs", str(runs)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    sample = 2_000 if args.quick else 10_000
    ref_per_loan, ref_cpu = time_reference(sample)
    k100 = results[0]["seconds"] / results[0]["loans"]
    k100_cpu = results[0]["cpu_seconds"] / results[0]["loans"]
    print(f"Kernel: one business day (month end), median of {runs} runs, 2 shared cores\n")
    print("| loans | wall s | CPU s | loans/s (wall) | entries | x numpy sum floor | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['loans']:,} | {r['seconds']:.3f} | {r['cpu_seconds']:.3f} | "
            f"{r['loans_per_s'] / 1e6:.1f}M | "
            f"{r['entries']:,} | {r['seconds'] / r['floor_seconds']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} MB |"
        )
    print(
        "\nThe day's invariant checks (core/close/invariants.py), same runs, checks off and on "
        "in turn:\n"
    )
    print("| loans | wall s, off | wall s, on | on / off | CPU s, off | CPU s, on | on / off |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['loans']:,} | {r['unchecked_seconds']:.3f} | {r['seconds']:.3f} | "
            f"{r['seconds'] / r['unchecked_seconds']:.2f} | "
            f"{r['unchecked_cpu_seconds']:.3f} | {r['cpu_seconds']:.3f} | "
            f"{r['cpu_seconds'] / r['unchecked_cpu_seconds']:.2f} |"
        )
    print(
        f"\nReference (per-loan Python accrue_loan_day + state_row), timed on {sample:,} loans: "
        f"{ref_per_loan * 1e6:.1f} us/loan = {1 / ref_per_loan:,.0f} loans/s; "
        f"kernel at 100k loans: {k100 * 1e6:.3f} us/loan; ratio {ref_per_loan / k100:,.0f}x. "
        f"By CPU time: {ref_cpu * 1e6:.1f} vs {k100_cpu * 1e6:.3f} us/loan, "
        f"ratio {ref_cpu / k100_cpu:,.0f}x."
    )


if __name__ == "__main__":
    main()
