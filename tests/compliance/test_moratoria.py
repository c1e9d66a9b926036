"""Moratoria and pauses the packs name, through the gate.

UK: The Debt Respite Scheme (Breathing Space Moratorium and Mental Health Crisis Moratorium)
(England and Wales) Regulations 2020: while a moratorium is in force the creditor must not
contact the debtor to ask for payment of a moratorium debt (regs. 7 and 11); a breathing space
lasts 60 days (reg. 26), a mental health crisis moratorium until 30 days after the crisis
treatment ends. US: Regulation F §1006.38: a written dispute or a request for the original
creditor within the validation period stops collection of the debt until verification is sent.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from arrears.core.compliance import parse_context
from arrears.core.compliance.model import Moratorium
from factories import refused, succeeded

from .helpers import LONDON, NEW_YORK, at, call, context, decide, rule_ids

START = date(2026, 3, 2)
STANDARD = Moratorium("breathing-space", START, START + timedelta(days=59))  # 60 days


def uk(when: str, **fields: object):  # type: ignore[no-untyped-def]
    return call(at(when, LONDON), **{"number": "+447700900000", **fields})


@pytest.mark.parametrize(
    ("when", "blocked"),
    [
        ("2026-03-01 12:00", False),  # the day before it starts
        ("2026-03-02 08:00", True),  # day 1
        ("2026-04-30 20:00", True),  # day 60
        ("2026-05-01 09:00", False),  # day 61: it has ended
    ],
)
def test_breathing_space_blocks_contact_for_its_sixty_days(when: str, blocked: bool) -> None:
    decision = decide("uk-conc", uk(when), ctx=context(LONDON, moratoria=(STANDARD,)))
    assert ("uk.pause.breathing-space" in rule_ids(decision)) is blocked


@pytest.mark.parametrize("channel", ["call", "sms", "email", "letter", "visit"])
@pytest.mark.parametrize("purpose", ["collection", "plan_reminder"])
def test_every_contact_asking_for_payment_is_blocked(channel: str, purpose: str) -> None:
    proposed = uk("2026-03-10 10:00", channel=channel, purpose=purpose)
    decision = decide("uk-conc", proposed, ctx=context(LONDON, moratoria=(STANDARD,)))
    assert "uk.pause.breathing-space" in rule_ids(decision)


def test_only_the_moratorium_debts_are_paused() -> None:
    scoped = Moratorium("breathing-space", START, None, frozenset({"L1"}))
    ctx = context(LONDON, moratoria=(scoped,))
    assert "uk.pause.breathing-space" in rule_ids(
        decide("uk-conc", uk("2026-03-10 10:00"), ctx=ctx)
    )
    other = uk("2026-03-10 10:00", debt_id="L2")
    assert decide("uk-conc", other, ctx=ctx).allowed
    # A call about both debts is about a moratorium debt.
    both = uk("2026-03-10 10:00", debt_id="L2", other_debt_ids=("L1",))
    assert "uk.pause.breathing-space" in rule_ids(decide("uk-conc", both, ctx=ctx))


def test_a_mental_health_crisis_moratorium_runs_until_it_is_ended() -> None:
    open_ended = Moratorium("mental-health-crisis", START)
    ctx = context(LONDON, moratoria=(open_ended,))
    a_year_on = uk("2027-03-01 10:00")
    assert "uk.pause.breathing-space" in rule_ids(decide("uk-conc", a_year_on, ctx=ctx))
    # Treatment ended on 2026-06-01: the moratorium ends 30 days later.
    ended = Moratorium("mental-health-crisis", START, date(2026, 6, 1) + timedelta(days=30))
    ctx = context(LONDON, moratoria=(ended,))
    assert not decide("uk-conc", uk("2026-07-01 10:00"), ctx=ctx).allowed
    assert decide("uk-conc", uk("2026-07-02 10:00"), ctx=ctx).allowed


def test_any_local_date_the_contact_falls_on_counts() -> None:
    # 09:00 in New York on 1 March is 14:00 in London on 1 March, but a contact late on the
    # evening before the start in New York is already the start day in London.
    late = call(at("2026-03-01 20:30", NEW_YORK), number="+447700900000")
    ctx = context(LONDON, NEW_YORK, moratoria=(STANDARD,), consent_late_hours=True)
    assert "uk.pause.breathing-space" in rule_ids(decide("uk-conc", late, ctx=ctx))


def test_data_actions_are_not_contacts() -> None:
    # The moratorium stops contact asking for payment; a purge of old records is not one.
    purge = uk("2026-03-10 10:00", channel=None, number="", purpose="purge", record_kind="record")
    decision = decide("uk-conc", purge, ctx=context(LONDON, moratoria=(STANDARD,)))
    assert "uk.pause.breathing-space" not in rule_ids(decision)


def test_us_verification_pending_pauses_collection_of_that_debt_only() -> None:
    ctx = context(NEW_YORK, verification_pending=frozenset({"L1"}))
    disputed = call(at("2026-03-10 10:00", NEW_YORK))
    assert "us.pause.verification" in rule_ids(decide("us-reg-f", disputed, ctx=ctx))
    other = call(at("2026-03-10 10:00", NEW_YORK), debt_id="L2")
    assert decide("us-reg-f", other, ctx=ctx).allowed
    assert decide("us-reg-f", disputed, ctx=context(NEW_YORK)).allowed


def test_moratoria_parse_from_json_and_bad_ones_name_the_field() -> None:
    parsed = parse_context(
        {
            "timezones": ["Europe/London"],
            "moratoria": [
                {"kind": "breathing-space", "starts_on": "2026-03-02", "ends_on": "2026-04-30"},
                {"kind": "mental-health-crisis", "starts_on": "2026-03-02", "debt_ids": ["L1"]},
            ],
            "verification_pending": ["L9"],
            "legal_action_on_record": True,
            "trade_bodies": ["CSA"],
        }
    )
    parsed = succeeded(parsed)
    assert parsed.moratoria == (
        STANDARD,
        Moratorium("mental-health-crisis", START, None, frozenset({"L1"})),
    )
    assert parsed.verification_pending == {"L9"} and parsed.legal_action_on_record
    for bad, field in [
        ({"kind": "holiday", "starts_on": "2026-03-02"}, "context.moratoria[0].kind"),
        ({"kind": "breathing-space"}, "context.moratoria[0].starts_on"),
        (
            {"kind": "breathing-space", "starts_on": "2026-03-02", "ends_on": "2026-03-01"},
            "context.moratoria[0].ends_on",
        ),
        (
            {"kind": "breathing-space", "starts_on": "2026-03-02", "until": "x"},
            "context.moratoria[0].until",
        ),
    ]:
        error = parse_context({"timezones": ["Europe/London"], "moratoria": [bad]})
        assert refused(error).field == field, (bad, error)
