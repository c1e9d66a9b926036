"""Benchmark: `choose_frame` on N generated cases, and the reference `choose` on a sample.

Run: .venv/bin/python -m tests.strategy.bench_choose_frame 1000000
Not a test (no timed assertions); prints wall and CPU seconds.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import date, timedelta
from types import MappingProxyType

import polars as pl

from arrears.core.strategy import CaseView, choose, choose_frame
from arrears.services.policy_files import bundled_policy_path, load_policy_set
from factories import succeeded

STEPS = ["sms_overdue", "call_debtor", "sms_emergency_contact", "home_visit"]


def generate(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = random.Random(seed)
    r, i = rng.random, rng.randint
    day = date(2026, 3, 10)
    dpd = [0 if r() < 0.03 else i(1, 180) for _ in range(n)]
    cases = pl.DataFrame(
        {
            "borrower_id": [f"B{k:08d}" for k in range(n)],
            "loan_id": [f"L{k:08d}" for k in range(n)],
            "business_date": [day] * n,
            "dpd": dpd,
            "days_to_due": [i(0, 30) if d == 0 else None for d in dpd],
            "overdue_amount": [i(10_000, 2_000_000) if d else 0 for d in dpd],
            "outstanding_amount": [i(100_000, 5_000_000) for _ in range(n)],
            "risk_score": [i(0, 1000) for _ in range(n)],
            "prior_cases": [i(0, 2) for _ in range(n)],
            "promise_until": [
                day + timedelta(days=i(-5, 5)) if r() < 0.05 else None for _ in range(n)
            ],
            "promise_broken_on": [
                day - timedelta(days=i(0, 30)) if r() < 0.1 else None for _ in range(n)
            ],
            "hardship": [r() < 0.02 for _ in range(n)],
            "dispute": [r() < 0.01 for _ in range(n)],
            "plan_in_force": [r() < 0.05 for _ in range(n)],
            "unreachable_days": [i(0, 60) for _ in range(n)],
            "visit_approved": [r() < 0.3 for _ in range(n)],
            "emergency_contacts": [i(0, 2) for _ in range(n)],
        }
    )
    last = pl.DataFrame(
        {
            "borrower_id": [f"B{i(0, n - 1):08d}" for _ in range(n)],
            "step": [rng.choice(STEPS) for _ in range(n)],
            "last_date": [day - timedelta(days=i(1, 40)) for _ in range(n)],
        }
    )
    return cases, last


def views(cases: pl.DataFrame, last: pl.DataFrame) -> list[CaseView]:
    sent: dict[str, dict[str, date]] = {}
    latest = last.group_by("borrower_id", "step").agg(pl.col("last_date").max())
    for b, s, d in latest.iter_rows():
        sent.setdefault(b, {})[s] = d
    return [
        CaseView(**row, last_sent=MappingProxyType(sent.get(row["borrower_id"], {})))
        for row in cases.iter_rows(named=True)
    ]


def main(n: int) -> None:
    ps = succeeded(load_policy_set(bundled_policy_path("split")))
    cases, last = generate(n)
    wall, cpu = time.perf_counter(), time.process_time()
    actions, routings = choose_frame(cases, last, ps)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"choose_frame: {n:,} cases, {last.height:,} last_sent rows -> {actions.height:,} "
        f"actions, {routings.height:,} routings: {wall:.2f} s wall, {cpu:.2f} s CPU"
    )
    m = min(n, 20_000)
    sample = views(cases.head(m), last)
    wall = time.perf_counter()
    for v in sample:
        choose(v, ps)
    wall = time.perf_counter() - wall
    print(f"reference choose: {m:,} cases in {wall:.2f} s ({m / wall:,.0f} cases/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
