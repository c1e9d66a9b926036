"""The compliance-check service: the gate asked directly, with problems naming the input, the
line and the field. Expectations from the CN pack's published limits (calls 08:00 to 22:00,
at most three conversations a day: docs/REFERENCES and the pack's sources)."""

from __future__ import annotations

import json

from arrears.services.compliance_check import Named, check_contact, pack_rules
from factories import refused, succeeded

TALK = {
    "at": "2026-03-02T09:00:00+08:00",
    "channel": "call",
    "debt_id": "L1",
    "party": "debtor",
    "number": "+8613800000000",
    "connected": True,
    "conversation": True,
}


def history(*contacts: dict[str, object]) -> Named:
    return Named("history.jsonl", "\n".join(json.dumps(c) for c in contacts))


def proposed(at: str, **context: object) -> Named:
    body = {**TALK, "at": at, "connected": False, "conversation": False}
    return Named(
        "proposed.json", json.dumps({**body, "context": {"timezones": ["+08:00"], **context}})
    )


def test_a_call_inside_the_hours_is_allowed_and_one_after_22_00_is_not() -> None:
    allowed = succeeded(check_contact("cn", history(TALK), proposed("2026-03-02T21:59:00+08:00")))
    assert allowed.allowed and allowed.violations == ()
    late = succeeded(check_contact("cn", history(TALK), proposed("2026-03-02T22:00:00+08:00")))
    assert not late.allowed and [v.rule for v in late.violations] == ["cn.hours"]


def test_a_fourth_conversation_in_a_day_is_blocked() -> None:
    three = [{**TALK, "at": f"2026-03-02T{h}:00:00+08:00"} for h in ("09", "11", "13")]
    decision = succeeded(
        check_contact("cn", history(*three), proposed("2026-03-02T15:00:00+08:00"))
    )
    assert "cn.daily-conversations" in [v.rule for v in decision.violations]


def test_a_lender_may_tighten_but_not_loosen_the_limits() -> None:
    earlier = Named("lender.json", json.dumps({"day_end": "21:00"}))
    decision = succeeded(
        check_contact("cn", history(), proposed("2026-03-02T21:30:00+08:00"), earlier)
    )
    assert not decision.allowed
    looser = Named("lender.json", json.dumps({"day_end": "23:00"}))
    problem = refused(check_contact("cn", history(), proposed("2026-03-02T21:30:00+08:00"), looser))
    assert (problem.record, problem.field) == (
        "lender.json",
        "day_end",
    ) and "looser" in problem.reason


def test_problems_name_the_input_line_and_field() -> None:
    bad_line = Named(
        "history.jsonl", json.dumps(TALK) + "\n" + json.dumps({**TALK, "channel": "fax"})
    )
    problem = refused(check_contact("cn", bad_line, proposed("2026-03-02T10:00:00+08:00")))
    assert (problem.record, problem.field, problem.code) == (
        "history.jsonl: line 2",
        "channel",
        "invalid",
    )
    problem = refused(
        check_contact(
            "cn", history(), proposed("2026-03-02T10:00:00+08:00", timezones=["Mars/Base"])
        )
    )
    assert problem.record == "proposed.json: line 1" and problem.field == "context.timezones[0]"
    broken = Named("lender.json", "{")
    problem = refused(check_contact("cn", history(), proposed("2026-03-02T10:00:00+08:00"), broken))
    assert str(problem).startswith("lender.json: line 1: not valid JSON")
    assert (
        refused(check_contact("xx", history(), proposed("2026-03-02T10:00:00+08:00"))).record
        == "rules"
    )


def test_pack_rules_list_every_rule_with_its_source_and_the_set_limits() -> None:
    cn = succeeded(pack_rules("cn"))
    assert cn.limits["day_start"] == "08:00" and cn.limits["day_end"] == "22:00"
    assert cn.limits["max_conversations_per_day"] == 3
    ids = [r.rule for r in cn.rules]
    assert "cn.hours" in ids and len(ids) == len(set(ids))
    assert all(r.source for r in cn.rules)
    assert len(cn.rules_sha256) == 16 and int(cn.rules_sha256, 16) >= 0  # sha256, first 16 hex
    assert succeeded(pack_rules("us-reg-f")).rules_sha256 != cn.rules_sha256
