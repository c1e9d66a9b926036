"""Property: feeding the gate a stream of proposals, and appending each allowed one (with any
outcome) to the history, never produces a history that breaks a cap.

The checker below is written independently of the rule functions: it scans the whole final
history once per day and per window, in the single zone used here, from the rule texts
(CN: 3 conversations per debtor per day, 6 unanswered attempts per number per day;
Reg F §1006.14(b)(2): at most 7 counted calls per person per debt in any 7 consecutive days;
no call within 7 days after a conversation, the conversation's day being day 1).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.core.compliance import Contact, check
from arrears.core.compliance.packs import get_pack

from .helpers import context

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, 0, 0, tzinfo=ZONE)
NUMBERS = ("+861", "+862")
DEBTS = ("A", "B")

outcomes = st.sampled_from(["failed", "rang", "talked"])
proposal = st.tuples(
    st.integers(min_value=1, max_value=300),  # minutes after the previous proposal
    st.sampled_from(NUMBERS),
    st.sampled_from(DEBTS),
    st.booleans(),  # also about the other debt
    outcomes,
)


def made(at: datetime, number: str, debt: str, both: bool, outcome: str) -> Contact:
    other = tuple(d for d in DEBTS if d != debt) if both else ()
    return Contact(
        at=at,
        debt_id=debt,
        channel="call",
        party="debtor",
        number=number,
        connected=outcome != "failed",
        conversation=outcome == "talked",
        other_debt_ids=other,
    )


def run(pack: str, steps: list[tuple[int, str, str, bool, str]]) -> list[Contact]:
    found = get_pack(pack)
    assert found is not None
    ctx = context(ZONE, consent_late_hours=True)  # hours are not what this test is about
    history: list[Contact] = []
    at = START
    for gap, number, debt, both, outcome in steps:
        at += timedelta(minutes=gap)
        proposed = made(at, number, debt, both, "failed")
        if check(history, proposed, ctx, found).allowed:
            history.append(made(at, number, debt, both, outcome))
    return history


def cn_breaches(history: list[Contact]) -> list[str]:
    talks = Counter(c.at.astimezone(ZONE).date() for c in history if c.conversation)
    unanswered = Counter(
        (c.number, c.at.astimezone(ZONE).date()) for c in history if not c.conversation
    )
    return [f"{d}: {n} conversations" for d, n in talks.items() if n > 3] + [
        f"{k}: {n} unanswered" for k, n in unanswered.items() if n > 6
    ]


def us_breaches(history: list[Contact]) -> list[str]:
    breaches: list[str] = []
    for debt in DEBTS:
        about = [c for c in history if debt in c.debts]
        days = sorted({c.at.astimezone(ZONE).date() for c in about})
        for first in days:
            last = first + timedelta(days=6)
            placed = [
                c for c in about if c.connected and first <= c.at.astimezone(ZONE).date() <= last
            ]
            if len(placed) > 7:
                breaches.append(f"{debt}: {len(placed)} calls from {first}")
        for talk in (c for c in about if c.conversation):
            day1 = talk.at.astimezone(ZONE).date()
            for c in about:
                if (
                    c.connected
                    and c.at > talk.at
                    and (c.at.astimezone(ZONE).date() - day1).days < 7
                ):
                    breaches.append(f"{debt}: call {c.at} within 7 days of talk {talk.at}")
    return breaches


@settings(max_examples=150, deadline=None)
@given(st.lists(proposal, min_size=1, max_size=80))
def test_cn_caps_hold_for_any_sequence(steps: list[tuple[int, str, str, bool, str]]) -> None:
    assert cn_breaches(run("cn", steps)) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(proposal, min_size=1, max_size=80))
def test_reg_f_caps_hold_for_any_sequence(steps: list[tuple[int, str, str, bool, str]]) -> None:
    assert us_breaches(run("us-reg-f", steps)) == []


def test_the_checker_catches_breaches() -> None:
    # The independent checker must be able to fail, or the properties above prove nothing.
    four_talks = [
        made(START + timedelta(hours=h), "+861", "A", False, "talked") for h in (9, 10, 11, 12)
    ]
    assert cn_breaches(four_talks)
    seven_unanswered = [
        made(START + timedelta(hours=9, minutes=m), "+861", "A", False, "rang") for m in range(7)
    ]
    assert cn_breaches(seven_unanswered)
    eight_calls = [
        made(START + timedelta(days=d % 7, hours=9 + d), "+861", "A", False, "rang")
        for d in range(8)
    ]
    assert us_breaches(eight_calls)
    talk_then_call = [
        made(START + timedelta(hours=9), "+861", "B", True, "talked"),
        made(START + timedelta(days=6, hours=9), "+862", "A", False, "rang"),
    ]
    assert us_breaches(talk_then_call)
