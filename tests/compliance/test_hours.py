"""Contact hours in the borrower's local time, on both sides of every limit.

CN: "no collection contact 22:00-08:00 (borrower's local time) without the borrower's consent"
(GB/T 45251-2025 / NIFA 2024 / CBA 2026, REFERENCES.md).
US: §1006.6(b)(1)(i) "before 8:00 a.m. and after 9:00 p.m." at the consumer's location;
this project blocks 21:00 itself (docs/compliance.md). Where locations conflict, only hours
convenient in all of them.
UK: CONC 7.9 "reasonable times"; the pack's reading is 08:00-21:00.
"""

from __future__ import annotations

import pytest

from .helpers import (
    LONDON,
    LOS_ANGELES,
    NEW_YORK,
    SHANGHAI,
    at,
    call,
    context,
    decide,
    rule_ids,
)

HOURS_RULE = {"cn": "cn.hours", "us-reg-f": "us.hours", "uk-conc": "uk.hours"}
ZONE = {"cn": SHANGHAI, "us-reg-f": NEW_YORK, "uk-conc": LONDON}


@pytest.mark.parametrize(
    ("pack", "clock", "allowed"),
    [
        ("cn", "07:59", False),
        ("cn", "08:00", True),
        ("cn", "21:59", True),
        ("cn", "22:00", False),
        ("cn", "23:30", False),
        ("cn", "03:00", False),
        ("us-reg-f", "07:59", False),
        ("us-reg-f", "08:00", True),
        ("us-reg-f", "20:59", True),
        ("us-reg-f", "21:00", False),
        ("uk-conc", "07:59", False),
        ("uk-conc", "08:00", True),
        ("uk-conc", "20:59", True),
        ("uk-conc", "21:00", False),
    ],
)
@pytest.mark.parametrize("channel", ["call", "sms", "email"])
def test_contact_hours_both_sides(pack: str, clock: str, allowed: bool, channel: str) -> None:
    zone = ZONE[pack]
    content = "Reply STOP to opt out." if channel != "call" else ""
    proposed = call(at(f"2026-03-02 {clock}", zone), channel=channel, content=content)
    decision = decide(pack, proposed, ctx=context(zone))
    assert (HOURS_RULE[pack] not in rule_ids(decision)) is allowed


def test_hours_are_the_borrowers_not_the_senders() -> None:
    # 21:30 in Shanghai is 13:30 in London: a UK borrower may be called, a CN one may not.
    proposed = call(at("2026-03-02 21:30", SHANGHAI))
    assert decide("uk-conc", proposed, ctx=context(LONDON)).allowed
    assert "cn.hours" not in rule_ids(decide("cn", proposed, ctx=context(SHANGHAI)))
    assert "cn.hours" in rule_ids(decide("cn", call(at("2026-03-02 22:30")), ctx=context()))


@pytest.mark.parametrize(
    ("ny_clock", "allowed"),
    [
        # §1006.6(b)(1)(i): a consumer who may be in New York or Los Angeles can be reached
        # only when it is 08:00-21:00 in both: 11:00-21:00 New York time.
        ("10:59", False),  # 07:59 in Los Angeles
        ("11:00", True),  # 08:00 in Los Angeles
        ("20:59", True),
        ("21:00", False),
    ],
)
def test_conflicting_locations_need_all_zones(ny_clock: str, allowed: bool) -> None:
    proposed = call(at(f"2026-03-02 {ny_clock}", NEW_YORK))
    decision = decide("us-reg-f", proposed, ctx=context(NEW_YORK, LOS_ANGELES))
    assert ("us.hours" not in rule_ids(decision)) is allowed


def test_daylight_saving_is_honoured() -> None:
    # 12:30 UTC is 07:30 in New York in winter (EST) but 08:30 in summer (EDT).
    winter = call(at("2026-01-15 07:30", NEW_YORK))
    summer = call(at("2026-07-15 08:30", NEW_YORK))
    assert winter.at.utcoffset() != summer.at.utcoffset()
    assert "us.hours" in rule_ids(decide("us-reg-f", winter, ctx=context(NEW_YORK)))
    assert "us.hours" not in rule_ids(decide("us-reg-f", summer, ctx=context(NEW_YORK)))


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_consent_to_late_contact_lifts_the_hours(pack: str) -> None:
    zone = ZONE[pack]
    late = call(at("2026-03-02 22:30", zone))
    assert HOURS_RULE[pack] in rule_ids(decide(pack, late, ctx=context(zone)))
    consented = context(zone, consent_late_hours=True)
    assert HOURS_RULE[pack] not in rule_ids(decide(pack, late, ctx=consented))


def test_letters_are_not_timed() -> None:
    letter = call(at("2026-03-02 23:00"), channel="letter")
    assert decide("cn", letter).allowed


@pytest.mark.parametrize(
    ("clock", "allowed"),
    # UK CONC 7.9: due regard to reasonable requests, e.g. "no calls before noon".
    [("11:59", False), ("12:00", True), ("18:00", True), ("18:01", False)],
)
def test_uk_no_calls_before_noon(clock: str, allowed: bool) -> None:
    ctx = context(
        LONDON,
        prefs={
            "not_before": at("2026-01-01 12:00").time(),
            "not_after": at("2026-01-01 18:00").time(),
        },
    )
    decision = decide("uk-conc", call(at(f"2026-03-02 {clock}", LONDON)), ctx=ctx)
    assert decision.allowed is allowed
    assert ("uk.preferences" not in rule_ids(decision)) is allowed


def test_preferences_apply_to_the_named_channels_only() -> None:
    ctx = context(LONDON, prefs={"not_before": at("2026-01-01 12:00").time()})
    # Default preference channels are call and visit; a letter at 09:00 is fine.
    assert decide(
        "uk-conc", call(at("2026-03-02 09:00", LONDON), channel="letter"), ctx=ctx
    ).allowed


@pytest.mark.parametrize(
    ("pack", "rule"),
    [("us-reg-f", "us.channel-opt-out"), ("uk-conc", "uk.channel-opt-out")],
)
def test_channel_opt_out_is_honoured(pack: str, rule: str) -> None:
    # §1006.14(h); CONC 7.9 "how they may be contacted".
    zone = ZONE[pack]
    ctx = context(zone, prefs={"opt_out": frozenset({"sms"})})
    sms = call(at("2026-03-02 10:00", zone), channel="sms", content="Reply STOP to opt out")
    assert rule in rule_ids(decide(pack, sms, ctx=ctx))
    assert decide(pack, call(at("2026-03-02 10:00", zone)), ctx=ctx).allowed


@pytest.mark.parametrize(
    ("pack", "clock", "allowed"),
    [
        ("cn", "07:59", False),
        ("cn", "08:00", True),
        ("cn", "21:59", True),
        ("cn", "22:00", False),
        ("us-reg-f", "20:59", True),
        ("us-reg-f", "21:00", False),
    ],
)
def test_visit_hours_ignore_late_consent(pack: str, clock: str, allowed: bool) -> None:
    zone = ZONE[pack]
    visit = call(at(f"2026-03-02 {clock}", zone), channel="visit", number="home")
    decision = decide(pack, visit, ctx=context(zone, consent_late_hours=True))
    prefix = pack.split("-")[0]
    assert (f"{prefix}.visit.hours" not in rule_ids(decision)) is allowed
