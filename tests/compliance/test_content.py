"""Content screening in zh-CN and en, from the prohibited conduct in REFERENCES.md:
CN: impersonating courts/police/government; violence, threats, insults; invented blacklists;
extra fees; pushing the debtor to borrow to repay; public notices / spreading private data.
UK: CONC 7.3.10 (borrow to pay), 7.9 (publicly embarrassing), 7.11 (misrepresented authority).
US: FDCPA §806-808 and Reg F §1006.14/18/22; §1006.6(e) opt-out wording on texts and emails.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.core.compliance.rules.content import CATEGORIES, digit_blind, find, matching_categories

from .helpers import LONDON, NEW_YORK, SHANGHAI, at, call, context, decide, rule_ids

ZONE = {"cn": SHANGHAI, "us-reg-f": NEW_YORK, "uk-conc": LONDON}
PREFIX = {"cn": "cn", "us-reg-f": "us", "uk-conc": "uk"}

BAD = [
    ("impersonation", "我们是法院的，请立即还款。"),
    ("impersonation", "公安局通知：你涉嫌诈骗。"),
    ("impersonation", "This is Officer Brown calling from the police department."),
    ("impersonation", "You will receive a court summons tomorrow."),
    ("threats", "再不还钱就让你坐牢。"),
    ("threats", "Pay today or you will be arrested."),
    ("insults", "你这个老赖。"),
    ("insults", "Pay up, you deadbeat."),
    ("blacklist", "不还款将把你列入黑名单。"),
    ("blacklist", "You will be blacklisted by every bank."),
    ("borrow_to_repay", "可以找朋友借钱还上。"),
    ("borrow_to_repay", "You could borrow from your family to pay this."),
    ("public_exposure", "我们会把你的欠款发给你的通讯录好友并在网上曝光。"),
    ("public_exposure", "We will tell your employer about this."),
    ("extra_fees", "需另付上门费 200 元。"),
    ("extra_fees", "A collection fee of 50 will be added."),
]

CLEAN = [
    "您好，您的账单已逾期 3 天，请于今日还款。如有困难可申请分期。",
    "我们将依法处理。如有疑问请致电客服。",
    "Your payment is 3 days late. If you are struggling, free debt advice is available.",
    "Please call us to discuss an affordable plan. Reply STOP to opt out.",
]

# Categories each pack screens; a category absent from a pack has no source there.
SCREENED = {
    "cn": {
        "impersonation",
        "threats",
        "insults",
        "blacklist",
        "borrow_to_repay",
        "public_exposure",
        "extra_fees",
    },
    "us-reg-f": {
        "impersonation",
        "threats",
        "insults",
        "blacklist",
        "public_exposure",
        "extra_fees",
    },
    "uk-conc": {
        "impersonation",
        "threats",
        "insults",
        "blacklist",
        "borrow_to_repay",
        "public_exposure",
        "extra_fees",
    },
}


def sms(pack: str, text: str):  # type: ignore[no-untyped-def]
    return call(at("2026-03-02 10:00", ZONE[pack]), channel="letter", content=text)


@pytest.mark.parametrize(
    ("pack", "category", "text"),
    [(pack, c, t) for pack in SCREENED for c, t in BAD if c in SCREENED[pack]],
)
def test_prohibited_content_is_blocked(pack: str, category: str, text: str) -> None:
    rule = f"{PREFIX[pack]}.content.{category.replace('_', '-')}"
    decision = decide(pack, sms(pack, text), ctx=context(ZONE[pack]))
    assert rule in rule_ids(decision)
    assert not decision.allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_collection_content_passes(pack: str, text: str) -> None:
    assert decide(pack, sms(pack, text), ctx=context(ZONE[pack])).allowed


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize(
    ("text", "has_opt_out"),
    [
        ("Your payment is due. Reply STOP to opt out of texts.", True),
        ("Your payment is due. To unsubscribe from these emails click here.", True),
        ("Your payment is due. You can opt-out at any time.", True),
        ("您的账单已到期。回复T退订", True),
        ("Your payment is due.", False),
        ("Stop by our office.", False),
    ],
)
def test_us_texts_and_emails_say_how_to_opt_out(channel: str, text: str, has_opt_out: bool) -> None:
    # §1006.6(e): every electronic communication includes a reasonable, simple opt-out method.
    proposed = call(at("2026-03-02 10:00", NEW_YORK), channel=channel, content=text)
    decision = decide("us-reg-f", proposed, ctx=context(NEW_YORK))
    assert ("us.opt-out-notice" not in rule_ids(decision)) is has_opt_out


def test_us_pack_has_no_borrow_to_repay_rule() -> None:
    # REFERENCES.md gives no US source for it; the rule list must not pretend otherwise.
    text = "You could borrow from your family to pay this."
    assert decide("us-reg-f", sms("us-reg-f", text), ctx=context(NEW_YORK)).allowed


def test_opt_out_wording_is_a_us_rule_only() -> None:
    proposed = call(at("2026-03-02 10:00"), channel="sms", content="您的账单已到期。")
    assert decide("cn", proposed).allowed


@pytest.mark.parametrize(
    ("pattern", "blind"),
    [
        (r"\d[\d,.]*\s*(元|块)", True),
        (r"[0-9a-z]+", True),
        (r"\b(court|police)\b.{0,30}", True),
        (r"1\d", False),  # a digit literal
        (r"[0-5]", False),  # part of the digits
        (r"[^5]", False),
        (r"(a)\1", False),  # a backreference compares the very characters
        (r"(?=7)x", False),
        (r"(?:x|3)", False),
    ],
)
def test_digit_blind_patterns_are_recognised(pattern: str, blind: bool) -> None:
    assert digit_blind(re.compile(pattern)) is blind


_FRAGMENTS = [text for _, text in BAD] + [
    "逾期15天，本金¥1,234.56",
    "you owe ¥1,234.56",
    "3 police officers",
    "call 110",
    "Reply STOP to opt out",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=12), max_size=5).map(" ".join),
    st.sampled_from(sorted(CATEGORIES)),
)
def test_screening_by_shape_finds_what_the_patterns_find(text: str, category: str) -> None:
    # The patterns one by one over the text itself are the reference.
    assert (category in matching_categories(text)) == bool(find(category, text))
