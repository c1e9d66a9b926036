"""Numeric limits of a rule pack, and a lender's settings that may only tighten them.

A pack states its limits as data (so `arrears compliance rules` can print them and a lender can
see what it is bound by). A lender may make any limit stricter; a looser value is rejected
with a `Problem` naming the limit, never silently ignored or clamped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import time
from typing import Literal

from arrears.core.problem import Problem, Result, fail, ok

Direction = Literal["lower", "higher", "later", "earlier"]


@dataclass(frozen=True)
class Limits:
    """None means the pack has no such limit (and the rule reading it does not apply)."""

    day_start: time | None = None  # earliest local time for a contact (inclusive)
    day_end: time | None = None  # first local time no contact may be made
    visit_day_start: time | None = None
    visit_day_end: time | None = None
    max_conversations_per_day: int | None = None  # per debtor, all lenders and agencies
    max_unanswered_per_number_per_day: int | None = None
    max_calls_per_window: int | None = None  # per person per debt
    call_window_days: int | None = None
    conversation_quiet_days: int | None = None  # the conversation's day counts as day 1
    rapid_succession_minutes: int | None = None  # warning only
    concentrated_calls_per_day: int | None = None  # warning only, per number
    min_visit_collectors: int | None = None
    training_valid_months: int | None = None
    recording_retention_years: int | None = None
    record_retention_years: int | None = None


# Which way is stricter for each limit. Every field of Limits must appear here (tested).
STRICTER: Mapping[str, Direction] = {
    "day_start": "later",
    "day_end": "earlier",
    "visit_day_start": "later",
    "visit_day_end": "earlier",
    "max_conversations_per_day": "lower",
    "max_unanswered_per_number_per_day": "lower",
    "max_calls_per_window": "lower",
    "call_window_days": "higher",
    "conversation_quiet_days": "higher",
    "rapid_succession_minutes": "higher",
    "concentrated_calls_per_day": "lower",
    "min_visit_collectors": "higher",
    "training_valid_months": "lower",
    "recording_retention_years": "higher",
    "record_retention_years": "higher",
}

LIMIT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Limits))


@dataclass(frozen=True)
class LenderSettings:
    """A lender's own values for some of a pack's limits (limit name -> value)."""

    limits: Mapping[str, int | time]


def _is_stricter_or_equal(direction: Direction, new: int | time, old: int | time) -> bool:
    if direction in ("lower", "earlier"):
        return new <= old  # type: ignore[operator]
    return new >= old  # type: ignore[operator]


def tighten(limits: Limits, settings: LenderSettings | None) -> Result[Limits]:
    """Apply a lender's settings to a pack's limits, or say why they cannot apply."""
    if settings is None:
        return ok(limits)
    errors: list[Problem] = []
    changes: dict[str, int | time] = {}
    for name, value in settings.limits.items():
        if name not in STRICTER:
            errors.append(Problem("settings", name, "no such limit"))
            continue
        current = getattr(limits, name)
        if current is None:
            errors.append(Problem("settings", name, "this pack has no such limit to tighten"))
            continue
        if type(value) is not type(current):
            kind = "a time HH:MM" if isinstance(current, time) else "an integer"
            errors.append(Problem("settings", name, f"must be {kind}"))
            continue
        direction = STRICTER[name]
        if not _is_stricter_or_equal(direction, value, current):
            errors.append(
                Problem(
                    "settings",
                    name,
                    f"{_show(value)} is looser than the pack's {_show(current)}; "
                    f"a lender may only make it {direction}",
                )
            )
            continue
        changes[name] = value
    if errors:
        return fail(*errors)
    return ok(replace(limits, **changes))  # type: ignore[arg-type]


def _show(value: int | time) -> str:
    return value.strftime("%H:%M") if isinstance(value, time) else str(value)
