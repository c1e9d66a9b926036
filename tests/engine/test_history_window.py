"""The gate's history: a week of the debtor's contacts, every contact with a third party.

Regulation F §1006.10(b)(2): a location contact with a third party once, unless they ask to be
contacted again. A history trimmed to a week would let a second text through nine days later.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from arrears.core.compliance import Contact, Context, check
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.messages import OutboundMessage
from arrears.services import outbox
from arrears.services.collection.history import Attempt, history_for, record_attempts

T0 = datetime(2026, 1, 30, 15, 0, tzinfo=UTC)


def attempt(key: str, at: datetime, party: str, number: str) -> Attempt:
    c = Contact(at=at, debt_id="L1", channel="sms", party=party, number=number)  # type: ignore[arg-type]
    return Attempt(key, "B1", c, at.date())


def test_old_third_party_contacts_stay_in_the_history(engine: Engine) -> None:
    with engine.begin() as conn:
        record_attempts(
            conn,
            [
                attempt("a", T0, "emergency_contact", "+86 100 0000 0009"),
                attempt("b", T0, "debtor", "+86 100 0000 0001"),
                attempt("c", T0 + timedelta(days=8), "debtor", "+86 100 0000 0001"),
            ],
        )
    later = T0 + timedelta(days=9)
    with engine.connect() as conn:
        history = history_for(conn, ["B1"], since=later - timedelta(days=8))["B1"]
    assert [(c.party, c.at) for c in history] == [
        ("emergency_contact", T0),  # nine days old, kept: it is a third party
        ("debtor", T0 + timedelta(days=8)),  # the debtor's week
    ]
    us = get_pack("us-reg-f")
    assert us is not None
    again = Contact(
        at=later,
        debt_id="L1",
        channel="sms",
        party="emergency_contact",
        number="+86 100 0000 0009",
        content="Please ask Sam to call us. Reply STOP to opt out.",
    )
    ctx = Context(timezones=(ZoneInfo("America/New_York"),), reachable=False)
    decision = check(history, again, ctx, us)
    assert [v.rule for v in decision.violations] == ["us.third-party.once"]


def _queued_text(key: str, not_before: datetime, expires_at: datetime) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        borrower_id="B1",
        loan_id="L1",
        channel="sms",
        party="emergency_contact",
        recipient="+86 100 0000 0009",
        template="third_party_locate",
        language="en",
        subject="",
        body="Please ask Sam to call us. Reply STOP to opt out.",
        policy="p",
        step="locate",
        business_date=not_before.date(),
        not_before=not_before,
        expires_at=expires_at,
    )


def test_a_planned_contact_counts_against_the_caps_until_its_window_ends(engine: Engine) -> None:
    """A text to a third party queued this morning and not yet sent: a second one planned now
    would be the second location contact once both go out (§1006.10(b)(2)), so the gate must see
    the first. Yesterday's, whose window ended unsent, was never made and does not count."""
    with engine.begin() as conn:
        outbox.enqueue(
            conn,
            [
                _queued_text("yesterday", T0 - timedelta(days=1), T0 - timedelta(hours=20)),
                _queued_text("today", T0, T0 + timedelta(hours=5)),
            ],
            now=T0,
        )
    us = get_pack("us-reg-f")
    assert us is not None
    again = Contact(
        at=T0 + timedelta(hours=1),
        debt_id="L1",
        channel="sms",
        party="emergency_contact",
        number="+86 100 0000 0009",
        content="Please ask Sam to call us. Reply STOP to opt out.",
    )
    ctx = Context(timezones=(ZoneInfo("America/New_York"),), reachable=False)
    with engine.connect() as conn:
        made = history_for(conn, ["B1"])["B1"]
        seen = history_for(conn, ["B1"], planned_after=again.at)["B1"]
    assert made == []  # the borrower's record and the audit: nothing was sent
    assert [c.at for c in seen] == [T0]  # the queued one, at the instant it is due; not yesterday's
    assert check(made, again, ctx, us).allowed
    assert [v.rule for v in check(seen, again, ctx, us).violations] == ["us.third-party.once"]
