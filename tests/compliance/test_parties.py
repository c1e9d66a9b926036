"""Third parties and emergency contacts.

CN (REFERENCES.md): collect only from the debtor; third parties only when the debtor cannot be
reached, only to ask for contact details or pass on a message, never disclosing the debt;
stop when a contact refuses further contact.
US §1006.10: a location call never says a debt is owed; once per person unless asked.
UK CONC 7.9: third parties must not become aware of the debt.
"""

from __future__ import annotations

import pytest

from arrears.core.compliance.model import CALLBACK_REQUESTED, REFUSED

from .helpers import LONDON, NEW_YORK, SHANGHAI, at, call, context, decide, rule_ids

ZONE = {"cn": SHANGHAI, "us-reg-f": NEW_YORK, "uk-conc": LONDON}
PREFIX = {"cn": "cn", "us-reg-f": "us", "uk-conc": "uk"}
EMERGENCY = "+8613700000000"


def to_contact(pack: str, content: str = "", **fields: object):  # type: ignore[no-untyped-def]
    base: dict[str, object] = {"party": "emergency_contact", "number": EMERGENCY}
    when = fields.pop("when", "2026-03-02 10:00")
    return call(at(str(when), ZONE[pack]), content=content, **{**base, **fields})


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize("party", ["emergency_contact", "third_party"])
def test_third_parties_only_when_the_debtor_is_unreachable(pack: str, party: str) -> None:
    rule = f"{PREFIX[pack]}.third-party.unreachable"
    proposed = to_contact(pack, party=party)
    assert rule in rule_ids(decide(pack, proposed, ctx=context(ZONE[pack], reachable=True)))
    assert decide(pack, proposed, ctx=context(ZONE[pack], reachable=False)).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize(
    ("content", "discloses"),
    [
        ("您好，麻烦请张三回电 400-800-1234，谢谢。", False),
        ("Hello, please ask Li Wei to call Anna on 0207 946 0000.", False),
        ("张三欠款未还，请转告他尽快还款。", True),
        ("张三逾期了，金额 5000元。", True),
        ("Tell Li Wei his loan is overdue.", True),
        ("Li Wei owes us money.", True),
        ("Please ask him to call about the balance of $450.", True),
    ],
)
def test_no_debt_disclosure_to_third_parties(pack: str, content: str, discloses: bool) -> None:
    ctx = context(ZONE[pack], reachable=False)
    decision = decide(pack, to_contact(pack, content), ctx=ctx)
    assert (f"{PREFIX[pack]}.third-party.no-disclosure" in rule_ids(decision)) is discloses


def test_the_debtor_may_be_told_about_their_own_debt() -> None:
    assert decide(
        "cn", call(at("2026-03-02 10:00"), content="您的借款已逾期，金额 5000元。")
    ).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_stop_when_a_contact_refuses(pack: str) -> None:
    rule = f"{PREFIX[pack]}.third-party.refusal"
    ctx = context(ZONE[pack], reachable=False)
    refused = (
        to_contact(
            pack, when="2026-02-01 10:00", connected=True, conversation=True, outcome=REFUSED
        ),
    )
    later = to_contact(pack)
    assert rule in rule_ids(decide(pack, later, refused, ctx))
    on_record = context(ZONE[pack], reachable=False, refused=frozenset({EMERGENCY}))
    assert rule in rule_ids(decide(pack, later, (), on_record))
    # Someone else may still be asked.
    assert rule not in rule_ids(
        decide(pack, to_contact(pack, number="+8613600000000"), refused, ctx)
    )


def test_us_location_call_once_per_person() -> None:
    # §1006.10: once per person unless that person asks to be contacted again.
    ctx = context(NEW_YORK, reachable=False)
    first = to_contact(
        "us-reg-f",
        when="2026-02-01 10:00",
        purpose="location",
        connected=True,
        conversation=True,
    )
    again = to_contact("us-reg-f", purpose="location")
    assert decide("us-reg-f", again, (), ctx).allowed
    assert "us.third-party.once" in rule_ids(decide("us-reg-f", again, (first,), ctx))
    asked = to_contact(
        "us-reg-f",
        when="2026-02-01 10:00",
        purpose="location",
        connected=True,
        conversation=True,
        outcome=CALLBACK_REQUESTED,
    )
    assert decide("us-reg-f", again, (asked,), ctx).allowed
    other_person = to_contact("us-reg-f", purpose="location", number="+12125550199")
    assert decide("us-reg-f", other_person, (first,), ctx).allowed
