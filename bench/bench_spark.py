"""Benchmark of the close on Apache Spark: loans/s by number of partitions, beside the in-process
kernel on the same input, in the same run.

    .venv/bin/python bench/bench_spark.py [--loans 1000000] [--partitions 1,2,4,8] [--runs 3]
        [--master local[2]] [--quick]

Needs the optional extra (``pip install -e '.[spark]'``) and Java 17+. The input is
bench_kernel's synthetic portfolio (about 85% current, 10% 1-90 days overdue, 5% deeper; the
day is a month end, so the penalty posting is part of the work), two loans per borrower, written
once as the day's state file (``core.close.partition.STATE_FILE``, Parquet), as the Spark
engine's export writes it. Then, timed, each from that file to a result file
(``partition.RESULT``, Parquet):

- ``in-process``: one Python process reads the file, runs the kernel
  (:func:`arrears.core.close.partition.close_table`: unnest, ``accrue_portfolio_through``
  with its invariant checks, nest) and writes the result: the same work without Spark.
- ``spark, P partitions``: :func:`arrears.services.close.spark_engine.close_parquet`, the job
  ``close-day --engine spark`` runs: read, hash-partition by borrower (a shuffle), the kernel in
  ``mapInArrow`` on each partition, write.

Each figure is the median of ``--runs`` runs after one untimed warm-up of each (JVM and Python
workers started, the file in the page cache). Beside wall time, CPU time: for the in-process
run ``time.process_time`` (every thread), for Spark the user + system time of the JVM and every
process under it (Python workers, read from ``/proc``, Linux only), the figure that stays
put when the machine's shared cores are busy with other work, and the one the projection to a
cluster scales (docs/scale.md).

Then, with ``--db-loans N`` (0: skipped), the accrual of one day through the database, export
and import included: a generated book of N loans with its payment history on SQLite
(bench_close_e2e's ``prepare``: imported and accrued to the day before), copied, and the next
day closed on one copy with ``close_through(kernel="polars")`` and on the other with
``kernel="spark"`` (default partitions), each timed once; the two copies' ``loan_state`` and
journal must then be equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from bench_close_e2e import AS_OF, prepare
from bench_kernel import DAY, synthetic
from sqlalchemy import text

from arrears.core.close.kernel import day_number
from arrears.core.close.partition import close_table, to_state_file
from arrears.core.sim.generate import generate
from arrears.services.close import spark_engine
from arrears.services.close.reference import close_through
from arrears.services.portfolio_files import write_table
from arrears.store.engine import make_engine


def state_file(n: int, where: Path) -> Path:
    state, insts = synthetic(n)
    borrowers = ("B" + (pl.int_range(0, n, eager=True) // 2).cast(pl.String).str.zfill(9)).alias(
        "borrower_id"
    )
    path = where / "state.parquet"
    pq.write_table(to_state_file(state, insts, None, borrowers), path)
    return path


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) of ``root`` and every live process under it, with what
    their reaped children used: the JVM and the Python workers it forked."""
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        pid = int(entry.name)
        parent[pid] = int(fields[1])
        used[pid] = sum(int(x) for x in fields[11:15]) / TICK  # utime stime cutime cstime
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo.extend(p for p, pp in parent.items() if pp == pid)
    return total


def in_process(state: Path, out: Path) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = close_table(pq.read_table(state), day_number(DAY))
    pq.write_table(result, out)
    return time.perf_counter() - t0, time.process_time() - c0


def on_spark(spark: Any, state: Path, out: Path, partitions: int) -> tuple[float, float]:
    jvm = int(spark.sparkContext._gateway.proc.pid)  # the JVM pyspark started
    t0, c0, j0 = time.perf_counter(), time.process_time(), tree_cpu(jvm)
    spark_engine.close_parquet(spark, str(state), str(out), DAY, partitions)
    cpu = time.process_time() - c0 + tree_cpu(jvm) - j0
    return time.perf_counter() - t0, cpu


def median_of(runs: int, fn, *args) -> tuple[float, float, list[float]]:  # type: ignore[no-untyped-def]
    """Median wall and CPU seconds of ``runs`` runs after an untimed one, and every wall time."""
    fn(*args)
    got = [fn(*args) for _ in range(runs)]
    walls = [w for w, _ in got]
    return statistics.median(walls), statistics.median(c for _, c in got), walls


def through_database(spark: Any, n: int, work: Path) -> list[tuple[str, float, float, int, int]]:
    """(engine, wall s, CPU s, loans aged, entries posted) of one day's accrual on a SQLite
    book (CPU: this process, SQLite's work included, and Spark's processes)."""
    jvm = int(spark.sparkContext._gateway.proc.pid)
    book = generate(n, 1, AS_OF)
    loans, pays = work / "loans.parquet", work / "payments.parquet"
    write_table(book.loans, loans)
    write_table(book.payments, pays)
    engine, _ = prepare(str(work / "book.db"), loans, pays)
    engine.dispose()
    day = AS_OF  # prepare accrued the book to the day before
    out = []
    dumps = []
    for kernel in ("polars", "spark"):
        db = work / f"{kernel}.db"
        shutil.copy(work / "book.db", db)
        eng = make_engine(str(db))
        t0, c0, j0 = time.perf_counter(), time.process_time(), tree_cpu(jvm)
        res = close_through(eng, day, kernel=kernel)  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0 + tree_cpu(jvm) - j0
        out.append((kernel, wall, cpu, res.loans_aged, res.entries_posted))
        print(f"  through SQLite, {kernel}: {wall:.2f}s, {cpu:.2f}s CPU", file=sys.stderr)
        with eng.connect() as conn:
            dumps.append(
                [
                    list(conn.execute(text("SELECT * FROM loan_state ORDER BY loan_id"))),
                    list(
                        conn.execute(
                            text(
                                "SELECT key, kind, effective_on FROM journal_entries "
                                "WHERE effective_on >= :d ORDER BY key"
                            ),
                            {"d": (day - timedelta(days=1)).isoformat()},
                        )
                    ),
                ]
            )
        eng.dispose()
    assert dumps[0] == dumps[1], "the Spark close left other rows than the in-process one"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=1_000_000)
    ap.add_argument("--partitions", default="1,2,4,8")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="6g", help="the local JVM's heap (all of Spark)")
    ap.add_argument("--db-loans", type=int, default=100_000, help="0: no database run")
    ap.add_argument("--quick", action="store_true", help="50k loans, 1 run, 5k through SQLite")
    args = ap.parse_args()
    if args.quick:
        args.loans, args.runs, args.db_loans = 50_000, 1, 5_000
    why = spark_engine.spark_missing()
    if why:
        sys.exit(f"bench_spark: {why}")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(args.master)
        .appName("arrears-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", args.driver_memory)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    cores = spark.sparkContext.defaultParallelism
    work = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        t0 = time.perf_counter()
        state = state_file(args.loans, work)
        mb = state.stat().st_size / 2**20
        print(
            f"state file: {args.loans:,} loans, {mb:.0f} MiB Parquet "
            f"({time.perf_counter() - t0:.1f}s to build)",
            file=sys.stderr,
        )
        load = os.getloadavg()[0]
        rows = []
        med, cpu, times = median_of(args.runs, in_process, state, work / "result.parquet")
        rows.append(("in-process (one Python process)", "-", med, cpu, times))
        print(f"  in-process: {med:.2f}s, {cpu:.2f}s CPU", file=sys.stderr, flush=True)
        for p in (int(x) for x in args.partitions.split(",")):
            res = median_of(args.runs, on_spark, spark, state, work / f"result-{p}", p)
            rows.append((f"spark {args.master}", str(p), *res))
            print(f"  spark, {p} partitions: {res[0]:.2f}s, {res[1]:.2f}s CPU", file=sys.stderr)
        load_after = os.getloadavg()[0]
        db_rows = through_database(spark, args.db_loans, work) if args.db_loans else []
    finally:
        spark.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nClose of one business day (month end), {args.loans:,} loans, Parquet in and out; "
        f"median of {args.runs} runs; Spark master {args.master} ({cores} cores); load average "
        f"{load:.1f} before, {load_after:.1f} after\n"
    )
    print(
        "| engine | partitions | loans per partition | wall s | loans/s | CPU s | "
        "loans per CPU-second | runs, wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for engine, parts, med, cpu, times in rows:
        per = f"{args.loans // int(parts):,}" if parts != "-" else f"{args.loans:,}"
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"| {engine} | {parts} | {per} | {med:.2f} | {args.loans / med:,.0f} | {cpu:.2f} | "
            f"{args.loans / cpu:,.0f} | {runs} |"
        )

    if db_rows:
        print(
            f"\nAccrual of one day through the database: SQLite, {args.db_loans:,} loans "
            f"generated with payments, closed the day before; one run each\n"
        )
        print("| engine | loans aged | entries posted | wall s | loans/s | CPU s |")
        print("|---|---:|---:|---:|---:|---:|")
        for kernel, wall, cpu, aged, posted in db_rows:
            print(
                f"| {kernel} | {aged:,} | {posted:,} | {wall:.2f} | {aged / wall:,.0f} "
                f"| {cpu:.2f} |"
            )


if __name__ == "__main__":
    main()
