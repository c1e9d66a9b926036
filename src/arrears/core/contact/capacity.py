"""The day's work cut to what the team can do: calls to the agents' capacity, visits to each
region's field team. Pure.

A real collections floor plans a day to its people, not to the policy's wishes. The calls the
policy chose are ranked as the queue serves them (policy priority, then days past due, then
the overdue amount, then borrower and step so the cut is the same on every run, a resumed close
included) and the first ``calls_per_day`` are planned; the others are not planned today.
Nothing is lost by that: a call that was not made is not in the contact history, so the policy
chooses it again tomorrow while its step still applies (carried by the rule that chose it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

_ROW = "__capacity_row"


@dataclass(frozen=True, slots=True)
class CallCut:
    actions: pl.DataFrame  # every non-call action, and the calls within capacity, in order
    planned: int  # calls chosen by the policy
    kept: int  # of those, within capacity

    @property
    def over_capacity(self) -> int:
        return self.planned - self.kept


def cut_calls(actions: pl.DataFrame, cases: pl.DataFrame, calls_per_day: int) -> CallCut:
    """The day's actions with the calls cut to ``calls_per_day`` (see the module docstring).

    ``actions``: ``strategy.frame.ACTION_SCHEMA``; ``cases``: ``strategy.case.CASE_SCHEMA``
    (for ``dpd`` and ``overdue_amount`` of each loan). The order of ``actions`` is kept.
    """
    if calls_per_day < 0:
        raise ValueError(f"calls_per_day must not be negative: {calls_per_day}")
    indexed = actions.with_row_index(_ROW)
    calls = indexed.filter(pl.col("channel") == "call")
    if calls.height <= calls_per_day:
        return CallCut(actions, calls.height, calls.height)
    facts = cases.select("borrower_id", "loan_id", "dpd", "overdue_amount").unique(
        ["borrower_id", "loan_id"], keep="first"
    )
    ranked = (
        calls.join(facts, on=["borrower_id", "loan_id"], how="left")
        .with_columns(pl.col("dpd").fill_null(0), pl.col("overdue_amount").fill_null(0))
        .sort(
            ["priority", "dpd", "overdue_amount", "borrower_id", "step", "party"],
            descending=[True, True, True, False, False, False],
        )
        .head(calls_per_day)
    )
    keep = indexed.filter(
        (pl.col("channel") != "call") | pl.col(_ROW).is_in(ranked[_ROW].implode())
    )
    return CallCut(keep.drop(_ROW), calls.height, calls_per_day)


# --- visits --------------------------------------------------------------------------------

# The province-level part of a Chinese address: everything through its first 省, 自治区 or
# 市 (北京市, 广东省, 广西壮族自治区). Four municipalities end in 市 at this level too.
_ZH_REGION = re.compile(r"^\s*(.+?(?:自治区|省|市))")


def region_of(address: str | None) -> str:
    """The region whose field team would make a visit to ``address``: for a Chinese address
    its province (or municipality, or autonomous region), otherwise its last comma-separated
    part (``"12 High St, Leeds, England"`` -> ``"England"``); ``""`` for no address."""
    if not address or not address.strip():
        return ""
    found = _ZH_REGION.match(address)
    if found is not None:
        return found.group(1).strip()
    return address.rsplit(",", 1)[-1].strip()


def has_room(booked: Iterable[str], region: str, per_region: int) -> bool:
    """Whether a region with visits already booked in ``booked`` (one region per visit, on the
    day in question) can take one more under ``per_region``."""
    return sum(1 for r in booked if r == region) < per_region


__all__: Sequence[str] = ("CallCut", "cut_calls", "has_room", "region_of")
