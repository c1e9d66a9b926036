"""The close's state as one Arrow table, one row per loan, so that it can be cut anywhere.

The kernel (:mod:`arrears.core.close.kernel`) takes three frames that refer to each other by
row number: the state, the installments and the pauses. Rows numbers do not survive a shuffle,
so on Spark (``services/close/spark_engine.py``) each loan carries its own installments and
pauses as nested lists, and any set of rows (a partition) can be unnested into the kernel's
frames, closed by :func:`arrears.core.close.kernel.accrue_portfolio_through` and nested again,
entries included. Nothing here knows Spark: these are functions of Arrow tables.

``STATE_FILE``: the day's input, what the engine writes as Parquet before the job. ``RESULT``:
what each partition gives back, the kernel's state after the day, the loan-days it closed and
its entries. Spark has no unsigned integers, so the codes travel as int8 and the status as its
name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import polars as pl
import pyarrow as pa

from arrears.core.close.kernel import (
    ENTRY_SCHEMA,
    INST_SCHEMA,
    PAUSE_SCHEMA,
    STATE_SCHEMA,
    accrue_portfolio_through,
)

# Rows per Arrow batch handed back: Spark's own default for Arrow batches
# (spark.sql.execution.arrow.maxRecordsPerBatch), so no batch is larger than it would send.
BATCH_ROWS = 10_000


def _arrow(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type a kernel column travels as (Spark reads each one as its own type)."""
    if isinstance(dtype, pl.Enum | pl.String):
        return pa.string()
    by_type: dict[type[pl.DataType], pa.DataType] = {
        pl.Int32: pa.int32(),
        pl.Int64: pa.int64(),
        pl.Boolean: pa.bool_(),
        pl.UInt8: pa.int8(),  # codes and kinds are small: int8 holds them
    }
    return by_type[type(dtype)]


_INST = pa.struct([(c, _arrow(t)) for c, t in INST_SCHEMA.items() if c != "row"])
_PAUSE = pa.struct([(c, _arrow(t)) for c, t in PAUSE_SCHEMA.items() if c != "row"])
_ENTRY = pa.struct([(c, _arrow(t)) for c, t in ENTRY_SCHEMA.items() if c != "row"])
_STATE = [pa.field(c, _arrow(t)) for c, t in STATE_SCHEMA.items()]

STATE_FILE = pa.schema(
    [
        pa.field("borrower_id", pa.string()),  # the partitioning key
        *_STATE,
        pa.field("insts", pa.list_(_INST)),
        pa.field("pauses", pa.list_(_PAUSE)),
    ]
)
RESULT = pa.schema(
    [
        *_STATE,
        pa.field("loan_days", pa.int32()),  # days this close moved the loan
        pa.field("entries", pa.list_(_ENTRY)),
    ]
)


def _nest(rows: pl.DataFrame, name: str, fields: list[str], height: int) -> pl.Series:
    """Rows that name a loan by ``row`` as one list per loan, in row order (empty for none)."""
    per_row = rows.group_by("row").agg(pl.struct(fields).alias(name))
    return (
        pl.DataFrame({"row": pl.int_range(0, height, dtype=pl.UInt32, eager=True)})
        .join(per_row, on="row", how="left", maintain_order="left")[name]
        .fill_null(pl.lit([], dtype=per_row.schema[name]))
    )


def _unnest(frame: pl.DataFrame, column: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A nested column back as rows naming their loan by ``row`` (its row in ``frame``)."""
    flat = (
        frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), column)
        .explode(column)
        .drop_nulls(column)  # explode gives an empty list one null row
        .unnest(column)
    )
    if not flat.height:
        return pl.DataFrame(schema=schema)
    return flat.select(pl.col(c).cast(t) for c, t in schema.items())


def to_state_file(
    state: pl.DataFrame,
    insts: pl.DataFrame,
    pauses: pl.DataFrame | None,
    borrower_ids: pl.Series,
) -> pa.Table:
    """The kernel's frames (``STATE_SCHEMA`` and the rows naming it) as ``STATE_FILE``.

    ``borrower_ids`` is row for row with ``state``.
    """
    n = state.height
    out = state.with_columns(
        borrower_id=borrower_ids,
        insts=_nest(insts, "insts", [c for c in INST_SCHEMA if c != "row"], n),
        pauses=_nest(
            pauses if pauses is not None else pl.DataFrame(schema=PAUSE_SCHEMA),
            "pauses",
            ["first", "last"],
            n,
        ),
    )
    return out.select(STATE_FILE.names).to_arrow().cast(STATE_FILE)


def from_state_file(
    table: pa.Table,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """``STATE_FILE`` rows (any of them, in any order) as the kernel's state, installments
    (sorted by due date, as the kernel searches them) and pauses (None when there are none)."""
    # One chunk per column: Spark hands a partition over in batches, and the kernel reads its
    # columns' buffers (its invariant checks tell a column the day left alone by its buffer;
    # a column of many chunks is copied on every read, so it would look written to).
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.rechunk()
    state = frame.select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())
    insts = _unnest(frame, "insts", INST_SCHEMA).sort("due", "row")
    pauses = _unnest(frame, "pauses", PAUSE_SCHEMA)
    return state, insts, pauses if pauses.height else None


def close_table(table: pa.Table, through: int) -> pa.Table:
    """Close ``STATE_FILE`` rows through day ``through`` with the kernel: ``RESULT`` rows."""
    state, insts, pauses = from_state_file(table)
    adv = accrue_portfolio_through(state, insts, through, pauses)
    out = adv.state.with_columns(
        loan_days=(adv.state["as_of"] - state["as_of"]).cast(pl.Int32),
        entries=_nest(adv.entries, "entries", ["kind", "n", "day", "amount"], state.height),
    )
    return out.to_arrow().cast(RESULT)


def close_batches(batches: Iterable[pa.RecordBatch], through: int) -> Iterator[pa.RecordBatch]:
    """What ``mapInArrow`` runs on each partition: the whole partition through the kernel at
    once (a day costs the kernel a fixed overhead per call, so one call a partition, not one
    per batch of Spark's), handed back in batches of at most ``BATCH_ROWS``."""
    got = list(batches)
    if not got or not sum(b.num_rows for b in got):
        return
    table = pa.Table.from_batches(got).select(STATE_FILE.names).cast(STATE_FILE)
    yield from close_table(table, through).to_batches(max_chunksize=BATCH_ROWS)


def from_result(table: pa.Table) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """``RESULT`` rows as the kernel's state (by loan id), its entries naming their loan by row
    in that state, as :func:`accrue_portfolio_through` gives them, and the loan-days closed."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.sort("loan_id")
    state = frame.select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())
    entries = _unnest(frame, "entries", ENTRY_SCHEMA)
    return state, entries, int(frame["loan_days"].sum())
