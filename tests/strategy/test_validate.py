"""The validator, against the packs' published limits: CN contact hours 08:00-22:00,
Reg F and CONC 08:00-21:00 (day_end is the first blocked minute), Reg F's 7 calls in 7 days
(12 CFR 1006.14(b)(2)(i)), third parties only when the debtor is unreachable, visits only
with approval on record."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from arrears.core.compliance.packs import PACKS
from arrears.core.strategy import validate
from arrears.core.strategy.load import PolicySet
from arrears.services.policy_files import (
    bundled_policy_path,
    check_policy_files,
    default_policy_set,
    load_policy_set,
)
from factories import succeeded

from .helpers import one, step


def codes(ps: PolicySet, pack: str) -> list[tuple[str | None, str]]:
    return [(w.step, w.code) for w in validate(ps, PACKS[pack])]


@pytest.mark.parametrize("pack", sorted(PACKS))
def test_shipped_policies_under_every_pack(pack: str) -> None:
    """Clean, except that Reg F's once-per-third-party rule (§1006.10) stops repeats of the
    weekly emergency-contact text: the first goes, the gate blocks the rest."""
    split = succeeded(load_policy_set(bundled_policy_path("split")))
    expected = [("sms_emergency_contact", "third_party_once")] * 2 if pack == "us-reg-f" else []
    assert codes(split, pack) == expected
    assert codes(default_policy_set(), pack) == expected[:1]


def test_third_party_once_only_warns_for_repeating_steps() -> None:
    once = step(
        "ec",
        party="emergency_contact",
        unreachable_days_at_least=5,
        dpd_from=20,
        dpd_to=26,
        cadence_days=7,
    )
    twice = step(
        "ec",
        party="emergency_contact",
        unreachable_days_at_least=5,
        dpd_from=20,
        dpd_to=27,
        cadence_days=7,
    )
    assert codes(one(once), "us-reg-f") == []
    assert codes(one(twice), "us-reg-f") == [("ec", "third_party_once")]
    assert codes(one(twice), "cn") == [] and codes(one(twice), "uk-conc") == []


@pytest.mark.parametrize(
    ("pack", "at", "warned"),
    [
        ("cn", time(22, 30), True),  # the brief's example
        ("cn", time(22, 0), True),  # the first blocked minute
        ("cn", time(21, 59), False),  # the last allowed minute
        ("cn", time(8, 0), False),
        ("cn", time(7, 59), True),
        ("us-reg-f", time(21, 0), True),
        ("us-reg-f", time(20, 59), False),
        ("uk-conc", time(21, 0), True),
        ("uk-conc", time(7, 59), True),
        ("uk-conc", time(8, 0), False),
    ],
)
def test_contact_hours(pack: str, at: time, warned: bool) -> None:
    ps = one(step("late_call", channel="call", at=at))
    assert (("late_call", "hours") in codes(ps, pack)) is warned


@pytest.mark.parametrize(
    ("pack", "at", "warned"),
    [("cn", time(21, 30), False), ("uk-conc", time(21, 30), True), ("us-reg-f", time(8, 0), False)],
)
def test_visit_hours(pack: str, at: time, warned: bool) -> None:
    ps = one(step("v", channel="visit", requires_approval=True, at=at))
    assert (("v", "visit_hours") in codes(ps, pack)) is warned


@pytest.mark.parametrize(("cadence", "warned"), [(1, False), (2, False)])
def test_daily_calls_fit_seven_in_seven(cadence: int, warned: bool) -> None:
    ps = one(step("c", channel="call", cadence_days=cadence))
    assert (("c", "call_cap") in codes(ps, "us-reg-f")) is warned


def test_overlapping_call_steps_break_seven_in_seven() -> None:
    ps = one(
        step("c1", channel="call", dpd_from=1, cadence_days=1),
        step("c2", channel="call", dpd_from=10, dpd_to=20, cadence_days=2),
        step("c3", channel="call", dpd_from=30, cadence_days=7),
    )
    got = validate(ps, PACKS["us-reg-f"])
    # c1 and c2 overlap at DPD 10-20: 7 + 4 calls in 7 days (c1 and c3 at 30+: 7 + 1).
    assert [(w.step, w.code) for w in got] == [(None, "call_cap")]
    assert "c1, c2 all run at DPD 10" in got[0].message
    assert "11 calls in 7 days" in got[0].message
    # CN and UK have no per-window call cap in their limits.
    assert codes(ps, "cn") == [] and codes(ps, "uk-conc") == []


def test_disjoint_call_steps_do_not_add_up() -> None:
    ps = one(
        step("c1", channel="call", dpd_from=1, dpd_to=3, cadence_days=1),
        step("c2", channel="call", dpd_from=4, cadence_days=1),
    )
    assert codes(ps, "us-reg-f") == []


def test_emergency_contact_needs_unreachable_condition_and_visit_needs_approval() -> None:
    ps = one(
        step("ec", party="emergency_contact"),
        step("ec_ok", party="emergency_contact", unreachable_days_at_least=7),
        step("v", channel="visit"),
    )
    for pack in ("cn", "uk-conc"):
        assert codes(ps, pack) == [("ec", "emergency_unreachable"), ("v", "visit_approval")]
    assert codes(ps, "us-reg-f") == [
        ("ec", "emergency_unreachable"),
        ("ec", "third_party_once"),
        ("ec_ok", "third_party_once"),
        ("v", "visit_approval"),
    ]


def test_checking_files_reports_each_file_by_its_errors_or_its_warnings(tmp_path: Path) -> None:
    """The service behind `policy validate`: a file that does not parse gives its problems and
    no report; one that parses gives its members and the warnings of the packs it answers to
    (its own rule_pack, else every pack, or the one asked for)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: p\nsteps: [\n")
    split = bundled_policy_path("split")
    checked = check_policy_files([split, bad])
    assert not checked.valid
    assert [e.record for e in checked.errors] == [str(bad)]
    (report,) = checked.files
    assert report.file == str(split) and report.policies.names == ("default", "gentle")
    # The shipped policies name no rule pack, so every pack is asked: only Reg F warns.
    assert {pack for pack, _ in report.warnings} == {"us-reg-f"}
    assert [w.code for _, w in report.warnings] == ["third_party_once"] * 2
    assert check_policy_files([split], "cn").files[0].warnings == ()
    as_json = checked.as_dict()
    assert as_json["valid"] is False and as_json["errors"][0]["file"] == str(bad)
    assert as_json["files"][0]["policies"] == [
        {"name": "default", "share": 90, "of": 100},
        {"name": "gentle", "share": 10, "of": 100},
    ]
