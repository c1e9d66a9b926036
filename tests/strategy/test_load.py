"""Reading policies from YAML: the shipped files are valid; every bad input names the file,
the path inside it and the reason, and nothing is half-read."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml

from arrears.core.strategy import parse_policy, policy_set, single
from arrears.services.policy_files import bundled_policy_path, load_policy, load_policy_set
from factories import refused, succeeded

MINIMAL = {
    "name": "p",
    "steps": [
        {"name": "sms", "channel": "sms", "template": "sms_overdue", "at": "10:00", "dpd_from": 1}
    ],
}


def errors_of(data: object) -> list[tuple[str, str]]:
    value, got = parse_policy(data, "f.yaml")
    assert value is None and got, f"expected errors, got {value}"
    assert all(e.record == "f.yaml" for e in got)
    return [(e.field, e.reason) for e in got]


def with_step(**fields: object) -> dict[str, object]:
    s = {**MINIMAL["steps"][0], **fields}  # type: ignore[index]
    return {**MINIMAL, "steps": [{k: v for k, v in s.items() if v is not None}]}


def test_bundled_policies_read_and_follow_the_seed_order() -> None:
    default = succeeded(load_policy(bundled_policy_path("default")))
    channels = [(s.channel, s.party) for s in default.steps if s.purpose == "collection"]
    # Seed order: reminders/SMS, calls, emergency contacts, visits (legal is a routing).
    assert channels == [
        ("sms", "debtor"),
        ("sms", "debtor"),
        ("call", "debtor"),
        ("call", "debtor"),
        ("sms", "emergency_contact"),
        ("visit", "debtor"),
    ]
    pre = default.steps[0]
    assert pre.before_due == (3, 1) and pre.dpd_from is None
    assert default.steps[1].dpd_from == 1  # SMS from day 1
    visit = next(s for s in default.steps if s.channel == "visit")
    assert visit.requires_approval and visit.min_overdue == 300000
    ec = next(s for s in default.steps if s.party == "emergency_contact")
    assert ec.unreachable_days_at_least > 0
    assert default.legal is not None and default.legal.dpd_from > visit.dpd_from  # type: ignore[operator]
    gentle = succeeded(load_policy(bundled_policy_path("gentle")))
    assert gentle.name == "gentle"
    split = succeeded(load_policy_set(bundled_policy_path("split")))
    assert [(m.policy.name, m.share) for m in split.members] == [("default", 90), ("gentle", 10)]


def test_minimal_policy_defaults() -> None:
    p = succeeded(parse_policy(MINIMAL, "f.yaml"))
    s = p.steps[0]
    assert (s.party, s.cadence_days, s.priority, s.purpose, s.min_overdue) == (
        "debtor",
        1,
        0,
        "collection",
        0,
    )
    assert s.at == time(10, 0) and p.hardship_pauses_contact and p.legal is None


@pytest.mark.parametrize(
    ("fields", "path", "reason_part"),
    [
        ({"cadence_days": 0}, "steps[0].cadence_days", "1..3660"),
        ({"cadence_days": "3"}, "steps[0].cadence_days", "whole number"),
        ({"cadence_day": 3}, "steps[0].cadence_day", "unknown key"),
        ({"channel": "fax"}, "steps[0].channel", "one of sms, call, email, letter, visit"),
        ({"party": "third_party"}, "steps[0].party", "one of debtor, emergency_contact"),
        ({"at": "25:00"}, "steps[0].at", "HH:MM"),
        ({"at": 540}, "steps[0].at", "quoted"),
        ({"min_overdue": 500}, "steps[0].min_overdue", "quoted strings"),
        ({"min_overdue": "5.001"}, "steps[0].min_overdue", "more than 2 decimals"),
        ({"min_overdue": "-5"}, "steps[0].min_overdue", "negative"),
        ({"dpd_to": 0, "dpd_from": 5}, "steps[0].dpd_to", "below dpd_from"),
        ({"dpd_from": 0}, "steps[0].dpd_from", "before_due"),
        ({"before_due": [3, 1]}, "steps[0]", "exactly one timing"),
        ({"dpd_from": None}, "steps[0]", "exactly one timing"),
        ({"dpd_from": None, "before_due": [3, 3]}, "steps[0].before_due", "twice"),
        ({"dpd_from": None, "before_due": []}, "steps[0].before_due", "non-empty"),
        ({"requires_approval": True}, "steps[0].requires_approval", "only visits"),
        ({"channel": "visit", "party": "emergency_contact"}, "steps[0].party", "debtor only"),
        ({"segments": ["nope"]}, "steps[0].segments[0]", "no segment named 'nope'"),
        ({"name": "Bad Name"}, "steps[0].name", "lower-case"),
        ({"template": ""}, "steps[0].template", "non-empty"),
        ({"purpose": "legal"}, "steps[0].purpose", "collection, plan_reminder"),
    ],
)
def test_bad_step_fields_are_named(fields: dict[str, object], path: str, reason_part: str) -> None:
    errs = errors_of(with_step(**fields))
    assert any(p == path and reason_part in r for p, r in errs), errs


def test_yaml_unquoted_time_is_explained() -> None:
    # YAML 1.1 reads an unquoted 10:00 as 600; the error must say so rather than "not a time".
    data = yaml.safe_load(
        "name: p\nsteps:\n"
        "  - {name: a, channel: sms, template: sms_overdue, at: 10:00, dpd_from: 1}\n"
    )
    errs = errors_of(data)
    assert errs == [
        ("steps[0].at", 'write the time quoted, e.g. "10:00" (YAML read it as the number 600)')
    ]


def test_all_errors_reported_at_once() -> None:
    data = {
        "name": "p",
        "rule_pack": "mars",
        "steps": [
            {
                "name": "a",
                "channel": "sms",
                "template": "sms_overdue",
                "at": "10:00",
                "dpd_from": 1,
                "cadence_days": -1,
            },
            {
                "name": "a",
                "channel": "sms",
                "template": "sms_overdue",
                "at": "10:00",
                "dpd_from": 1,
            },
        ],
        "legal": {"dpd_from": 0},
        "promises": {"broken": {"within_days": 7, "jump_to": ["zzz"]}},
    }
    paths = [p for p, _ in errors_of(data)]
    assert paths == [
        "rule_pack",
        "steps[0].cadence_days",
        "steps[1].name",
        "promises.broken.jump_to[0]",
        "legal.dpd_from",
    ]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ([1, 2], "(top level)"),
        ({"steps": MINIMAL["steps"]}, "name"),
        ({"name": "p"}, "steps"),
        ({"name": "p", "steps": []}, "steps"),
        (
            {**MINIMAL, "segments": [{"name": "a", "risk_from": 800, "risk_to": 100}]},
            "segments[0].risk_to",
        ),
        ({**MINIMAL, "segments": [{"name": "a", "risk_from": 1001}]}, "segments[0].risk_from"),
        ({**MINIMAL, "segments": [{"name": "a"}, {"name": "a"}]}, "segments[1].name"),
        ({**MINIMAL, "hardship": {"pause_contact": "yes please"}}, "hardship.pause_contact"),
        ({**MINIMAL, "promises": {"broken": {"raise_priority": 5}}}, "promises.broken.within_days"),
        ({**MINIMAL, "promises": {"kept": {}}}, "promises.kept"),
    ],
)
def test_bad_policy_shapes(data: object, path: str) -> None:
    assert path in [p for p, _ in errors_of(data)]


def test_jump_to_must_name_a_collection_band_step() -> None:
    data = {
        "name": "p",
        "steps": [
            {
                "name": "pre",
                "channel": "sms",
                "template": "sms_overdue",
                "at": "10:00",
                "before_due": [1],
            },
        ],
        "promises": {"broken": {"within_days": 3, "jump_to": ["pre"]}},
    }
    assert errors_of(data) == [
        ("promises.broken.jump_to[0]", "step 'pre' is not a collection step with a DPD band")
    ]


def test_files_syntax_and_missing(tmp_path: Path) -> None:
    assert "cannot read" in refused(load_policy(tmp_path / "nope.yaml")).reason
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: p\nsteps: [\n  {name: a\n")
    problem = refused(load_policy(bad))
    assert problem.record == str(bad) and problem.field.startswith("line ")
    assert "not valid YAML" in problem.reason


def _write(tmp_path: Path, name: str, policy_name: str) -> None:
    (tmp_path / name).write_text(yaml.safe_dump({**MINIMAL, "name": policy_name}))


def test_policy_set_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "a")
    _write(tmp_path, "b.yaml", "b")
    s = tmp_path / "set.yaml"
    s.write_text("policies:\n  - {file: a.yaml, share: 2500}\n  - {file: b.yaml, share: 7500}\n")
    got = succeeded(load_policy_set(s))
    assert got.total == 10000 and got.names == ("a", "b")
    s.write_text("policies:\n  - {file: a.yaml, share: 60}\n  - {file: b.yaml, share: 30}\n")
    problem = refused(load_policy_set(s))
    assert "sum to 90" in problem.reason and problem.field == "policies"
    s.write_text("policies:\n  - {file: a.yaml, share: 50}\n  - {file: a.yaml, share: 50}\n")
    problem = refused(load_policy_set(s))
    assert problem.field == "policies[1]" and "used twice" in problem.reason
    s.write_text("policies:\n  - {file: gone.yaml, share: 100}\n")
    assert refused(load_policy_set(s)).record.endswith("gone.yaml")
    s.write_text("policies:\n  - {file: a.yaml, share: 0}\n")
    assert refused(load_policy_set(s)).field == "policies[0].share"


def test_policy_set_shares_checked_in_code() -> None:
    p = succeeded(parse_policy(MINIMAL, "f"))
    assert succeeded(policy_set([(p, 100)])).total == 100
    assert refused(policy_set([(p, 99)])).field == "policies"
    assert refused(policy_set([])).field == "policies"


def test_a_message_step_must_name_a_known_template() -> None:
    data = {
        "name": "p",
        "steps": [
            {"name": "sms", "channel": "sms", "template": "nope", "at": "10:00", "dpd_from": 1},
            # Calls and visits carry a script name, which the channels do not render.
            {
                "name": "call",
                "channel": "call",
                "template": "any_script",
                "at": "14:00",
                "dpd_from": 4,
            },
        ],
    }
    errs = errors_of(data)
    assert [p for p, _ in errs] == ["steps[0].template"]
    assert "sms_overdue" in errs[0][1]  # the error lists the templates there are


def test_due_horizon_is_the_farthest_reminder_of_any_member() -> None:
    gentle = parse_policy(
        {
            **MINIMAL,
            "name": "gentle",
            "steps": [
                *MINIMAL["steps"],  # type: ignore[list-item]
                {
                    "name": "pre",
                    "channel": "sms",
                    "template": "reminder_before_due",
                    "at": "10:00",
                    "before_due": [5, 2],
                },
            ],
        },
        "g.yaml",
    )
    plain = succeeded(parse_policy(MINIMAL, "p.yaml"))
    gentle = succeeded(gentle)
    assert single(plain).due_horizon == -1  # no step reminds before a due date
    both = succeeded(policy_set([(plain, 50), (gentle, 50)]))
    assert both.due_horizon == 5
    shipped = succeeded(load_policy_set(bundled_policy_path("default")))
    assert shipped.due_horizon == 3  # D-3 and D-1
