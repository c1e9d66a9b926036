"""The guessing limits: per borrower (n failures within a window lock for a while) and across
the code space (a global failure budget per window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arrears.core.people.guessing import GuessLimits, borrower_locked_until, gate

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LIMITS = GuessLimits(
    borrower_failures=5,
    borrower_window=timedelta(minutes=15),
    lockout=timedelta(hours=1),
    global_failures=1000,
    global_window=timedelta(minutes=15),
)


def _minutes(*offsets: int) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def test_four_failures_do_not_lock() -> None:
    assert borrower_locked_until(_minutes(0, 1, 2, 3), T0 + timedelta(minutes=4), LIMITS) is None


def test_the_fifth_failure_within_the_window_locks_for_an_hour_from_it() -> None:
    fails = _minutes(0, 1, 2, 3, 14)
    assert borrower_locked_until(fails, T0 + timedelta(minutes=15), LIMITS) == T0 + timedelta(
        minutes=74
    )
    # Still locked a second before the end, free at the end.
    end = T0 + timedelta(minutes=74)
    assert borrower_locked_until(fails, end - timedelta(seconds=1), LIMITS) == end
    assert borrower_locked_until(fails, end, LIMITS) is None


def test_five_failures_spread_wider_than_the_window_do_not_lock() -> None:
    # 0 and 16 are more than 15 minutes apart; no five of these fit in one window.
    assert (
        borrower_locked_until(_minutes(0, 4, 8, 12, 16), T0 + timedelta(minutes=17), LIMITS) is None
    )


def test_exactly_the_window_apart_still_locks() -> None:
    assert borrower_locked_until(_minutes(0, 1, 2, 3, 15), T0 + timedelta(minutes=16), LIMITS) == (
        T0 + timedelta(minutes=75)
    )


def test_order_of_the_failures_does_not_matter() -> None:
    fails = _minutes(14, 2, 0, 3, 1)
    assert borrower_locked_until(fails, T0 + timedelta(minutes=15), LIMITS) == T0 + timedelta(
        minutes=74
    )


def test_gate_global_budget() -> None:
    now = T0 + timedelta(minutes=1)
    assert gate([], 999, now, LIMITS).allowed
    spent = gate([], 1000, now, LIMITS)
    assert (spent.allowed, spent.busy, spent.locked_until) == (False, True, None)
    locked = gate(_minutes(0, 0, 0, 0, 0), 0, now, LIMITS)
    assert (locked.allowed, locked.busy, locked.locked_until) == (
        False,
        False,
        T0 + timedelta(hours=1),
    )
