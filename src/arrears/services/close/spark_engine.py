"""The accrual on Apache Spark: the same columnar kernel, run by ``mapInArrow`` over partitions
by borrower (``arrears close-day --engine spark``; docs/scale.md).

Three steps, each one function:

1. Export: the active loans behind the date are read from the database exactly as the
   in-process runner reads a chunk (:func:`arrears.services.close.accrual.read_pending`),
   each loan with its installment window and pauses nested (``core/close/partition``), and
   written as the day's state, a Parquet file.
2. :func:`close_parquet`: Spark reads that state, hash-partitions it by borrower and hands each
   partition's Arrow batches to :func:`arrears.core.close.partition.close_batches`, which runs
   :func:`arrears.core.close.kernel.accrue_portfolio_through` on them; the results (state after
   the day and entries, per loan) are written as Parquet. This is the only step a cluster
   needs, and all it reads and writes is Parquet.
3. Import: the results are read back and stored by
   :func:`arrears.services.close.accrual.write_advanced`, the in-process runner's own write.

Partitions are by borrower, not by loan range, so that every loan of a borrower is in one
partition: the close's later phases work per borrower (treatments are chosen and gated per
borrower), and keeping a borrower whole is what lets those phases move into the same job.

The three steps are one transaction, as a chunk of the in-process runner is: PostgreSQL holds the
loans ``FOR UPDATE`` and SQLite the write lock from the export to the import, so a payment
that arrives while Spark runs waits rather than being overwritten. A failure anywhere (a broken
invariant raised on an executor fails the job) rolls it back: nothing of the day is written,
and a rerun starts again. ``pyspark`` is imported only here, and only when the engine runs.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
from pyarrow import fs
from sqlalchemy import Engine

from arrears.core.close.kernel import day_number
from arrears.core.close.partition import (
    RESULT,
    close_batches,
    from_result,
    to_state_file,
)
from arrears.services.close.accrual import (
    ChunkCounts,
    Db,
    lock_loans,
    read_pending,
    write_advanced,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Partition sizing when none is asked for: at least one partition per core Spark has, and at most
# this many loans in one. A partition is closed in one kernel call, in one Python worker's
# memory: about 1 KB per loan in flight (state, window, result), so 1M loans is ~1 GB. See the
# measured table in docs/scale.md.
LOANS_PER_PARTITION = 1_000_000
# Where the day's Parquet goes: a directory every executor can read (a shared file system or an
# object store URI that pyarrow and Spark both open). Unset: a temporary local directory, which
# is enough for a local master.
WORKDIR_CONF = "spark.arrears.workdir"

EXTRA_HINT = "pip install 'arrears[spark]'"


class SparkUnavailable(RuntimeError):
    """The Spark engine cannot run here; the message says what is missing."""


def spark_missing() -> str | None:
    """Why ``--engine spark`` cannot run on this machine (no PySpark, no Java), or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"--engine spark needs PySpark, the optional extra: {EXTRA_HINT}"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return (
            "--engine spark needs Java 17 or later on PATH or in JAVA_HOME "
            "(Debian: apt-get install default-jre-headless)"
        )
    return None


def session(master: str | None = None) -> SparkSession:
    """The running Spark session, or a new one (``local[*]`` unless Spark is told otherwise:
    spark-submit's ``--master``, spark-defaults.conf, or ``master`` here)."""
    why = spark_missing()
    if why:
        raise SparkUnavailable(why)
    from pyspark.sql import SparkSession

    # A local master's Python workers are started with PYSPARK_PYTHON, else the first python3
    # on PATH, which need not be the interpreter that has arrears and pyarrow installed. On a
    # cluster spark.pyspark.python (spark-submit --conf) names the executors' one and wins.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark's console progress bar would draw over the close's own (cli.common.phase_bar).
    builder = SparkSession.builder.appName("arrears-close").config(
        "spark.ui.showConsoleProgress", "false"
    )
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def default_partitions(spark: SparkSession, loans: int) -> int:
    """Partitions for ``loans``: every core busy, no partition above ``LOANS_PER_PARTITION``."""
    cores = int(spark.sparkContext.defaultParallelism)
    return max(cores, -(-loans // LOANS_PER_PARTITION))


def close_parquet(
    spark: SparkSession, state_uri: str, result_uri: str, through: date, partitions: int
) -> None:
    """The job: the day's state (``partition.STATE_FILE`` Parquet at ``state_uri``) closed
    through ``through`` by the kernel, ``partitions`` partitions by borrower, written to
    ``result_uri`` as ``partition.RESULT`` Parquet."""
    from pyspark.sql.pandas.types import from_arrow_schema

    kernel = functools.partial(close_batches, through=day_number(through))
    (
        spark.read.parquet(state_uri)
        .repartition(partitions, "borrower_id")
        .mapInArrow(kernel, from_arrow_schema(RESULT))
        .write.mode("overwrite")
        .parquet(result_uri)
    )


@contextmanager
def _workdir(spark: SparkSession, where: str | None) -> Iterator[tuple[fs.FileSystem, str, str]]:
    """A fresh directory for one run's Parquet: (file system, its path there, its URI)."""
    base = where or spark.conf.get(WORKDIR_CONF, None)
    if not base:
        local = tempfile.mkdtemp(prefix="arrears-spark-")
        try:
            yield fs.LocalFileSystem(), local, local
        finally:
            shutil.rmtree(local, ignore_errors=True)
        return
    filesystem, path = fs.FileSystem.from_uri(base if "://" in base else os.path.abspath(base))
    name = f"close-{uuid.uuid4().hex}"
    path = f"{path.rstrip('/')}/{name}"
    uri = f"{base.rstrip('/')}/{name}"
    filesystem.create_dir(path)
    try:
        yield filesystem, path, uri
    finally:
        filesystem.delete_dir(path)


Progress = Callable[[int, int], None]


def run(
    engine: Engine,
    through: date,
    progress: Progress | None = None,
    *,
    spark: SparkSession | None = None,
    partitions: int | None = None,
    workdir: str | None = None,
) -> ChunkCounts:
    """Bring every active loan to ``through`` on Spark, in one transaction (see the module)."""
    spark = spark or session()
    db = Db(engine)
    try:
        counts = _run(db, spark, through, progress, partitions, workdir)
        db.commit()
        return counts
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def _run(
    db: Db,
    spark: SparkSession,
    through: date,
    progress: Progress | None,
    partitions: int | None,
    workdir: str | None,
) -> ChunkCounts:
    span = db.query(
        "SELECT min(loan_id) AS lo, max(loan_id) AS hi, count(*) AS n FROM loan_state "
        "WHERE as_of < ? AND status = 'active'",
        (db.day(through),),
    )
    total = int(span["n"][0] or 0)
    if not total:
        return ChunkCounts()
    lo, hi = str(span["lo"][0]), str(span["hi"][0])
    if progress:
        progress(0, total)
    if db.pg:
        lock_loans(db, lo, hi)
    pending = read_pending(db, lo, hi, through)
    if pending is None:  # another close got there between the count and the lock
        return ChunkCounts()
    owners = db.query(
        "SELECT loan_id, borrower_id FROM loans WHERE loan_id >= ? AND loan_id <= ?", (lo, hi)
    )
    borrowers = pending.state.select("loan_id").join(
        owners, on="loan_id", how="left", maintain_order="left"
    )["borrower_id"]
    table = to_state_file(pending.state, pending.insts, pending.pauses, borrowers)
    with _workdir(spark, workdir) as (filesystem, path, uri):
        pq.write_table(table, f"{path}/state.parquet", filesystem=filesystem)
        close_parquet(
            spark,
            f"{uri}/state.parquet",
            f"{uri}/result",
            through,
            partitions or default_partitions(spark, total),
        )
        result = pq.read_table(f"{path}/result", filesystem=filesystem, schema=RESULT)
    state, entries, loan_days = from_result(result)
    _same_loans(pending.state["loan_id"], state["loan_id"])
    posted = write_advanced(db, state, entries, lo, hi)
    if progress:
        progress(total, total)
    return ChunkCounts(state.height, loan_days, posted)


def _same_loans(sent: pl.Series, got: pl.Series) -> None:
    """Every loan sent came back once: a job that lost or doubled a row writes nothing."""
    if got.len() != sent.len() or not got.equals(sent.sort(), check_names=False):
        raise RuntimeError(
            f"Spark close returned {got.len()} loans ({got.n_unique()} distinct) "
            f"for {sent.len()} sent"
        )


def main(argv: list[str] | None = None) -> None:
    """The job alone, on files: ``spark-submit spark_engine.py STATE RESULT --through D``.

    For a book whose day's state already lives as Parquet (``partition.STATE_FILE``) where the
    cluster reads it (docs/scale.md): no database, no driver-side copy of the book.
    """
    import argparse

    ap = argparse.ArgumentParser(description="Close the day's state file on Spark")
    ap.add_argument("state", help="the day's state: STATE_FILE Parquet (a file or directory URI)")
    ap.add_argument("result", help="where to write the RESULT Parquet (overwritten)")
    ap.add_argument("--through", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    ap.add_argument("--partitions", type=int, help="default: one per core Spark has, at least")
    args = ap.parse_args(argv)
    spark = session()
    partitions = args.partitions or default_partitions(
        spark, spark.read.parquet(args.state).count()
    )
    close_parquet(spark, args.state, args.result, args.through, partitions)


__all__ = [
    "LOANS_PER_PARTITION",
    "WORKDIR_CONF",
    "SparkUnavailable",
    "close_parquet",
    "default_partitions",
    "main",
    "run",
    "session",
    "spark_missing",
]


if __name__ == "__main__":
    main()
