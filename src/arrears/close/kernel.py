"""The columnar close: one business day for a whole portfolio, as column arithmetic.

Same rules as :func:`arrears.ledger.account.close_day` and :func:`arrears.ageing.status.age`
(the per-loan reference); property tests hold the two equal to the fen.

Why the state carries aggregates. The close never changes an installment; it only asks, per
loan, which installments are overdue, which accrue penalty and which fall due today. Each of
those sets grows by at most one installment a day, on a known date. So the state carries the
sums (penalty base, overdue principal and interest, their count and oldest due date,
outstanding principal and interest) as of ``as_of``, and a day touches only the installments
whose due date is D (interest falls due), D-1 (they become overdue) or D-1-grace (they start
accruing penalty). The installments are sorted by due date, so each of those is a binary
search and a slice, not a scan.

Dates are Int32 days since 1970-01-01; money is Int64 fen.

Penalty: ``round_half_up(base * num / den)`` as ``(2*base*num + den) // (2*den)`` in int64,
with ``num/den`` the reduced :func:`arrears.ledger.account.penalty_rate`. Before that, one
vectorised check finds every row whose product would not fit in int64; those rows are
computed exactly with Python integers instead (never wrapped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.ageing.status import BUCKETS, CLASSES

EPOCH = date(1970, 1, 1)
INT64_MAX = 2**63 - 1
NO_DUE = 2**31 - 1  # od_oldest when nothing is overdue

STATUSES = ("active", "settled", "written_off")
StatusDtype = pl.Enum(STATUSES)
BucketDtype = pl.Enum(BUCKETS)
ClassDtype = pl.Enum(CLASSES)

# One row per loan. The carried aggregates (last block) describe the loan as of ``as_of``.
STATE_SCHEMA: dict[str, pl.DataType] = {
    "loan_id": pl.String(),
    "as_of": pl.Int32(),
    "status": StatusDtype,
    "penalty_unposted": pl.Int64(),
    "penalty_owed": pl.Int64(),
    "prepaid_principal": pl.Int64(),
    # product settings, joined per loan
    "grace_days": pl.Int32(),
    "base_interest": pl.Boolean(),  # penalty base includes overdue interest
    "rate_num": pl.Int64(),  # penalty rate per day = rate_num / rate_den, reduced
    "rate_den": pl.Int64(),
    "t1": pl.Int32(),  # classification thresholds: dpd strictly above each
    "t2": pl.Int32(),
    "t3": pl.Int32(),
    "t4": pl.Int32(),
    # carried aggregates as of as_of
    "pen_base": pl.Int64(),  # base for the penalty of day as_of: due < as_of - grace
    "od_principal": pl.Int64(),  # unpaid principal of installments due < as_of
    "od_interest": pl.Int64(),
    "od_count": pl.Int32(),  # installments due < as_of with something unpaid
    "od_oldest": pl.Int32(),  # the oldest such due date, NO_DUE when none
    "os_principal": pl.Int64(),  # unpaid principal of all installments
    "os_interest": pl.Int64(),  # unpaid interest of installments due <= as_of
}

# One row per installment, sorted by ``due``; ``row`` is the loan's row in the state frame.
INST_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "n": pl.Int32(),
    "due": pl.Int32(),
    "interest": pl.Int64(),
    "unpaid_principal": pl.Int64(),
    "unpaid_interest": pl.Int64(),
}

# What ``state_row`` reads out, per loan.
READOUT_SCHEMA: dict[str, pl.DataType] = {
    "loan_id": pl.String(),
    "as_of": pl.Date(),
    "status": StatusDtype,
    "penalty_unposted": pl.Int64(),
    "penalty_owed": pl.Int64(),
    "prepaid_principal": pl.Int64(),
    "dpd": pl.Int32(),
    "bucket": BucketDtype,
    "classification": ClassDtype,
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "overdue_penalty": pl.Int64(),
    "outstanding_principal": pl.Int64(),
    "outstanding_interest": pl.Int64(),
    "outstanding_penalty": pl.Int64(),
    "consecutive_overdue": pl.Int32(),
}

# The day's journal entries: every close entry has one debit leg and one credit leg.
ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "key": pl.String(),
    "loan_id": pl.String(),
    "kind": pl.String(),  # interest_due | penalty
    "effective_on": pl.Date(),
    "debit": pl.String(),  # receives +amount
    "credit": pl.String(),  # receives -amount
    "amount": pl.Int64(),
}


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(n: int) -> date:
    return EPOCH + timedelta(days=n)


def is_month_end(n: int) -> bool:
    d = day_date(n)
    return (d + timedelta(days=1)).month != d.month


@dataclass(frozen=True, slots=True)
class DayResult:
    state: pl.DataFrame  # STATE_SCHEMA, as of the day (loans not due to move are unchanged)
    entries: pl.DataFrame  # ENTRY_SCHEMA
    moved: int  # loans advanced by this day


def empty_entries() -> pl.DataFrame:
    return pl.DataFrame(schema=ENTRY_SCHEMA)


def _slice(insts: pl.DataFrame, due: int) -> pl.DataFrame:
    col = insts["due"]
    lo = int(col.search_sorted(due, "left"))
    hi = int(col.search_sorted(due, "right"))
    return insts.slice(lo, hi - lo)


def _rows(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    return frame["row"].to_numpy().astype(np.int64)


def _exact_penalty(base: int, num: int, den: int) -> int:
    return (2 * base * num + den) // (2 * den)


def close_day(state: pl.DataFrame, insts: pl.DataFrame, day: int) -> DayResult:
    """Close ``day`` for every loan whose ``as_of`` is ``day - 1``; others are left alone.

    ``state`` follows :data:`STATE_SCHEMA`, ``insts`` :data:`INST_SCHEMA` sorted by ``due``.
    """
    as_of = state["as_of"]
    all_move = as_of.len() > 0 and as_of.min() == day - 1 == as_of.max()
    moving_np: npt.NDArray[np.bool_] = (
        np.ones(state.height, dtype=np.bool_)
        if all_move
        else (as_of.to_numpy() == day - 1)
    )
    moved = int(moving_np.sum())
    if moved == 0:
        return DayResult(state, empty_entries(), 0)
    active_np = (state["status"].to_physical().to_numpy() == 0) & moving_np
    grace_np = state["grace_days"].to_numpy()

    # --- installments crossing a line today (small slices; rows unique within each) ---
    updates: dict[str, npt.NDArray[np.int64] | npt.NDArray[np.int32]] = {}

    def col(name: str) -> npt.NDArray[np.int64] | npt.NDArray[np.int32]:
        if name not in updates:
            updates[name] = state[name].to_numpy().copy()
        return updates[name]

    # due yesterday: now overdue (due < day)
    s = _slice(insts, day - 1)
    if s.height:
        r = _rows(s)
        up = s["unpaid_principal"].to_numpy()
        ui = s["unpaid_interest"].to_numpy()
        keep = moving_np[r] & ((up + ui) > 0)
        r, up, ui = r[keep], up[keep], ui[keep]
        if r.size:
            np.add.at(col("od_principal"), r, up)
            np.add.at(col("od_interest"), r, ui)
            np.add.at(col("od_count"), r, 1)
            np.minimum.at(col("od_oldest"), r, day - 1)
    # due + grace yesterday: now in the penalty base (due < day - grace)
    base_interest_np = state["base_interest"].to_numpy()
    for g in sorted({int(x) for x in np.unique(grace_np[moving_np])}):
        s = _slice(insts, day - 1 - g)
        if not s.height:
            continue
        r = _rows(s)
        keep = moving_np[r] & (grace_np[r] == g)
        if not keep.any():
            continue
        r = r[keep]
        add = s["unpaid_principal"].to_numpy()[keep] + np.where(
            base_interest_np[r], s["unpaid_interest"].to_numpy()[keep], 0
        )
        np.add.at(col("pen_base"), r, add)
    # due today: interest falls due
    today = _slice(insts, day)
    interest_rows = today.head(0)
    if today.height:
        r = _rows(today)
        keep = moving_np[r]
        np.add.at(col("os_interest"), r[keep], today["unpaid_interest"].to_numpy()[keep])
        keep_entry = active_np[r] & (today["interest"].to_numpy() != 0)
        interest_rows = today.filter(pl.Series(keep_entry))

    if updates:
        state = state.with_columns(
            pl.Series(name, arr, dtype=STATE_SCHEMA[name]) for name, arr in updates.items()
        )

    # --- accrual: one int64 expression, overflow checked first ---
    accrue = active_np & (state["pen_base"].to_numpy() > 0)
    bad = _overflow_rows(state, accrue)
    accrue_s = pl.Series("accrue", accrue & ~bad)
    base, num, den = pl.col("pen_base"), pl.col("rate_num"), pl.col("rate_den")
    accrued = (
        state.select(
            pl.when(accrue_s).then((2 * base * num + den) // (2 * den)).otherwise(0).alias("a")
        )
        .to_series()
        .cast(pl.Int64)
    )
    if bad.any():
        fixed = accrued.to_numpy().copy()
        idx = np.flatnonzero(bad)
        b, nn, dd = (state[c].gather(idx).to_list() for c in ("pen_base", "rate_num", "rate_den"))
        exact = [_exact_penalty(x, y, z) for x, y, z in zip(b, nn, dd, strict=True)]
        if max(exact) > INT64_MAX:
            raise OverflowError(f"penalty of one day exceeds int64 on day {day_date(day)}")
        fixed[idx] = exact
        accrued = pl.Series("a", fixed, dtype=pl.Int64)
    unposted = state["penalty_unposted"] + accrued
    owed = state["penalty_owed"]
    entries = [_interest_entries(state, interest_rows, day)]
    if is_month_end(day):
        post = pl.Series(np.where(active_np, unposted.to_numpy(), 0), dtype=pl.Int64)
        owed = owed + post
        unposted = unposted - post
        entries.append(_penalty_entries(state, post, day))
    new_as_of = (
        pl.repeat(day, state.height, dtype=pl.Int32, eager=True)
        if all_move
        else pl.Series(np.where(moving_np, day, as_of.to_numpy()), dtype=pl.Int32)
    )
    state = state.with_columns(
        new_as_of.alias("as_of"),
        unposted.alias("penalty_unposted"),
        owed.alias("penalty_owed"),
    )
    return DayResult(state, pl.concat(entries), moved)


def _overflow_rows(state: pl.DataFrame, accrue: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows where ``2*base*num + den`` would not fit in int64 (a vectorised check)."""
    none = np.zeros(state.height, dtype=np.bool_)
    if not accrue.any():
        return none
    mask = pl.Series(accrue)
    hi = state.filter(mask).select(
        pl.col("pen_base").max(), pl.col("rate_num").max(), pl.col("rate_den").max()
    )
    b, n, d = (int(hi[c][0]) for c in ("pen_base", "rate_num", "rate_den"))
    if 2 * b * n + d <= INT64_MAX:  # the worst case fits, so every row does
        return none
    # per row: base > (MAX - den) // (2 * num), computed without overflow
    lim = (INT64_MAX - state["rate_den"]) // (2 * state["rate_num"].clip(lower_bound=1))
    over: npt.NDArray[np.bool_] = (state["pen_base"] > lim).to_numpy() & accrue
    return over


def _interest_entries(state: pl.DataFrame, rows: pl.DataFrame, day: int) -> pl.DataFrame:
    if not rows.height:
        return empty_entries()
    ids = state["loan_id"].gather(rows["row"])
    return pl.DataFrame(
        {
            "key": ids + ":interest:" + rows["n"].cast(pl.String),
            "loan_id": ids,
            "kind": pl.repeat("interest_due", rows.height, eager=True),
            "effective_on": pl.repeat(day_date(day), rows.height, eager=True),
            "debit": "loan:" + ids + ":interest",
            "credit": pl.repeat("income:interest", rows.height, eager=True),
            "amount": rows["interest"],
        },
        schema=ENTRY_SCHEMA,
    )


def _penalty_entries(state: pl.DataFrame, post: pl.Series, day: int) -> pl.DataFrame:
    idx = post.ne(0).arg_true()
    if not idx.len():
        return empty_entries()
    ids = state["loan_id"].gather(idx)
    n = idx.len()
    return pl.DataFrame(
        {
            "key": ids + f":penalty:{day_date(day).isoformat()}",
            "loan_id": ids,
            "kind": pl.repeat("penalty", n, eager=True),
            "effective_on": pl.repeat(day_date(day), n, eager=True),
            "debit": "loan:" + ids + ":penalty",
            "credit": pl.repeat("income:penalty", n, eager=True),
            "amount": post.gather(idx),
        },
        schema=ENTRY_SCHEMA,
    )


def readouts(state: pl.DataFrame) -> pl.DataFrame:
    """The ageing read-outs of every loan on its ``as_of`` (:data:`READOUT_SCHEMA`)."""
    wo = pl.col("status") == "written_off"
    dpd = pl.when(pl.col("od_count") > 0).then(pl.col("as_of") - pl.col("od_oldest")).otherwise(0)
    bucket_code = pl.when(dpd <= 0).then(0).otherwise(pl.min_horizontal((dpd + 29) // 30, 7))
    level = sum(
        ((dpd > pl.col(t)).cast(pl.UInt8) for t in ("t1", "t2", "t3", "t4")), pl.lit(0, pl.UInt8)
    )
    class_code = pl.when(wo).then(4).otherwise(level)
    penalty = pl.col("penalty_owed") + pl.col("penalty_unposted")

    def live(e: pl.Expr) -> pl.Expr:
        return pl.when(wo).then(0).otherwise(e)

    out = state.select(
        "loan_id",
        pl.col("as_of").cast(pl.Date),
        "status",
        "penalty_unposted",
        "penalty_owed",
        "prepaid_principal",
        dpd.cast(pl.Int32).alias("dpd"),
        bucket_code.cast(pl.UInt32).alias("bucket"),
        class_code.cast(pl.UInt32).alias("classification"),
        live(pl.col("od_principal")).cast(pl.Int64).alias("overdue_principal"),
        live(pl.col("od_interest")).cast(pl.Int64).alias("overdue_interest"),
        live(penalty).cast(pl.Int64).alias("overdue_penalty"),
        live(pl.col("os_principal")).cast(pl.Int64).alias("outstanding_principal"),
        live(pl.col("os_interest")).cast(pl.Int64).alias("outstanding_interest"),
        live(penalty).cast(pl.Int64).alias("outstanding_penalty"),
        live(pl.col("od_count")).cast(pl.Int32).alias("consecutive_overdue"),
    )
    buckets = pl.Series(BUCKETS, dtype=BucketDtype)
    classes = pl.Series(CLASSES, dtype=ClassDtype)
    return out.with_columns(
        buckets.gather(out["bucket"]).alias("bucket"),
        classes.gather(out["classification"]).alias("classification"),
    )


def with_aggregates(base: pl.DataFrame, insts: pl.DataFrame) -> pl.DataFrame:
    """Derive the carried aggregates from the installments (one pass; the per-day work doesn't).

    ``base`` is :data:`STATE_SCHEMA` without the aggregate block.
    """
    cols = base.select("as_of", "grace_days", "base_interest")
    r = insts["row"]
    x = insts.with_columns(
        cols["as_of"].gather(r).alias("_as_of"),
        cols["grace_days"].gather(r).alias("_grace"),
        cols["base_interest"].gather(r).alias("_bi"),
    )
    up, ui, due, a = (
        pl.col("unpaid_principal"),
        pl.col("unpaid_interest"),
        pl.col("due"),
        pl.col("_as_of"),
    )
    od = (due < a) & ((up + ui) > 0)
    pen = due < a - pl.col("_grace")
    agg = x.group_by("row").agg(
        pl.when(pen).then(up + pl.when(pl.col("_bi")).then(ui).otherwise(0)).otherwise(0)
        .sum()
        .alias("pen_base"),
        pl.when(od).then(up).otherwise(0).sum().alias("od_principal"),
        pl.when(od).then(ui).otherwise(0).sum().alias("od_interest"),
        od.sum().cast(pl.Int32).alias("od_count"),
        pl.when(od).then(due).otherwise(NO_DUE).min().alias("od_oldest"),
        up.sum().alias("os_principal"),
        pl.when(due <= a).then(ui).otherwise(0).sum().alias("os_interest"),
    )
    out = (
        base.with_row_index("row")
        .join(agg, on="row", how="left")
        .drop("row")
        .with_columns(
            pl.col("od_oldest").fill_null(NO_DUE),
            *(
                pl.col(c).fill_null(0)
                for c in (
                    "pen_base",
                    "od_principal",
                    "od_interest",
                    "od_count",
                    "os_principal",
                    "os_interest",
                )
            ),
        )
    )
    return out.select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())


@dataclass(frozen=True, slots=True)
class Advanced:
    state: pl.DataFrame  # STATE_SCHEMA, every loan at ``through`` or beyond
    entries: pl.DataFrame  # ENTRY_SCHEMA, every day's entries
    loan_days: int


def advance(state: pl.DataFrame, insts: pl.DataFrame, through: int) -> Advanced:
    """Close day by day until every loan is at ``through`` (loans already there are skipped).

    The same result as :func:`arrears.services.close.advance` on each loan.
    """
    entries: list[pl.DataFrame] = []
    loan_days = 0
    if state.height:
        start = int(state["as_of"].min()) + 1  # type: ignore[arg-type]
        for day in range(start, through + 1):
            res = close_day(state, insts, day)
            state = res.state
            loan_days += res.moved
            if res.entries.height:
                entries.append(res.entries)
    return Advanced(state, pl.concat(entries) if entries else empty_entries(), loan_days)
