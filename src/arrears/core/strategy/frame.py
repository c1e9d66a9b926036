"""`choose_frame`: the same rules as `choose.explain`, over a frame of cases in Polars.

Input: `cases` with the `CaseView` columns (`case.CASE_SCHEMA`) and `last_sent` with
`(borrower_id, step, last_date)`. Output: (actions, routings) with `ACTION_SCHEMA` /
`ROUTING_SCHEMA`, in the order of the cases frame and, within a case, the order the
reference emits them in.
The hypothesis test in tests/strategy holds this equal to `choose` row for row.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import polars as pl

from arrears.core.strategy.assign import assign_series
from arrears.core.strategy.case import CASE_SCHEMA, LAST_SENT_SCHEMA
from arrears.core.strategy.choose import DISPUTE_REASON, HARDSHIP_REASON, legal_reason, visit_reason
from arrears.core.strategy.model import Policy, PolicySet, Segment, Step

ACTION_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "borrower_id": pl.String(),
        "loan_id": pl.String(),
        "business_date": pl.Date(),
        "policy": pl.String(),
        "step": pl.String(),
        "channel": pl.String(),
        "party": pl.String(),
        "template": pl.String(),
        "local_time": pl.Time(),
        "priority": pl.Int64(),
        "purpose": pl.String(),
    }
)
ROUTING_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "borrower_id": pl.String(),
        "loan_id": pl.String(),
        "business_date": pl.Date(),
        "policy": pl.String(),
        "kind": pl.String(),
        "reason": pl.String(),
    }
)
_NULLABLE = frozenset({"days_to_due", "promise_until", "promise_broken_on"})
_ORDER = "__order"
_ROW = "__row"
_KEY = ("borrower_id", "loan_id", "business_date", "policy")


class CaseFrameError(ValueError):
    """The cases or last_sent frame is not in the documented shape (names column and reason)."""


def _conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], what: str) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise CaseFrameError(f"{what}: missing column(s) {', '.join(missing)}")
    try:
        out = frame.select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])
    except pl.exceptions.PolarsError as err:
        raise CaseFrameError(f"{what}: {str(err).splitlines()[0]}") from None
    for col in schema:
        if col not in _NULLABLE and out[col].null_count():
            raise CaseFrameError(f"{what}: column {col} has nulls")
    return out


def _days_since(column: str) -> pl.Expr:
    return (pl.col("business_date") - pl.col(column)).dt.total_days()


def _within(expr: pl.Expr, lo: int | None, hi: int | None) -> pl.Expr:
    out = pl.lit(True)
    if lo is not None:
        out = out & (expr >= lo)
    if hi is not None:
        out = out & (expr <= hi)
    return out


def _segment_expr(segments: tuple[Segment, ...]) -> pl.Expr:
    if not segments:
        return pl.lit(None, dtype=pl.String)

    def match(s: Segment) -> pl.Expr:
        cond = _within(pl.col("overdue_amount"), s.overdue_from, s.overdue_to) & _within(
            pl.col("risk_score"), s.risk_from, s.risk_to
        )
        if s.first_time is not None:
            cond = cond & ((pl.col("prior_cases") == 0) == s.first_time)
        return cond

    # The first matching segment wins: coalesce takes the first non-null.
    return pl.coalesce([pl.when(match(s)).then(pl.lit(s.name)) for s in segments])


def _paused(policy: Policy) -> pl.Expr:
    promise_open = (pl.col("promise_until") >= pl.col("business_date")).fill_null(False)
    hardship = pl.col("hardship") if policy.hardship_pauses_contact else pl.lit(False)
    return pl.col("dispute") | hardship | pl.col("plan_in_force") | promise_open


def _broken(policy: Policy) -> pl.Expr:
    days = _days_since("promise_broken_on")
    return ((days >= 0) & (days <= policy.broken_promise.within_days)).fill_null(False)


def _last_col(step: str) -> str:
    return f"__last__{step}"


def _fires(policy: Policy, step: Step) -> pl.Expr:
    """The step's conditions except the policy match and the approval split."""
    ok = pl.col("plan_in_force") if step.purpose == "plan_reminder" else ~pl.col("__paused")
    dpd = pl.col("dpd")
    if step.dpd_from is None:
        timing = (dpd == 0) & pl.col("days_to_due").is_in(list(step.before_due)).fill_null(False)
    else:
        timing = _within(dpd, step.dpd_from, step.dpd_to)
        if step.name in policy.broken_promise.jump_to:
            timing = timing | (pl.col("__broken") & (dpd >= 1))
    cond = ok & timing
    if step.min_overdue:
        cond = cond & (pl.col("overdue_amount") >= step.min_overdue)
    if step.segments:
        cond = cond & pl.col("__segment").is_in(list(step.segments)).fill_null(False)
    if step.unreachable_days_at_least:
        cond = cond & (pl.col("unreachable_days") >= step.unreachable_days_at_least)
    if step.party == "emergency_contact":
        cond = cond & (pl.col("emergency_contacts") >= 1)
    last = pl.col(_last_col(step.name))
    cadence = last.is_null() | (_days_since(_last_col(step.name)) >= step.cadence_days)
    return cond & cadence.fill_null(False)


def _with_last_sent(base: pl.DataFrame, last_sent: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    wanted = last_sent.filter(pl.col("step").is_in(names))
    if wanted.height:
        wide = (
            wanted.group_by("borrower_id", "step")
            .agg(pl.col("last_date").max())
            .pivot(on="step", index="borrower_id", values="last_date")
        )
        wide = wide.rename({n: _last_col(n) for n in wide.columns if n != "borrower_id"})
        base = base.join(wide, on="borrower_id", how="left")
    absent = [n for n in names if _last_col(n) not in base.columns]
    return base.with_columns([pl.lit(None, dtype=pl.Date).alias(_last_col(n)) for n in absent])


def choose_frame(
    cases: pl.DataFrame, last_sent: pl.DataFrame, policies: PolicySet
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(actions, routings) for every case in the frame; see the module docstring."""
    base = _conform(cases, CASE_SCHEMA, "cases")
    sent = _conform(last_sent, LAST_SENT_SCHEMA, "last_sent")
    base = base.with_columns(
        assign_series(base["borrower_id"], policies).alias("policy")
    ).with_row_index(_ROW)
    names = sorted({s.name for m in policies.members for s in m.policy.steps})
    base = _with_last_sent(base, sent, names)

    actions: list[pl.DataFrame] = []
    routings: list[pl.DataFrame] = []
    key = [pl.col(_ROW), *(pl.col(c) for c in _KEY)]
    for member in policies.members:
        policy = member.policy
        frame = base.filter(pl.col("policy") == policy.name).with_columns(
            _segment_expr(policy.segments).alias("__segment"),
            _paused(policy).alias("__paused"),
            _broken(policy).alias("__broken"),
        )
        if frame.height == 0:
            continue
        flags = frame.with_columns(
            [_fires(policy, s).alias(f"__fires{i}") for i, s in enumerate(policy.steps)]
        )
        raise_by = policy.broken_promise.raise_priority

        def routing(
            where: pl.Expr, kind: str, reason: str, order: int, flags: pl.DataFrame = flags
        ) -> pl.DataFrame:
            return flags.filter(where).select(
                *key,
                pl.lit(kind).alias("kind"),
                pl.lit(reason).alias("reason"),
                pl.lit(order).alias(_ORDER),
            )

        routings.append(routing(pl.col("dispute"), "dispute_review", DISPUTE_REASON, 0))
        routings.append(routing(pl.col("hardship"), "forbearance", HARDSHIP_REASON, 1))
        for i, step in enumerate(policy.steps):
            fires = pl.col(f"__fires{i}")
            if step.channel == "visit" and step.requires_approval:
                routings.append(
                    routing(
                        fires & ~pl.col("visit_approved"),
                        "visit_approval",
                        visit_reason(step),
                        2 + i,
                    )
                )
                fires = fires & pl.col("visit_approved")
            bump = pl.lit(0)
            if step.purpose == "collection" and raise_by:
                bump = pl.when(pl.col("__broken")).then(pl.lit(raise_by)).otherwise(pl.lit(0))
            actions.append(
                flags.filter(fires).select(
                    *key,
                    pl.lit(step.name).alias("step"),
                    pl.lit(step.channel).alias("channel"),
                    pl.lit(step.party).alias("party"),
                    pl.lit(step.template).alias("template"),
                    pl.lit(step.at, dtype=pl.Time).alias("local_time"),
                    (pl.lit(step.priority) + bump).cast(pl.Int64).alias("priority"),
                    pl.lit(step.purpose).alias("purpose"),
                    pl.lit(i).alias(_ORDER),
                )
            )
        if policy.legal is not None:
            legal = (
                ~pl.col("__paused")
                & (pl.col("dpd") >= policy.legal.dpd_from)
                & (pl.col("overdue_amount") >= policy.legal.min_overdue)
            )
            routings.append(routing(legal, "legal", legal_reason(policy), 1_000_000))
    return _finish(actions, ACTION_SCHEMA), _finish(routings, ROUTING_SCHEMA)


def _finish(parts: list[pl.DataFrame], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    full = {_ROW: pl.UInt32(), **schema, _ORDER: pl.Int64()}
    typed = [p.select([pl.col(c).cast(t) for c, t in full.items()]) for p in parts if p.height]
    if not typed:
        return pl.DataFrame(schema=dict(schema))
    # Integer keys: sorting by the borrower id string cost more than choosing the actions.
    return pl.concat(typed).sort([_ROW, _ORDER]).drop(_ROW, _ORDER)


__all__ = ["ACTION_SCHEMA", "ROUTING_SCHEMA", "CaseFrameError", "choose_frame"]
