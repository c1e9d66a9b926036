"""A borrower's read, its statement built on every call against built once (issue 17).

    .venv/bin/python bench/bench_statements.py [--runs 3000]

The join ``services.accounts`` runs for each ``GET /me/loans`` (loans with their state, two
loan ids), on an in-memory SQLite database, side by side in one process: built per call with
``in_(ids)`` (what the code did) against the module-level statement with an expanding
parameter (what it does). CPU time (``time.process_time``) per query, each way measured twice,
alternated, after a warm-up.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sqlalchemy import bindparam, create_engine, select

from arrears.store import tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3000)
    args = ap.parse_args()
    engine = create_engine("sqlite://")
    tables.metadata.create_all(engine)
    ids = ["L1", "L2"]
    loans, state = tables.loans, tables.loan_state
    once = (
        select(loans, state)
        .join(state, state.c.loan_id == loans.c.loan_id)
        .where(loans.c.loan_id.in_(bindparam("ids", expanding=True)))
    )
    with engine.connect() as conn:

        def built_per_call() -> None:
            q = (
                select(loans, state)
                .join(state, state.c.loan_id == loans.c.loan_id)
                .where(loans.c.loan_id.in_(ids))
            )
            conn.execute(q).all()

        def built_once() -> None:
            conn.execute(once, {"ids": ids}).all()

        ways: list[Callable[[], None]] = [built_per_call, built_once]
        figures: dict[str, list[float]] = {f.__name__: [] for f in ways}
        for f in ways * 2:
            for _ in range(200):
                f()
            t = time.process_time()
            for _ in range(args.runs):
                f()
            figures[f.__name__].append((time.process_time() - t) / args.runs * 1e6)
    per_call, built = min(figures["built_per_call"]), min(figures["built_once"])
    print(f"built per call: {per_call:.0f} µs a query; built once: {built:.0f} µs")
    print(f"ratio: {per_call / built:.1f}x ({args.runs:,} runs each, best of 2)")


if __name__ == "__main__":
    main()
