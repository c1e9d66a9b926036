"""Lender settings may tighten a pack's limits, never loosen them; every rule cites a source."""

from __future__ import annotations

from dataclasses import fields
from datetime import time

import pytest

from arrears.core.compliance import LenderSettings, Limits, check, tighten
from arrears.core.compliance.limits import STRICTER
from arrears.core.compliance.packs import PACKS

from .helpers import at, call, context, decide, rule_ids, talked


def test_every_limit_has_a_strictness_direction() -> None:
    assert set(STRICTER) == {f.name for f in fields(Limits)}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("day_end", time(21, 0)),
        ("day_start", time(9, 0)),
        ("max_conversations_per_day", 2),
        ("max_unanswered_per_number_per_day", 6),  # equal is allowed
        ("recording_retention_years", 5),
    ],
)
def test_stricter_settings_apply(name: str, value: int | time) -> None:
    tightened, problems = tighten(PACKS["cn"].limits, LenderSettings({name: value}))
    assert problems == () and isinstance(tightened, Limits)
    assert getattr(tightened, name) == value


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("day_end", time(23, 0), "looser"),
        ("day_start", time(7, 0), "looser"),
        ("max_conversations_per_day", 4, "looser"),
        ("recording_retention_years", 1, "looser"),
        ("training_valid_months", 24, "looser"),
        ("max_calls_per_window", 5, "no such limit to tighten"),  # not a CN limit
        ("calls_per_hour", 1, "no such limit"),
        ("max_conversations_per_day", time(3, 0), "integer"),
        ("max_conversations_per_day", True, "integer"),
    ],
)
def test_looser_or_wrong_settings_are_errors(name: str, value: object, reason: str) -> None:
    result, problems = tighten(PACKS["cn"].limits, LenderSettings({name: value}))  # type: ignore[dict-item]
    assert result is None
    assert (problems[0].record, problems[0].field) == ("settings", name)
    assert reason in problems[0].reason


def test_a_stricter_cap_is_enforced() -> None:
    history = tuple(talked(at(f"2026-03-02 {h:02d}:00")) for h in (9, 10))
    proposed = call(at("2026-03-02 15:00"))
    assert decide("cn", proposed, history).allowed
    strict = decide("cn", proposed, history, settings={"max_conversations_per_day": 2})
    assert "cn.daily-conversations" in rule_ids(strict)


def test_stricter_hours_are_enforced() -> None:
    proposed = call(at("2026-03-02 21:30"))
    assert decide("cn", proposed).allowed
    assert "cn.hours" in rule_ids(decide("cn", proposed, settings={"day_end": time(21, 0)}))


def test_check_refuses_looser_settings_as_a_bug() -> None:
    # Settings are validated with tighten() when loaded; reaching check() with looser ones
    # is a programming error, not a decision.
    with pytest.raises(ValueError, match="looser"):
        check(
            (),
            call(at("2026-03-02 10:00")),
            context(),
            PACKS["cn"],
            LenderSettings({"day_end": time(23, 0)}),
        )


@pytest.mark.parametrize("pack", list(PACKS))
def test_every_rule_has_an_id_a_source_and_a_message(pack: str) -> None:
    rules = PACKS[pack].rules
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)), "rule ids are unique within a pack"
    prefix = {"cn": "cn.", "us-reg-f": "us.", "uk-conc": "uk."}[pack]
    for rule in rules:
        assert rule.id.startswith(prefix)
        assert rule.source.strip() and rule.message.strip()


def test_pack_ids_match_the_command_line() -> None:
    assert set(PACKS) == {"cn", "us-reg-f", "uk-conc"}


@pytest.mark.parametrize(
    ("pack", "name", "value"),
    [
        # Numbers straight from REFERENCES.md.
        ("cn", "day_start", time(8, 0)),
        ("cn", "day_end", time(22, 0)),
        ("cn", "max_conversations_per_day", 3),
        ("cn", "max_unanswered_per_number_per_day", 6),
        ("cn", "min_visit_collectors", 2),
        ("cn", "recording_retention_years", 2),
        ("us-reg-f", "day_start", time(8, 0)),
        ("us-reg-f", "day_end", time(21, 0)),
        ("us-reg-f", "max_calls_per_window", 7),
        ("us-reg-f", "call_window_days", 7),
        ("us-reg-f", "conversation_quiet_days", 7),
        ("us-reg-f", "record_retention_years", 3),
    ],
)
def test_pack_limits_match_the_sources(pack: str, name: str, value: object) -> None:
    assert getattr(PACKS[pack].limits, name) == value
