"""Parsing: bad input is a value naming the line and the field; good input round-trips."""

from __future__ import annotations

import json
from datetime import time, timedelta

import pytest

from arrears.core.compliance import parse_history, parse_proposed, parse_settings
from factories import refused, succeeded

GOOD = {
    "at": "2026-03-02T10:00:00+08:00",
    "channel": "call",
    "debt_id": "L1",
    "party": "debtor",
    "number": "+8613800000000",
    "connected": True,
    "conversation": True,
}


def line(**changes: object) -> str:
    obj = {**GOOD, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


def test_history_parses() -> None:
    parsed = parse_history([line(), "", line(other_debt_ids=["L2"], outcome="refused")])
    parsed = succeeded(parsed)
    assert len(parsed) == 2
    assert parsed[0].at.utcoffset() == timedelta(hours=8)
    assert parsed[1].debts == ("L1", "L2")


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (line(at="2026-03-02T10:00:00"), "at", "offset"),
        (line(at="yesterday"), "at", "ISO 8601"),
        (line(at=...), "at", "required"),
        (line(channel="fax"), "channel", "one of"),
        (line(channel=...), "channel", "required"),
        (line(party="neighbour"), "party", "one of"),
        (line(debt_id=...), "debt_id", "required"),
        (line(connected="yes"), "connected", "true or false"),
        (line(connected=False), "conversation", "connected is false"),
        (line(collectors="c1"), "collectors", "list"),
        (line(collectors=["c1", 7]), "collectors[1]", "string"),
        (line(consent_until="2026-03-09"), "consent_until", "offset"),
        (line(dispute=True), "dispute", "unknown field"),
        ("{not json", "(line)", "not valid JSON"),
        ("[1, 2]", "(line)", "JSON object"),
    ],
)
def test_history_errors_name_line_and_field(bad: str, field: str, reason: str) -> None:
    parsed = parse_history([line(), line(), bad])
    parsed = refused(parsed)
    assert (parsed.record, parsed.field) == ("line 3", field)
    assert reason in parsed.reason
    assert "line 3" in str(parsed) and field in str(parsed)


def proposed(**context: object) -> str:
    ctx = {"timezones": ["Asia/Shanghai"], **context}
    return json.dumps({**GOOD, "connected": False, "conversation": False, "context": ctx}, indent=1)


def test_proposed_parses_with_context() -> None:
    text = proposed(
        timezones=["America/New_York", "-08:00"],
        reachable=False,
        contact_preferences={"opt_out": ["sms"], "not_before": "12:00"},
        collectors={"c1": "2026-01-15"},
        credit_notices={"L1": "2026-03-01T09:00:00+08:00"},
        entrustments=["agency-a"],
    )
    parsed = parse_proposed(text)
    parsed = succeeded(parsed)
    contact, ctx = parsed
    assert contact.channel == "call" and not ctx.reachable
    assert str(ctx.timezones[0]) == "America/New_York"
    assert ctx.timezones[1].utcoffset(None) == timedelta(hours=-8)
    assert ctx.contact_preferences.not_before == time(12, 0)
    assert ctx.contact_preferences.opt_out == frozenset({"sms"})
    assert "agency-a" in ctx.entrustments


@pytest.mark.parametrize(
    ("context", "field", "reason"),
    [
        ({"timezones": []}, "context.timezones", "at least one"),
        ({"timezones": ["Mars/Olympus"]}, "context.timezones[0]", "IANA"),
        ({"reachable": "no"}, "context.reachable", "true or false"),
        (
            {"contact_preferences": {"not_before": "noon"}},
            "context.contact_preferences.not_before",
            "HH:MM",
        ),
        (
            {"contact_preferences": {"opt_out": ["pigeon"]}},
            "context.contact_preferences.opt_out[0]",
            "one of",
        ),
        ({"collectors": {"c1": "last spring"}}, "context.collectors.c1", "YYYY-MM-DD"),
        ({"plan_inforce": True}, "context.plan_inforce", "unknown field"),
    ],
)
def test_proposed_context_errors(context: dict[str, object], field: str, reason: str) -> None:
    parsed = parse_proposed(proposed(**context))
    parsed = refused(parsed)
    assert parsed.field == field
    assert reason in parsed.reason
    assert parsed.record.startswith("line ")  # the line where the field appears in the file


def test_proposed_needs_a_context() -> None:
    parsed = parse_proposed(json.dumps(GOOD))
    assert refused(parsed).field == "context"


def test_proposed_invalid_json_names_the_line() -> None:
    parsed = parse_proposed('{\n "at": "2026-03-02T10:00:00+08:00",\n oops\n}')
    assert refused(parsed).record == "line 3"


def test_data_actions_need_no_channel_or_number() -> None:
    text = json.dumps(
        {
            "at": "2026-03-02T10:00:00+08:00",
            "debt_id": "L1",
            "purpose": "credit_report",
            "context": {"timezones": ["+08:00"]},
        }
    )
    succeeded(parse_proposed(text))
    transfer = json.dumps(
        {
            "at": "2026-03-02T10:00:00+08:00",
            "debt_id": "L1",
            "purpose": "data_transfer",
            "context": {"timezones": ["+08:00"]},
        }
    )
    parsed = parse_proposed(transfer)
    assert refused(parsed).field == "recipient"


def test_settings_parse() -> None:
    parsed = parse_settings({"day_end": "21:00", "max_conversations_per_day": 2})
    parsed = succeeded(parsed)
    assert parsed.limits == {"day_end": time(21, 0), "max_conversations_per_day": 2}
    bad = parse_settings({"day_end": 21.5})
    assert refused(bad).field == "day_end"
    refused(parse_settings({"nope": 1}))
