"""Planning to capacity, pure: which calls a floor of agents makes, which region a visit is in."""

from __future__ import annotations

from datetime import date, time

import polars as pl
import pytest

from arrears.core.contact.capacity import cut_calls, has_room, region_of
from arrears.core.strategy.case import CASE_SCHEMA
from arrears.core.strategy.frame import ACTION_SCHEMA

DAY = date(2026, 4, 1)


def _actions(rows: list[tuple[str, str, str, str, int]]) -> pl.DataFrame:
    """(borrower, loan, step, channel, priority) rows as the policy's actions frame."""
    return pl.DataFrame(
        [
            {
                "borrower_id": b,
                "loan_id": loan,
                "business_date": DAY,
                "policy": "default",
                "step": step,
                "channel": channel,
                "party": "debtor",
                "template": "t",
                "local_time": time(14, 0),
                "priority": priority,
                "purpose": "collection",
            }
            for b, loan, step, channel, priority in rows
        ],
        schema=dict(ACTION_SCHEMA),
    )


def _cases(rows: list[tuple[str, str, int, int]]) -> pl.DataFrame:
    """(borrower, loan, dpd, overdue fen) rows as the cases frame."""
    base = {c: None for c in CASE_SCHEMA}
    return pl.DataFrame(
        [
            base
            | {
                "borrower_id": b,
                "loan_id": loan,
                "business_date": DAY,
                "dpd": dpd,
                "overdue_amount": overdue,
            }
            for b, loan, dpd, overdue in rows
        ],
        schema=dict(CASE_SCHEMA),
    )


def test_the_days_calls_are_ranked_as_the_queue_serves_them_and_cut() -> None:
    actions = _actions(
        [
            ("B1", "L1", "sms_overdue", "sms", 0),
            ("B1", "L1", "call_debtor", "call", 10),
            ("B2", "L2", "call_debtor", "call", 10),
            ("B3", "L3", "call_debtor", "call", 10),
            ("B4", "L4", "call_urgent", "call", 20),
            ("B5", "L5", "call_debtor", "call", 10),
            ("B5", "L5", "email", "email", 0),
        ]
    )
    cases = _cases(
        [
            ("B1", "L1", 5, 100_00),
            ("B2", "L2", 30, 50_00),  # deeper in arrears than B1, B3, B5
            ("B3", "L3", 5, 900_00),  # same dpd as B1 and B5, more overdue
            ("B4", "L4", 1, 1_00),  # the highest priority whatever the arrears
            ("B5", "L5", 5, 100_00),  # ties with B1: borrower id decides, B1 first
        ]
    )
    cut = cut_calls(actions, cases, 3)
    assert (cut.planned, cut.kept, cut.over_capacity) == (5, 3, 2)
    kept = list(zip(cut.actions["borrower_id"], cut.actions["channel"], strict=True))
    # Order of the input kept; the messages all stay; calls of B4, B2, B3 made, B1 and B5 not.
    assert kept == [("B1", "sms"), ("B2", "call"), ("B3", "call"), ("B4", "call"), ("B5", "email")]
    assert cut_calls(actions, cases, 4).actions.filter(pl.col("borrower_id") == "B1").height == 2


def test_within_capacity_nothing_is_cut() -> None:
    actions = _actions([("B1", "L1", "call_debtor", "call", 10)])
    cut = cut_calls(actions, _cases([("B1", "L1", 5, 1)]), 1)
    assert cut.actions.equals(actions) and cut.over_capacity == 0
    with pytest.raises(ValueError, match="calls_per_day"):
        cut_calls(actions, _cases([]), -1)
    zero = cut_calls(actions, _cases([("B1", "L1", 5, 1)]), 0)
    assert zero.actions.height == 0 and zero.over_capacity == 1


@pytest.mark.parametrize(
    ("address", "region"),
    [
        ("广东省深圳市南山区科技园路1号", "广东省"),
        ("北京市朝阳区建国路88号", "北京市"),
        ("广西壮族自治区南宁市青秀区民族大道100号", "广西壮族自治区"),
        ("内蒙古自治区呼和浩特市新城区", "内蒙古自治区"),
        ("12 High Street, Leeds, England", "England"),
        ("350 Fifth Avenue, New York, NY", "NY"),
        ("", ""),
        (None, ""),
    ],
)
def test_a_visit_goes_to_the_field_team_of_its_province_or_last_address_part(
    address: str | None, region: str
) -> None:
    assert region_of(address) == region


def test_a_region_has_room_until_its_daily_visits_are_booked() -> None:
    booked = ["广东省", "广东省", "北京市"]
    assert not has_room(booked, "广东省", 2)
    assert has_room(booked, "北京市", 2)
    assert has_room(booked, "上海市", 2)
    assert not has_room([], "上海市", 0)
