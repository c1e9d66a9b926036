"""The columnar close: one business day for a whole portfolio, as column arithmetic.

Same rules as :func:`arrears.core.ledger.account.accrue_loan_day` and
:func:`arrears.core.ageing.status.age` (the per-loan reference); property tests hold the two
equal to the fen.

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
with ``num/den`` the reduced :func:`arrears.core.ledger.account.penalty_rate`. Before that, one
vectorised check finds every row whose product would not fit in int64; those rows are
computed exactly with Python integers instead (never wrapped).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from arrears.core.ageing.status import BUCKETS, CLASSES
from arrears.core.close.invariants import check_day, check_state

EPOCH = date(1970, 1, 1)
INT64_MAX = 2**63 - 1
NO_DUE = 2**31 - 1  # od_oldest when nothing is overdue

STATUSES = ("active", "settled", "written_off")
StatusDtype = pl.Enum(STATUSES)

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
    # carried aggregates as of as_of. The amounts and the count of a written-off loan are kept
    # at zero (what it reads out), so the read-outs pass these columns through uncopied;
    # od_oldest is kept (its DPD still counts).
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
    # codes, indices into ageing.status.BUCKETS and CLASSES: an Enum built from codes is a
    # gather (polars casts no integers to Enum), the costliest step of the read-outs at 10M
    # loans; the writer spells them in SQL
    "bucket": pl.UInt8(),
    "classification": pl.UInt8(),
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "overdue_penalty": pl.Int64(),
    "outstanding_principal": pl.Int64(),
    "outstanding_interest": pl.Int64(),
    "outstanding_penalty": pl.Int64(),
    "consecutive_overdue": pl.Int32(),
}

# The day's journal entries, as integer codes: the strings (key, loan id, accounts) are built
# by whoever writes them (the runner's SQL, :func:`arrears.core.close.frames.entries_to_domain`),
# because building ~200k strings per million loans on a month end cost as much as the rest of
# the day. Every close entry has one debit leg, the loan's receivable for the kind's
# component (``loan:<id>:<component>``), and one credit leg, the kind's income account.
ENTRY_KINDS = ("interest_due", "penalty")  # ``kind`` is an index into this
KIND_INTEREST, KIND_PENALTY = 0, 1
ENTRY_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),  # the loan's row in the state frame
    "kind": pl.UInt8(),
    "n": pl.Int32(),  # the installment's number for interest_due; 0 for penalty
    "day": pl.Int32(),  # effective_on, days since 1970-01-01
    "amount": pl.Int64(),  # debit leg +amount, credit leg -amount
}


# Days a loan accrues no penalty (a moratorium in force; see ledger.account.Pauses): one row
# per range, ``first`` and ``last`` inclusive, days since 1970-01-01; ``row`` as in ENTRY_SCHEMA.
PAUSE_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "first": pl.Int32(),
    "last": pl.Int32(),
}


def paused_rows(pauses: pl.DataFrame | None, height: int, day: int) -> npt.NDArray[np.bool_] | None:
    """The rows under a pause on ``day`` as a mask, or None when no row is."""
    if pauses is None or not pauses.height:
        return None
    on = pauses.filter((pl.col("first") <= day) & (pl.col("last") >= day))
    if not on.height:
        return None
    mask = np.zeros(height, dtype=np.bool_)
    mask[on["row"].to_numpy().astype(np.int64)] = True
    return mask


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


def _rows(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    return frame["row"].to_numpy().astype(np.int64)


def _exact_penalty(base: int, num: int, den: int) -> int:
    return (2 * base * num + den) // (2 * den)


def accrue_portfolio_day(
    state: pl.DataFrame,
    insts: pl.DataFrame,
    day: int,
    paused: npt.NDArray[np.bool_] | None = None,
    *,
    check: bool = True,
) -> DayResult:
    """Close ``day`` for every loan whose ``as_of`` is ``day - 1``; others are left alone.

    ``paused``: rows that accrue no penalty on ``day`` (a moratorium in force), as
    ``ledger.account.accrue_loan_day(..., accrues=False)``.

    ``state`` follows :data:`STATE_SCHEMA`, ``insts`` :data:`INST_SCHEMA` sorted by ``due``.
    The column arithmetic runs on the frames' buffers through numpy (no copies in); only the
    columns that change are new in the returned frame. Then the day's invariants are checked
    (:mod:`arrears.core.close.invariants`; raises ``BrokenInvariant``, under ``python -O``
    too); ``check=False`` skips them, for the benchmark that measures what they cost.
    """
    result = _close_day(state, insts, day, paused)
    if check and result.moved:
        check_day(state, result.state, result.entries, insts, day, is_month_end(day))
    return result


def _close_day(
    state: pl.DataFrame,
    insts: pl.DataFrame,
    day: int,
    paused: npt.NDArray[np.bool_] | None,
) -> DayResult:
    as_of = state["as_of"].to_numpy()
    all_move = state.height > 0 and int(as_of.min()) == day - 1 == int(as_of.max())
    moving: npt.NDArray[np.bool_] = (
        np.ones(state.height, dtype=np.bool_) if all_move else (as_of == day - 1)
    )
    moved = int(moving.sum())
    if moved == 0:
        return DayResult(state, empty_entries(), 0)
    status = state["status"].to_physical().to_numpy()
    active = status == 0
    if not all_move:
        active = active & moving
    written_off = STATUSES.index("written_off")
    grace = state["grace_days"].to_numpy()
    due_np = insts["due"].to_numpy()

    def window(d: int) -> pl.DataFrame:
        # the needle in the column's own dtype, or numpy converts the whole column first
        lo, hi = np.searchsorted(due_np, np.array([d, d + 1], dtype=due_np.dtype))
        return insts.slice(int(lo), int(hi - lo))

    # --- installments crossing a line today (small slices; rows unique within each) ---
    updates: dict[str, Any] = {}

    def col(name: str) -> Any:
        if name not in updates:
            updates[name] = state[name].to_numpy().copy()
        return updates[name]

    # due yesterday: now overdue (due < day)
    s = window(day - 1)
    if s.height:
        r = _rows(s)
        up = s["unpaid_principal"].to_numpy()
        ui = s["unpaid_interest"].to_numpy()
        keep = moving[r] & ((up + ui) > 0)
        r, up, ui = r[keep], up[keep], ui[keep]
        if r.size:
            # scalars in the column's dtype: a Python int sends ufunc.at down its slow path
            np.minimum.at(col("od_oldest"), r, np.int32(day - 1))
            live = status[r] != written_off  # their amounts stay zero
            r, up, ui = r[live], up[live], ui[live]
            np.add.at(col("od_principal"), r, up)
            np.add.at(col("od_interest"), r, ui)
            np.add.at(col("od_count"), r, np.int32(1))
    # due + grace yesterday: now in the penalty base (due < day - grace)
    base_interest = state["base_interest"].to_numpy()
    for g in _graces(grace):
        s = window(day - 1 - g)
        if not s.height:
            continue
        r = _rows(s)
        keep = moving[r] & (grace[r] == g)
        if not keep.any():
            continue
        r = r[keep]
        add = s["unpaid_principal"].to_numpy()[keep] + np.where(
            base_interest[r], s["unpaid_interest"].to_numpy()[keep], 0
        )
        np.add.at(col("pen_base"), r, add)
    # due today: interest falls due
    today = window(day)
    entries = []
    if today.height:
        r = _rows(today)
        keep = moving[r] & (status[r] != written_off)
        np.add.at(col("os_interest"), r[keep], today["unpaid_interest"].to_numpy()[keep])
        interest = today["interest"].to_numpy()
        keep_entry = active[r] & (interest != 0)
        if keep_entry.any():
            entries.append(
                _entries(
                    r[keep_entry],
                    KIND_INTEREST,
                    today["n"].to_numpy()[keep_entry],
                    day,
                    interest[keep_entry],
                )
            )

    # --- accrual, on the accruing rows only, overflow checked first ---
    pen_base = updates["pen_base"] if "pen_base" in updates else state["pen_base"].to_numpy()
    accruing = active & (pen_base > 0)
    idx = np.flatnonzero(accruing if paused is None else accruing & ~paused)
    unposted = state["penalty_unposted"].to_numpy().copy()
    if idx.size:
        base = pen_base[idx]
        num = state["rate_num"].to_numpy()[idx]
        den = state["rate_den"].to_numpy()[idx]
        bad = _overflow(base, num, den)
        if bad is None:  # the usual case: no masks, no copies through them
            accrued = (2 * base * num + den) // (2 * den)
        else:
            accrued = np.zeros(idx.size, dtype=np.int64)
            ok = ~bad
            accrued[ok] = (2 * base[ok] * num[ok] + den[ok]) // (2 * den[ok])
            if bad.any():
                exact = [
                    _exact_penalty(int(b), int(n), int(d))
                    for b, n, d in zip(base[bad], num[bad], den[bad], strict=True)
                ]
                if max(exact) > INT64_MAX:
                    raise OverflowError(f"penalty of one day exceeds int64 on {day_date(day)}")
                accrued[bad] = exact
        unposted[idx] += accrued
    new: dict[str, Any] = {"penalty_unposted": unposted}
    if is_month_end(day):
        posting = np.flatnonzero(active & (unposted != 0))
        if posting.size:
            amounts = unposted[posting]
            owed = state["penalty_owed"].to_numpy().copy()
            owed[posting] += amounts
            unposted[posting] = 0
            new["penalty_owed"] = owed
            entries.append(_entries(posting, KIND_PENALTY, 0, day, amounts))
    new["as_of"] = (
        np.full(state.height, day, dtype=np.int32)
        if all_move
        else np.where(moving, day, as_of).astype(np.int32)
    )
    new.update(updates)
    state = state.with_columns(pl.Series(c, a, dtype=STATE_SCHEMA[c]) for c, a in new.items())
    out = entries[0] if len(entries) == 1 else pl.concat(entries) if entries else empty_entries()
    return DayResult(state, out, moved)


def _graces(grace: npt.NDArray[np.int32]) -> list[int]:
    """The grace periods to look at: every one from the least to the most when that range is
    short (a bincount converts the whole column to int64 first, ten times the cost of min and
    max; a grace no loan has just finds no rows), else only those present."""
    lo, hi = int(grace.min()), int(grace.max())
    if hi - lo < 64:
        return list(range(lo, hi + 1))
    return [int(g) + lo for g in np.flatnonzero(np.bincount(grace - lo))]


def _overflow(
    base: npt.NDArray[np.int64], num: npt.NDArray[np.int64], den: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_] | None:
    """Rows where ``2*base*num + den`` would not fit in int64 (a vectorised check).

    None when the worst case fits, so every row does.
    """
    if 2 * int(base.max()) * int(num.max()) + int(den.max()) <= INT64_MAX:
        return None
    over: npt.NDArray[np.bool_] = base > (INT64_MAX - den) // (2 * np.maximum(num, 1))
    return over


def _entries(
    rows: npt.NDArray[np.int64],
    kind: int,
    n: npt.NDArray[np.int32] | int,
    day: int,
    amounts: npt.NDArray[np.int64],
) -> pl.DataFrame:
    """Entry rows (:data:`ENTRY_SCHEMA`) of one kind, all effective on ``day``."""
    size = rows.size
    return pl.DataFrame(
        {
            "row": rows.astype(np.uint32),
            "kind": np.full(size, kind, dtype=np.uint8),
            "n": n if isinstance(n, np.ndarray) else np.full(size, n, dtype=np.int32),
            "day": np.full(size, day, dtype=np.int32),
            "amount": amounts,
        },
        schema=ENTRY_SCHEMA,
    )


def readouts(state: pl.DataFrame) -> pl.DataFrame:
    """The ageing read-outs of every loan on its ``as_of`` (:data:`READOUT_SCHEMA`).

    Numpy over the frame's buffers. The amount columns pass through without a copy: the state
    already holds zero amounts for written-off loans (see :data:`STATE_SCHEMA`). DPD, bucket
    and class are computed on the overdue loans only (most loans are current: DPD 0, bucket C,
    class normal, as thresholds are never negative).
    """
    n = state.height
    as_of = state["as_of"].to_numpy()
    oldest = state["od_oldest"].to_numpy()
    overdue_rows = np.flatnonzero(oldest != NO_DUE)
    dpd = np.zeros(n, dtype=np.int32)
    bucket = np.zeros(n, dtype=np.uint8)
    level = np.zeros(n, dtype=np.uint8)
    if overdue_rows.size:
        d = as_of[overdue_rows] - oldest[overdue_rows]
        dpd[overdue_rows] = d
        bucket[overdue_rows] = np.minimum(
            (d + 29) // 30, len(BUCKETS) - 1
        )  # as ageing.status.bucket
        lv = np.zeros(overdue_rows.size, dtype=np.uint8)
        for t in ("t1", "t2", "t3", "t4"):
            lv += d > state[t].to_numpy()[overdue_rows]
        level[overdue_rows] = lv
    penalty = state["penalty_owed"].to_numpy() + state["penalty_unposted"].to_numpy()
    wo = np.flatnonzero(state["status"].to_physical().to_numpy() == STATUSES.index("written_off"))
    if wo.size:
        level[wo] = CLASSES.index("loss")
        penalty[wo] = 0  # a fresh array: zeroed in place
    return pl.DataFrame(
        {
            "loan_id": state["loan_id"],
            "as_of": state["as_of"].cast(pl.Date),
            "status": state["status"],
            "penalty_unposted": state["penalty_unposted"],
            "penalty_owed": state["penalty_owed"],
            "prepaid_principal": state["prepaid_principal"],
            "dpd": dpd,
            "bucket": bucket,
            "classification": level,
            "overdue_principal": state["od_principal"],
            "overdue_interest": state["od_interest"],
            "overdue_penalty": penalty,
            "outstanding_principal": state["os_principal"],
            "outstanding_interest": state["os_interest"],
            "outstanding_penalty": penalty,
            "consecutive_overdue": state["od_count"],
        },
        schema=READOUT_SCHEMA,
    )


def with_aggregates(base: pl.DataFrame, insts: pl.DataFrame) -> pl.DataFrame:
    """Derive the carried aggregates from the installments (one pass; the per-day work doesn't).

    ``base`` is :data:`STATE_SCHEMA` without the aggregate block.
    """
    cols = base.select("as_of", "grace_days", "base_interest", "status")
    r = insts["row"]
    x = insts.with_columns(
        cols["as_of"].gather(r).alias("_as_of"),
        cols["grace_days"].gather(r).alias("_grace"),
        cols["base_interest"].gather(r).alias("_bi"),
        (cols["status"].gather(r) != "written_off").alias("_live"),
    )
    up, ui, due, a = (
        pl.col("unpaid_principal"),
        pl.col("unpaid_interest"),
        pl.col("due"),
        pl.col("_as_of"),
    )
    overdue = (due < a) & ((up + ui) > 0)
    live_od = overdue & pl.col("_live")
    pen = due < a - pl.col("_grace")
    agg = x.group_by("row").agg(
        pl.when(pen)
        .then(up + pl.when(pl.col("_bi")).then(ui).otherwise(0))
        .otherwise(0)
        .sum()
        .alias("pen_base"),
        pl.when(live_od).then(up).otherwise(0).sum().alias("od_principal"),
        pl.when(live_od).then(ui).otherwise(0).sum().alias("od_interest"),
        live_od.sum().cast(pl.Int32).alias("od_count"),
        pl.when(overdue).then(due).otherwise(NO_DUE).min().alias("od_oldest"),
        pl.when(pl.col("_live")).then(up).otherwise(0).sum().alias("os_principal"),
        pl.when((due <= a) & pl.col("_live")).then(ui).otherwise(0).sum().alias("os_interest"),
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


# The stored read-outs (``loan_state``) that are the carried aggregates under another name:
# ``state_row`` reads them off the same installments on the same ``as_of`` (see
# :func:`readouts`), for every loan, whoever wrote the row (import, payment, close).
STORED_SCHEMA: dict[str, pl.DataType] = {
    "dpd": pl.Int32(),
    "overdue_principal": pl.Int64(),
    "overdue_interest": pl.Int64(),
    "consecutive_overdue": pl.Int32(),
    "outstanding_principal": pl.Int64(),
    "outstanding_interest": pl.Int64(),
}


def window_start(base: pl.DataFrame) -> int:
    """The earliest due date :func:`from_stored` and :func:`accrue_portfolio_through` read:
    ``as_of - grace``.

    From ``as_of`` on, a day looks only at installments due on it, the day before, or
    ``grace`` days before that (see :func:`accrue_portfolio_day`); the penalty base as of
    ``as_of`` needs those due in ``[as_of - grace, as_of)`` (see :func:`from_stored`).
    """
    return int(base["as_of"].min()) - int(base["grace_days"].max())  # type: ignore[arg-type]


def from_stored(base: pl.DataFrame, stored: pl.DataFrame, insts: pl.DataFrame) -> pl.DataFrame:
    """The carried aggregates from the stored read-outs and a window of installments.

    Equal to :func:`with_aggregates` on every loan that is not written off, given ``insts``
    holds every installment of the loans due on or after :func:`window_start` (others may be
    left out: that is the point, a quiet day reads a few installments, not all of them).
    ``stored`` is :data:`STORED_SCHEMA`, row for row with ``base``.

    Six aggregates are the read-outs themselves (the oldest overdue due date is ``as_of -
    dpd``). The penalty base is what is overdue (principal, and interest when the product
    counts it) less what fell due within the grace period, ``as_of - grace <= due < as_of``:
    an installment with nothing unpaid adds nothing to either.
    """
    r = insts["row"]
    x = insts.with_columns(
        base["as_of"].gather(r).alias("_as_of"),
        base["grace_days"].gather(r).alias("_grace"),
        base["base_interest"].gather(r).alias("_bi"),
    )
    up, ui, due, a = (
        pl.col("unpaid_principal"),
        pl.col("unpaid_interest"),
        pl.col("due"),
        pl.col("_as_of"),
    )
    in_grace = (due < a) & (due >= a - pl.col("_grace")) & ((up + ui) > 0)
    grace = x.group_by("row").agg(
        pl.when(in_grace)
        .then(up + pl.when(pl.col("_bi")).then(ui).otherwise(0))
        .otherwise(0)
        .sum()
        .alias("_in_grace")
    )
    dpd = stored["dpd"].cast(pl.Int32)
    out = (
        base.with_columns(
            od_principal=stored["overdue_principal"],
            od_interest=stored["overdue_interest"],
            od_count=stored["consecutive_overdue"],
            od_oldest=pl.when(dpd > 0).then(pl.col("as_of") - dpd).otherwise(NO_DUE),
            os_principal=stored["outstanding_principal"],
            os_interest=stored["outstanding_interest"],
        )
        .with_row_index("row")
        .join(grace, on="row", how="left", maintain_order="left")
        .drop("row")
        .with_columns(
            pen_base=pl.col("od_principal")
            + pl.when(pl.col("base_interest")).then(pl.col("od_interest")).otherwise(0)
            - pl.col("_in_grace").fill_null(0)
        )
    )
    return out.select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())


@dataclass(frozen=True, slots=True)
class Advanced:
    state: pl.DataFrame  # STATE_SCHEMA, every loan at ``through`` or beyond
    entries: pl.DataFrame  # ENTRY_SCHEMA, every day's entries
    loan_days: int


def accrue_portfolio_through(
    state: pl.DataFrame,
    insts: pl.DataFrame,
    through: int,
    pauses: pl.DataFrame | None = None,
    *,
    check: bool = True,
) -> Advanced:
    """Close day by day until every loan is at ``through`` (loans already there are skipped).

    The same result as :func:`arrears.services.close.reference.accrue_loan_through` on each
    loan, with ``pauses`` (:data:`PAUSE_SCHEMA`) the days each loan accrues no penalty. The
    state handed in is checked first (nothing negative, ...: ``invariants.check_state``), then
    every day (see :func:`accrue_portfolio_day`).
    """
    entries: list[pl.DataFrame] = []
    loan_days = 0
    if state.height:
        start = int(state["as_of"].min()) + 1  # type: ignore[arg-type]
        if check:
            check_state(state, start - 1)
        for day in range(start, through + 1):
            res = accrue_portfolio_day(
                state, insts, day, paused_rows(pauses, state.height, day), check=check
            )
            state = res.state
            loan_days += res.moved
            if res.entries.height:
                entries.append(res.entries)
    return Advanced(state, pl.concat(entries) if entries else empty_entries(), loan_days)
