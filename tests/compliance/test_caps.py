"""Call caps.

CN (GB/T 45251-2025 / NIFA 2024 / CBA 2026, REFERENCES.md): at most 3 effective (connected)
voice conversations with one debtor per day across the lender and all its agencies; at most
6 unanswered dial attempts per day to the same number.

US Regulation F §1006.14(b)(2)(i): presumed violation to call a person about a particular debt
(A) more than 7 times within 7 consecutive days, or (B) within 7 days after a telephone
conversation with them about that debt, the conversation's day being day 1.
§1006.14(b)(3): calls within 7 days of direct prior consent, and calls that do not connect,
are not counted. A conversation about several debts counts for each (CFPB FAQ Q6).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from .helpers import (
    DEBTOR_PHONE,
    LOS_ANGELES,
    NEW_YORK,
    SHANGHAI,
    at,
    call,
    context,
    decide,
    missed,
    rule_ids,
    talked,
    warning_ids,
)

# ---------- China: 3 conversations per debtor per day ----------


@pytest.mark.parametrize(("held", "allowed"), [(0, True), (2, True), (3, False), (4, False)])
def test_cn_conversation_cap(held: int, allowed: bool) -> None:
    history = tuple(talked(at(f"2026-03-02 {9 + i:02d}:00")) for i in range(held))
    decision = decide("cn", call(at("2026-03-02 20:00")), history)
    assert ("cn.daily-conversations" not in rule_ids(decision)) is allowed


def test_cn_conversations_count_across_lender_agencies_and_numbers() -> None:
    # One by the lender on the mobile, two by agencies on other debtor numbers and debts.
    history = (
        talked(at("2026-03-02 09:00"), collectors=("lender-01",)),
        talked(at("2026-03-02 10:00"), number="+8613911111111", collectors=("agency-a-07",)),
        talked(at("2026-03-02 11:00"), debt_id="L2", collectors=("agency-b-02",)),
    )
    decision = decide("cn", call(at("2026-03-02 15:00"), number="+8601088888888"), history)
    assert "cn.daily-conversations" in rule_ids(decision)


def test_cn_conversation_cap_resets_at_local_midnight() -> None:
    history = tuple(talked(at(f"2026-03-02 {h:02d}:00")) for h in (9, 10, 11))
    assert decide("cn", call(at("2026-03-03 08:00")), history).allowed
    # Local midnight, not UTC midnight: 2026-03-03 07:59 Shanghai is still 2026-03-02 UTC.
    assert "cn.daily-conversations" not in rule_ids(
        decide("cn", call(at("2026-03-03 07:59")), history, context(consent_late_hours=True))
    )


def test_cn_unanswered_calls_and_emergency_contacts_do_not_use_up_the_conversation_cap() -> None:
    history = (
        *(talked(at(f"2026-03-02 {h:02d}:00")) for h in (9, 10)),
        missed(at("2026-03-02 11:00")),
        talked(at("2026-03-02 12:00"), party="emergency_contact", number="+8613700000000"),
    )
    assert "cn.daily-conversations" not in rule_ids(
        decide("cn", call(at("2026-03-02 15:00")), history)
    )


# ---------- China: 6 unanswered attempts per number per day ----------


@pytest.mark.parametrize(("attempts", "allowed"), [(5, True), (6, False)])
def test_cn_unanswered_per_number(attempts: int, allowed: bool) -> None:
    # Busy/failed (not connected) and rang-out (connected, unanswered) both count as unanswered.
    history = tuple(
        call(at("2026-03-02 09:00") + timedelta(minutes=30 * i), connected=i % 2 == 0)
        for i in range(attempts)
    )
    decision = decide("cn", call(at("2026-03-02 18:00")), history)
    assert ("cn.unanswered-per-number" not in rule_ids(decision)) is allowed


def test_cn_unanswered_cap_is_per_number() -> None:
    history = tuple(missed(at("2026-03-02 09:00") + timedelta(minutes=20 * i)) for i in range(6))
    other = call(at("2026-03-02 18:00"), number="+8613922222222")
    assert "cn.unanswered-per-number" not in rule_ids(decide("cn", other, history))
    tomorrow = call(at("2026-03-03 09:00"))
    assert "cn.unanswered-per-number" not in rule_ids(decide("cn", tomorrow, history))


# ---------- US: 7 calls in 7 days per debt ----------


def ny(text: str):  # type: ignore[no-untyped-def]
    return at(text, NEW_YORK)


US = context(NEW_YORK)


@pytest.mark.parametrize(("placed", "allowed"), [(6, True), (7, False)])
def test_us_seven_in_seven(placed: int, allowed: bool) -> None:
    # §1006.14(b)(2)(i)(A): the eighth call within seven consecutive days is presumed a violation.
    history = tuple(missed(ny(f"2026-06-0{1 + i} 10:00")) for i in range(placed))
    decision = decide("us-reg-f", call(ny("2026-06-07 15:00")), history, US)
    assert ("us.calls-7-in-7" not in rule_ids(decision)) is allowed


@pytest.mark.parametrize(
    ("proposed_day", "allowed"),
    # Seven calls on Mon 1 June: the window of 7 days from 1 June ends Sun 7 June.
    [("2026-06-07", False), ("2026-06-08", True)],
)
def test_us_seven_in_seven_window_slides(proposed_day: str, allowed: bool) -> None:
    history = tuple(missed(ny(f"2026-06-01 {9 + i:02d}:00")) for i in range(7))
    decision = decide("us-reg-f", call(ny(f"{proposed_day} 10:00")), history, US)
    assert ("us.calls-7-in-7" not in rule_ids(decision)) is allowed


def test_us_seven_in_seven_is_per_debt() -> None:
    history = tuple(missed(ny(f"2026-06-0{1 + i} 10:00")) for i in range(7))
    other_debt = call(ny("2026-06-07 15:00"), debt_id="L2")
    assert decide("us-reg-f", other_debt, history, US).allowed


def test_us_calls_that_do_not_connect_are_not_counted() -> None:
    # §1006.14(b)(3)(ii): a call that does not connect to the dialled number (busy, failed).
    history = tuple(call(ny(f"2026-06-0{1 + i} 10:00"), connected=False) for i in range(7))
    assert "us.calls-7-in-7" not in rule_ids(
        decide("us-reg-f", call(ny("2026-06-07 15:00")), history, US)
    )


def test_us_calls_within_consent_are_not_counted() -> None:
    # §1006.14(b)(3)(i): calls within 7 days of the person's direct prior consent.
    consent = ny("2026-06-08 00:00")
    history = tuple(missed(ny(f"2026-06-0{1 + i} 10:00"), consent_until=consent) for i in range(7))
    assert "us.calls-7-in-7" not in rule_ids(
        decide("us-reg-f", call(ny("2026-06-07 15:00")), history, US)
    )
    # Calls after the consent ran out are counted again.
    lapsed = tuple(
        missed(ny(f"2026-06-0{1 + i} 10:00"), consent_until=ny("2026-05-31 00:00"))
        for i in range(7)
    )
    assert "us.calls-7-in-7" in rule_ids(
        decide("us-reg-f", call(ny("2026-06-07 15:00")), lapsed, US)
    )


def test_us_texts_and_emails_do_not_count() -> None:
    history = tuple(
        call(ny(f"2026-06-0{1 + i} 10:00"), channel="sms", content="Reply STOP to opt out")
        for i in range(7)
    )
    assert decide("us-reg-f", call(ny("2026-06-07 15:00")), history, US).allowed


def test_us_a_call_about_several_debts_counts_for_each() -> None:
    history = tuple(missed(ny(f"2026-06-0{1 + i} 10:00"), other_debt_ids=("L2",)) for i in range(7))
    assert "us.calls-7-in-7" in rule_ids(
        decide("us-reg-f", call(ny("2026-06-07 15:00"), debt_id="L2"), history, US)
    )


# ---------- US: the conversation limb ----------


@pytest.mark.parametrize(
    ("proposed", "allowed"),
    [
        # Official example (CFPB commentary to §1006.14(b)(2)(i)(B)): a conversation on
        # Monday, June 7 bars further calls about the debt through Sunday, June 13.
        ("2021-06-07 16:00", False),  # same day, after the conversation (day 1)
        ("2021-06-13 20:59", False),  # day 7
        ("2021-06-14 08:00", True),  # day 8
    ],
)
def test_us_no_call_within_seven_days_after_a_conversation(proposed: str, allowed: bool) -> None:
    history = (talked(ny("2021-06-07 10:00")),)
    decision = decide("us-reg-f", call(ny(proposed)), history, US)
    assert ("us.calls-after-conversation" not in rule_ids(decision)) is allowed


def test_us_conversation_about_several_debts_counts_for_each() -> None:
    # CFPB FAQ (call frequency presumptions Q6): a call about a medical debt where the
    # consumer also discusses a credit card debt is a conversation about both debts.
    history = (talked(ny("2026-06-01 10:00"), debt_id="MED", other_debt_ids=("CARD",)),)
    for debt in ("MED", "CARD"):
        later = call(ny("2026-06-03 10:00"), debt_id=debt)
        assert "us.calls-after-conversation" in rule_ids(decide("us-reg-f", later, history, US))
    unrelated = call(ny("2026-06-03 10:00"), debt_id="AUTO")
    assert decide("us-reg-f", unrelated, history, US).allowed


def test_us_conversation_with_someone_else_does_not_bar_calling_the_debtor() -> None:
    history = (talked(ny("2026-06-01 10:00"), party="third_party", number="+12125550100"),)
    assert decide("us-reg-f", call(ny("2026-06-02 10:00")), history, US).allowed


def test_us_consent_lifts_the_conversation_limb() -> None:
    history = (talked(ny("2026-06-01 10:00")),)
    consented = call(ny("2026-06-02 10:00"), consent_until=ny("2026-06-05 00:00"))
    assert decide("us-reg-f", consented, history, US).allowed


def test_us_days_are_counted_in_every_possible_zone() -> None:
    # A conversation at 01:00 on 2 June in New York is 22:00 on 1 June in Los Angeles, so
    # day 1 differs by zone. On 8 June the limb has ended in Los Angeles (day 8) but not in
    # New York (day 7); with both zones possible the call waits.
    history = (talked(ny("2026-06-02 01:00")),)
    proposed = call(ny("2026-06-08 12:00"))
    rule = "us.calls-after-conversation"
    assert rule not in rule_ids(decide("us-reg-f", proposed, history, context(LOS_ANGELES)))
    assert rule in rule_ids(decide("us-reg-f", proposed, history, context(NEW_YORK)))
    both = context(NEW_YORK, LOS_ANGELES)
    assert rule in rule_ids(decide("us-reg-f", proposed, history, both))


# ---------- US: warnings for calls in rapid succession ----------


@pytest.mark.parametrize(("gap", "warned"), [(4, True), (5, False)])
def test_us_rapid_succession_warns(gap: int, warned: bool) -> None:
    # CFPB FAQ "rebutting presumptions" Q1: two unanswered calls to the same number within
    # five minutes is an example of calls in rapid succession.
    first = call(ny("2026-06-01 10:00"), connected=False)
    second = call(ny("2026-06-01 10:00") + timedelta(minutes=gap))
    decision = decide("us-reg-f", second, (first,), US)
    assert ("us.calls-rapid-succession" in warning_ids(decision)) is warned
    assert decision.allowed  # a warning alone does not block


@pytest.mark.parametrize(("placed", "warned"), [(5, False), (6, True)])
def test_us_concentrated_calls_warn(placed: int, warned: bool) -> None:
    # Same FAQ: seven calls to the same number within one day. Not-connected calls are not
    # counted by 7-in-7, so only this warning catches them.
    history = tuple(call(ny(f"2026-06-01 {9 + i:02d}:00"), connected=False) for i in range(placed))
    decision = decide("us-reg-f", call(ny("2026-06-01 18:00")), history, US)
    assert ("us.calls-concentrated" in warning_ids(decision)) is warned


def test_cn_pack_has_no_reg_f_limits() -> None:
    history = (talked(at("2026-03-02 09:00")),)
    assert decide("cn", call(at("2026-03-03 09:00")), history).allowed
    assert SHANGHAI and DEBTOR_PHONE  # shared helpers used above
