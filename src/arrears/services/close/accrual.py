"""The close on a database with the columnar kernel: Arrow in, kernel, Arrow out, per chunk.

Each chunk is one transaction on one connection (ADBC on PostgreSQL, the engine's own
``sqlite3`` on SQLite, see :class:`Db`). First the chunk's quiet loans (closed yesterday,
nothing overdue, nothing due yesterday or today) are moved to the day by one UPDATE: on most days
that is most loans, and the day changes nothing else about them. The rest are read with their stored
read-outs, which are the kernel's carried aggregates (see
:func:`arrears.core.close.kernel.from_stored`), and only the installments due from ``as_of - grace``
on (a few per loan on a one-day close, by the index on due date), advanced with
:func:`arrears.core.close.kernel.accrue_portfolio_through`; the new state and the entries are
bulk-loaded into temporary tables (COPY on PostgreSQL) and applied with set-based SQL. A chunk is a
range of loan ids, in the database's own order, so no id list is shipped back.

The kernel checks its money invariants after every day it closes (``core/close/invariants``):
a broken one raises ``BrokenInvariant``, the chunk's transaction rolls back and the close
stops, so nothing of a wrong day is written.

Same guarantees as the reference (``services/close/reference.py``): a crash loses at most the
chunk in flight; a rerun skips loans already at the target date; an entry whose key is already
in the journal is not posted again; PostgreSQL holds the chunk's loans ``FOR UPDATE`` (in id order,
as payments lock one loan at a time) so a payment committed mid-chunk is not overwritten; on
SQLite the chunk takes the write lock before it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import polars as pl
from sqlalchemy import Engine

from arrears.core.ageing.status import BUCKETS, CLASSES
from arrears.core.close.frames import BASE_COLUMNS, settings_columns
from arrears.core.close.kernel import (
    INST_SCHEMA,
    KIND_INTEREST,
    KIND_PENALTY,
    PAUSE_SCHEMA,
    STATE_SCHEMA,
    STATUSES,
    STORED_SCHEMA,
    accrue_portfolio_through,
    day_date,
    day_number,
    from_stored,
    is_month_end,
    readouts,
    window_start,
)
from arrears.core.ledger.journal import INCOME_INTEREST, INCOME_PENALTY, EntryKind, receivable
from arrears.core.loans.product import Component, Product
from arrears.core.money import Rate, RateBasis
from arrears.services.moratoria import FOREVER
from arrears.store.adbc import pg_connect

LOANS_PER_CHUNK = 100_000  # loans per transaction (one id range) of the columnar close
THREADS = 2  # PostgreSQL: chunks closed at once (see run)

STATE_COLUMNS = [
    "as_of",
    "status",
    "penalty_unposted",
    "penalty_owed",
    "prepaid_principal",
    "dpd",
    "bucket",
    "classification",
    "overdue_principal",
    "overdue_interest",
    "overdue_penalty",
    "outstanding_principal",
    "outstanding_interest",
    "outstanding_penalty",
    "consecutive_overdue",
]


def _spell(column: str, names: tuple[str, ...]) -> str:
    """SQL for a read-out code column as its name (the kernel reads out indices)."""
    whens = " ".join(f"WHEN {code} THEN '{name}'" for code, name in enumerate(names))
    return f"CASE t.{column} {whens} END"


_SPELLED = {
    "status": _spell("status", STATUSES),
    "bucket": _spell("bucket", BUCKETS),
    "classification": _spell("classification", CLASSES),
}


@dataclass(slots=True)
class ChunkCounts:
    loans_aged: int = 0
    loan_days: int = 0
    entries_posted: int = 0


class Db:
    """One transaction's connection, and the few dialect differences the runner needs.

    PostgreSQL goes through ADBC (Arrow in and out; ingest is COPY). SQLite goes through the
    engine's own ``sqlite3`` connection: the ADBC SQLite driver links a second copy of the
    SQLite library, and two copies in one process do not see each other's POSIX locks, which
    corrupted a WAL database in testing ("database disk image is malformed"). There, reads
    build Arrow-backed frames from the cursor and writes are ``executemany`` into temporary
    tables (one C loop each), followed by the same set-based SQL.
    """

    def __init__(self, engine: Engine) -> None:
        self.pg = engine.dialect.name == "postgresql"
        if self.pg:
            self.conn: Any = pg_connect(engine)
        else:
            self.raw = engine.raw_connection()
            self.conn = self.raw.driver_connection
            self.conn.execute("BEGIN IMMEDIATE")  # the write lock first, as the reference

    def sql(self, text: str) -> str:
        """``?`` placeholders, numbered for PostgreSQL."""
        if not self.pg:
            return text
        parts = text.split("?")
        return "".join(p + (f"${k + 1}" if k < len(parts) - 1 else "") for k, p in enumerate(parts))

    def day(self, d: date) -> Any:
        return d if self.pg else d.isoformat()

    def query(self, text: str, params: tuple[Any, ...] = ()) -> pl.DataFrame:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), params)
            if self.pg:
                out = pl.from_arrow(cur.fetch_arrow_table())
                assert isinstance(out, pl.DataFrame)
                return out
            names = [d[0] for d in cur.description]
            return pl.DataFrame(cur.fetchall(), schema=names, orient="row")
        finally:
            cur.close()

    def execute(self, text: str, params: tuple[Any, ...] = ()) -> int:
        cur = self.conn.cursor()
        try:
            cur.execute(self.sql(text), params)
            return int(cur.rowcount)
        finally:
            cur.close()

    def ingest(self, name: str, frame: pl.DataFrame) -> None:
        if self.pg:
            cur = self.conn.cursor()
            try:
                cur.adbc_ingest(name, frame.to_arrow(), mode="replace", temporary=True)
            finally:
                cur.close()
            return
        cols = ", ".join(frame.columns)
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        self.conn.execute(f"CREATE TEMP TABLE {name} ({cols})")
        marks = ", ".join("?" * frame.width)
        self.conn.executemany(f"INSERT INTO {name} VALUES ({marks})", frame.iter_rows())

    def commit(self) -> None:
        if self.pg:
            self.conn.commit()
        else:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.pg:
            self.conn.rollback()
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        if self.pg:
            self.conn.close()
        else:
            self.raw.close()


def _to_days(col: pl.Series) -> pl.Series:
    """A DATE column (SQLite hands back ISO text) as Int32 days since 1970-01-01."""
    if col.dtype == pl.String:
        col = col.str.to_date("%Y-%m-%d")
    return col.cast(pl.Date).cast(pl.Int32)


def _dates_out(frame: pl.DataFrame, cols: list[str], pg: bool) -> pl.DataFrame:
    if pg:
        return frame
    return frame.with_columns(pl.col(c).dt.to_string("%Y-%m-%d") for c in cols)


def pending_ranges(engine: Engine, through: date, chunk: int) -> list[tuple[str, str, int]]:
    """(first id, last id, loans) of each chunk of the active loans behind ``through``."""
    db = Db(engine)
    try:
        ids = db.query(
            "SELECT loan_id FROM loan_state WHERE as_of < ? AND status = 'active' ORDER BY loan_id",
            (db.day(through),),
        )["loan_id"]
        db.rollback()
    finally:
        db.close()
    out = []
    for k in range(0, ids.len(), chunk):
        last = min(k + chunk, ids.len()) - 1
        out.append((str(ids[k]), str(ids[last]), last - k + 1))
    return out


def _products(db: Db) -> dict[str, Product]:
    rows = db.query("SELECT product_id, spec FROM products")
    return {r["product_id"]: Product.from_json(r["spec"]) for r in rows.iter_rows(named=True)}


def _settings(loans: pl.DataFrame, prods: dict[str, Product]) -> pl.DataFrame:
    """Per-loan product columns, computed once per distinct (rate, basis, product)."""
    keys = loans.select("rate", "rate_basis", "product_id").unique()
    rows = []
    for r in keys.iter_rows(named=True):
        product = prods[r["product_id"]]
        rate = Rate(Fraction(r["rate"]), RateBasis(r["rate_basis"]))
        daily = rate.daily(product.days_per_year) * product.penalty_multiplier
        rows.append({**r, **settings_columns(daily, product)})
    schema = {"rate": pl.String(), "rate_basis": pl.String(), "product_id": pl.String()} | {
        c: STATE_SCHEMA[c]
        for c in ("grace_days", "base_interest", "rate_num", "rate_den", "t1", "t2", "t3", "t4")
    }
    return pl.DataFrame(rows, schema=schema)


def _range(s: str, as_of: str = "<") -> str:
    """The chunk's active loans in ``loan_state`` (as ``s``) by id range and ``as_of``: read by
    the primary key's range (the table has no other index, see migration 0010)."""
    return (
        f"{s}.loan_id >= ? AND {s}.loan_id <= ? AND {s}.as_of {as_of} ? AND {s}.status = 'active'"
    )


def close_chunk(engine: Engine, lo: str, hi: str, through: date) -> ChunkCounts:
    """Advance the active loans with ids in ``[lo, hi]`` to ``through``: one transaction."""
    db = Db(engine)
    try:
        counts = _close_chunk(db, lo, hi, through)
        db.commit()
        return counts
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def _quiet(db: Db, lo: str, hi: str, through: date) -> int:
    """Move the chunk's quiet loans from the day before to ``through`` in one UPDATE.

    Quiet: closed yesterday, nothing overdue (DPD 0, so no penalty base either), no
    installment due yesterday (it would be overdue today) or today (interest falls due), and
    no unposted penalty to post when today is a month end. For such a loan the day changes
    ``as_of`` and nothing else: no entry, no amount, and its read-outs stay those of DPD 0.
    Most loans on most days are quiet; the rest go through the kernel.
    """
    month_end = " AND penalty_unposted = 0" if is_month_end(day_number(through)) else ""
    yesterday = through - timedelta(days=1)
    # NOT IN over the chunk's installments due in the two days (the index on due_date,
    # loan_id; a few thousand rows): SQLite builds it once, PostgreSQL hashes it, whatever
    # its statistics say (it planned NOT EXISTS as a nested loop on a fresh import).
    # loan_id is never NULL, so NOT IN means NOT EXISTS.
    update = (
        f"UPDATE loan_state SET as_of = ? WHERE {_range('loan_state', '=')} "
        f"AND dpd = 0{month_end} AND loan_id NOT IN (SELECT i.loan_id "
        "FROM installments i WHERE i.due_date >= ? AND i.due_date <= ? "
        "AND i.loan_id >= ? AND i.loan_id <= ?)"
    )
    params = (
        db.day(through),
        lo,
        hi,
        db.day(yesterday),
        db.day(yesterday),
        db.day(through),
        lo,
        hi,
    )
    if db.pg:  # ADBC reports no row count for a statement with parameters
        counted = db.query(f"WITH q AS ({update} RETURNING 1) SELECT count(*) AS n FROM q", params)
        return int(counted["n"][0])
    return db.execute(update, params)


def _close_chunk(db: Db, lo: str, hi: str, through: date) -> ChunkCounts:
    if db.pg:
        lock_loans(db, lo, hi)
    quiet = _quiet(db, lo, hi, through)
    pending = read_pending(db, lo, hi, through)
    if pending is None:
        return ChunkCounts(quiet, quiet)
    adv = accrue_portfolio_through(
        pending.state, pending.insts, day_number(through), pending.pauses
    )
    posted = write_advanced(db, adv.state, adv.entries, lo, hi)
    return ChunkCounts(quiet + adv.state.height, quiet + adv.loan_days, posted)


def lock_loans(db: Db, lo: str, hi: str) -> None:
    """PostgreSQL: hold the loans with ids in ``[lo, hi]`` (in id order, as payments lock one
    loan at a time, so no deadlock) so that a payment committed meanwhile is not overwritten."""
    db.query(
        "SELECT loan_id FROM loans WHERE loan_id >= ? AND loan_id <= ? ORDER BY loan_id FOR UPDATE",
        (lo, hi),
    )


@dataclass(frozen=True, slots=True)
class Pending:
    """What the kernel reads for a range of loans: the engines' common input."""

    state: pl.DataFrame  # STATE_SCHEMA, by loan id
    insts: pl.DataFrame  # INST_SCHEMA, the window from kernel.window_start, sorted by due
    pauses: pl.DataFrame | None  # PAUSE_SCHEMA, or None when no loan has one


def read_pending(db: Db, lo: str, hi: str, through: date) -> Pending | None:
    """The active loans with ids in ``[lo, hi]`` behind ``through``, as the kernel's frames;
    None when there are none. The in-process runner and the Spark engine both read this."""
    params = (lo, hi, db.day(through))
    stored = ", ".join(f"s.{c}" for c in STORED_SCHEMA)
    loans = db.query(
        "SELECT s.loan_id, s.as_of, s.status, s.penalty_unposted, s.penalty_owed, "
        f"s.prepaid_principal, {stored}, l.rate, l.rate_basis, l.product_id "
        f"FROM loan_state s JOIN loans l ON l.loan_id = s.loan_id WHERE {_range('s')} "
        "ORDER BY s.loan_id",
        params,
    )
    if not loans.height:
        return None
    settings = _settings(loans, _products(db))
    loans = loans.with_columns(_to_days(loans["as_of"]).alias("as_of")).join(
        settings, on=["rate", "rate_basis", "product_id"], how="left", maintain_order="left"
    )
    base = loans.select(pl.col(c).cast(STATE_SCHEMA[c]) for c in BASE_COLUMNS)
    # Only the installments the days can touch (see kernel.window_start), by the index on
    # (due_date, loan_id): on a one-day close, the chunk's installments due in a few days.
    # The join below drops those of loans not read above (quiet, or closed already).
    first = day_date(window_start(base))
    insts = db.query(
        "SELECT i.loan_id, i.n, i.due_date, i.interest, "
        "i.principal - i.paid_principal AS unpaid_principal, "
        "i.interest - i.paid_interest AS unpaid_interest "
        "FROM installments i WHERE i.due_date >= ? AND i.due_date <= ? "
        "AND i.loan_id >= ? AND i.loan_id <= ?",
        (db.day(first), db.day(through), lo, hi),
    )
    index = base.select("loan_id").with_row_index("row")
    inst = (
        insts.with_columns(_to_days(insts["due_date"]).alias("due"))
        .join(index, on="loan_id", how="inner")
        .select(pl.col(c).cast(t) for c, t in INST_SCHEMA.items())
        .sort("due", "row")
        if insts.height  # nothing due in the window: SQLite's empty result has no types
        else pl.DataFrame(schema=INST_SCHEMA)
    )
    state = from_stored(
        base, loans.select(pl.col(c).cast(t) for c, t in STORED_SCHEMA.items()), inst
    )
    return Pending(state, inst, _pauses(db, lo, hi, index))


def write_advanced(db: Db, state: pl.DataFrame, entries: pl.DataFrame, lo: str, hi: str) -> int:
    """Store the kernel's result for loans with ids in ``[lo, hi]``: their new state and the
    entries the journal lacks (the count posted). The one write path of both engines."""
    frames = writer_frames(state, entries, db.pg)
    for name, frame in frames.items():
        db.ingest(name, frame)
    sets = ", ".join(f"{c} = {_SPELLED.get(c, f't.{c}')}" for c in STATE_COLUMNS)
    # The chunk's id range as well as the join: without it PostgreSQL merge-joined from the
    # first loan of the book, reading every earlier chunk's rows again for each chunk.
    db.execute(
        f"UPDATE loan_state SET {sets} FROM _close_state t WHERE loan_state.loan_id = t.loan_id "
        "AND loan_state.loan_id >= ? AND loan_state.loan_id <= ?",
        (lo, hi),
    )
    return _post(db) if "_close_raw" in frames else 0


def _pauses(db: Db, lo: str, hi: str, index: pl.DataFrame) -> pl.DataFrame | None:
    """The chunk's moratoria as the kernel's pauses (``PAUSE_SCHEMA``; see services.moratoria):
    few loans have one, so usually nothing."""
    found = db.query(
        "SELECT ml.loan_id, m.starts_on, m.ends_on FROM moratorium_loans ml "
        "JOIN moratoria m ON m.moratorium_id = ml.moratorium_id "
        "WHERE ml.loan_id >= ? AND ml.loan_id <= ?",
        (lo, hi),
    )
    if not found.height:
        return None
    return (
        found.with_columns(
            first=_to_days(found["starts_on"]),
            last=_to_days(found["ends_on"]).fill_null(day_number(FOREVER)),
        )
        .join(index, on="loan_id", how="inner")
        .select(pl.col(c).cast(t) for c, t in PAUSE_SCHEMA.items())
    )


def writer_frames(state: pl.DataFrame, entries: pl.DataFrame, pg: bool) -> dict[str, pl.DataFrame]:
    """The temporary tables the SQL below reads, by name: all the Python work of the write.

    ``_close_state``: the read-outs (codes; the SQL spells them) and ``row_no``, the row by
    which the entries name their loan. ``_close_raw``: the entries as the kernel gives them.
    ``_close_days``: each entry day as a date and as ISO text, for the keys. The kernel
    benchmark times this with the kernel, since it is work the kernel's codes leave to the
    writer.
    """
    out = readouts(state).with_columns(pl.col("status").to_physical())
    frames = {"_close_state": _dates_out(out.with_row_index("row_no"), ["as_of"], pg)}
    if entries.height:
        frames["_close_raw"] = entries.rename({"row": "row_no"})
        days = entries["day"].unique()
        frames["_close_days"] = _dates_out(
            pl.DataFrame({"day": days, "on_date": days.cast(pl.Date)}).with_columns(
                pl.col("on_date").dt.to_string("%Y-%m-%d").alias("iso")
            ),
            ["on_date"],
            pg,
        )
    return frames


def _post(db: Db) -> int:
    """Insert the entries whose keys the journal lacks, and their two postings each."""
    if db.pg:  # temporary tables have no statistics until analysed
        db.execute("ANALYZE _close_state, _close_raw, _close_days")
    db.execute("DROP TABLE IF EXISTS _close_entries")
    db.execute(_ENTRIES_SQL)
    db.execute(
        "DELETE FROM _close_entries WHERE EXISTS "
        "(SELECT 1 FROM journal_entries j WHERE j.key = _close_entries.key)"
    )
    posted = db.execute(
        "INSERT INTO journal_entries (key, loan_id, kind, effective_on, memo) "
        "SELECT key, loan_id, kind, effective_on, memo FROM _close_entries"
    )
    if db.pg:
        db.execute("ANALYZE _close_entries")
    # both legs from one join with the journal (VALUES columns are column1 on both backends)
    db.execute(
        "INSERT INTO postings (entry_id, account, amount) "
        "SELECT j.entry_id, CASE l.column1 WHEN 0 THEN e.debit ELSE e.credit END, "
        "CASE l.column1 WHEN 0 THEN e.amount ELSE -e.amount END "
        "FROM _close_entries e JOIN journal_entries j ON j.key = e.key "
        "CROSS JOIN (VALUES (0), (1)) AS l"
    )
    return posted


def _case(parts: dict[int, str]) -> str:
    """A SQL CASE on the entry's kind code."""
    whens = " ".join(f"WHEN {code} THEN {sql}" for code, sql in parts.items())
    return f"CASE e.kind {whens} END"


def _receivable(component: Component) -> str:
    """The loan's receivable account in SQL, spelled by :func:`ledger.journal.receivable`."""
    before, after = receivable("\0", component).split("\0")
    return f"'{before}' || s.loan_id || '{after}'"


# The kernel's entries carry integer codes; the strings are spelled here, as
# ``ledger.account.accrue_loan_day`` spells them: key ``<loan>:interest:<n>`` or
# ``<loan>:penalty:<ISO date>``, debit the loan's receivable, credit the kind's income.
_ENTRIES_SQL = (
    "CREATE TEMP TABLE _close_entries AS SELECT s.loan_id || "
    + _case(
        {
            KIND_INTEREST: "':interest:' || CAST(e.n AS TEXT)",
            KIND_PENALTY: "':penalty:' || d.iso",
        }
    )
    + " AS key, s.loan_id AS loan_id, "
    + _case(
        {
            KIND_INTEREST: f"'{EntryKind.INTEREST_DUE.value}'",
            KIND_PENALTY: f"'{EntryKind.PENALTY.value}'",
        }
    )
    + " AS kind, d.on_date AS effective_on, '' AS memo, "
    + _case(
        {
            KIND_INTEREST: _receivable(Component.INTEREST),
            KIND_PENALTY: _receivable(Component.PENALTY),
        }
    )
    + " AS debit, "
    + _case({KIND_INTEREST: f"'{INCOME_INTEREST}'", KIND_PENALTY: f"'{INCOME_PENALTY}'"})
    + " AS credit, e.amount AS amount "
    "FROM _close_raw e JOIN _close_state s ON s.row_no = e.row_no "
    "JOIN _close_days d ON d.day = e.day"
)


Progress = Callable[[int, int], None]


def run(
    engine: Engine,
    through: date,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    chunk: int | None = None,
) -> ChunkCounts:
    """Every chunk; ``after_chunk`` (for crash tests) runs after each commit, in order.

    On PostgreSQL the chunks run in ``THREADS`` threads, each chunk on its own connection: a
    chunk is mostly the server's work (reading and writing ``loan_state``) and Polars', both
    outside the GIL, and one connection kept one core busy while the other idled. Chunks are
    disjoint id ranges, each locking its own loans in id order, so they neither wait for nor
    deadlock with each other; each commits alone, so a crash leaves a resumable state either
    way. SQLite has one writer at a time: one chunk after another.
    """
    size = chunk or LOANS_PER_CHUNK
    ranges = pending_ranges(engine, through, size)
    total = sum(n for _, _, n in ranges)
    counts = ChunkCounts()
    done = 0
    threads = THREADS if engine.dialect.name == "postgresql" and after_chunk is None else 1
    with ExitStack() as stack:
        if threads > 1 and len(ranges) > 1:
            pool = stack.enter_context(ThreadPoolExecutor(threads))
            futures = [pool.submit(close_chunk, engine, lo, hi, through) for lo, hi, _ in ranges]
            results: Iterator[ChunkCounts] = (f.result() for f in futures)
        else:  # in turn: after_chunk(k) runs before chunk k + 1 starts
            results = (close_chunk(engine, lo, hi, through) for lo, hi, _ in ranges)
        for k, ((_, _, n), c) in enumerate(zip(ranges, results, strict=True)):
            counts.loans_aged += c.loans_aged
            counts.loan_days += c.loan_days
            counts.entries_posted += c.entries_posted
            done += n
            if progress:
                progress(done, total)
            if after_chunk:
                after_chunk(k)
    return counts
