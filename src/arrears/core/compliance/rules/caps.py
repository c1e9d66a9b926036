"""Call caps: China's per-day caps and Regulation F's 7-in-7 with its conversation limb.

Days are calendar days in the borrower's local time. With several possible zones a cap must
hold on the local day of every zone, which is the conservative reading of "per day".
The proposed call's outcome is unknown, so it is counted as if it connected and were answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from arrears.core.compliance.model import Contact
from arrears.core.compliance.pack import Situation
from arrears.core.compliance.rules.clock import local_date, zone_name


def daily_conversations(situation: Situation) -> Iterator[str]:
    """At most N connected conversations with the debtor per local day, across the lender and
    all its agencies (the history holds all of them)."""
    proposed, cap = situation.proposed, situation.limits.max_conversations_per_day
    if cap is None or not proposed.is_call or proposed.party != "debtor":
        return
    for zone in situation.context.timezones:
        day = local_date(proposed.at, zone)
        held = sum(
            1
            for c in situation.history
            if c.is_call
            and c.party == "debtor"
            and c.conversation
            and local_date(c.at, zone) == day
        )
        if held >= cap:
            yield f"{held} conversations with the debtor already on {day} ({zone_name(zone)})"


def unanswered_per_number(situation: Situation) -> Iterator[str]:
    """At most N unanswered dial attempts to one number per local day."""
    proposed, cap = situation.proposed, situation.limits.max_unanswered_per_number_per_day
    if cap is None or not proposed.is_call:
        return
    for zone in situation.context.timezones:
        day = local_date(proposed.at, zone)
        unanswered = sum(
            1
            for c in situation.history
            if c.is_call
            and c.number == proposed.number
            and not c.conversation
            and local_date(c.at, zone) == day
        )
        if unanswered >= cap:
            yield (
                f"{unanswered} unanswered attempts to {proposed.number} already on {day} "
                f"({zone_name(zone)})"
            )


def consented(call: Contact) -> bool:
    """Reg F §1006.14(b)(3)(i): a call within the person's direct prior consent is not counted."""
    return call.consent_until is not None and call.at <= call.consent_until


def counts_toward_seven(call: Contact, person: str, debt: str) -> bool:
    """Reg F §1006.14(b)(3): calls not connected and calls under consent are not counted."""
    return (
        call.is_call
        and call.person == person
        and debt in call.debts
        and call.connected
        and not consented(call)
    )


def calls_in_window(situation: Situation) -> Iterator[str]:
    """No more than N calls to one person about one debt in any W consecutive local days."""
    proposed, limits = situation.proposed, situation.limits
    cap, width = limits.max_calls_per_window, limits.call_window_days
    if cap is None or width is None or not proposed.is_call or consented(proposed):
        return
    for debt in proposed.debts:
        for zone in situation.context.timezones:
            day = local_date(proposed.at, zone)
            days = [
                local_date(c.at, zone)
                for c in situation.history
                if counts_toward_seven(c, proposed.person, debt)
            ]
            # Every window of `width` days that contains the proposed day.
            for offset in range(width):
                first = day - timedelta(days=width - 1 - offset)
                last = first + timedelta(days=width - 1)
                placed = sum(1 for d in days if first <= d <= last)
                if placed + 1 > cap:
                    yield (
                        f"debt {debt}: {placed} counted calls to {proposed.person} between "
                        f"{first} and {last} ({zone_name(zone)}); this would be call "
                        f"{placed + 1}"
                    )
                    break


def after_conversation(situation: Situation) -> Iterator[str]:
    """No call to a person about a debt within N days after a telephone conversation with them
    about that debt; the conversation's day is day 1, so calls later that day count too.
    A conversation about several debts counts for each of them."""
    proposed, quiet = situation.proposed, situation.limits.conversation_quiet_days
    if quiet is None or not proposed.is_call or consented(proposed):
        return
    for debt in proposed.debts:
        for zone in situation.context.timezones:
            day = local_date(proposed.at, zone)
            for c in situation.history:
                if not (
                    c.is_call
                    and c.conversation
                    and c.person == proposed.person
                    and debt in c.debts
                    and c.at <= proposed.at
                ):
                    continue
                talked = local_date(c.at, zone)
                if (day - talked).days < quiet:
                    free = talked + timedelta(days=quiet)
                    yield (
                        f"debt {debt}: conversation with {proposed.person} on {talked} "
                        f"({zone_name(zone)}); next call from {free}"
                    )
                    break


def rapid_succession(situation: Situation) -> Iterator[str]:
    """Warning: another call to the same number within a few minutes."""
    proposed, minutes = situation.proposed, situation.limits.rapid_succession_minutes
    if minutes is None or not proposed.is_call:
        return
    gap = timedelta(minutes=minutes)
    for c in situation.history:
        if c.is_call and c.number == proposed.number and abs(proposed.at - c.at) < gap:
            yield f"another call to {proposed.number} at {c.at.isoformat()}"
            return


def concentrated_calls(situation: Situation) -> Iterator[str]:
    """Warning: many calls to the same number on one local day, even if not counted by 7-in-7."""
    proposed, many = situation.proposed, situation.limits.concentrated_calls_per_day
    if many is None or not proposed.is_call:
        return
    for zone in situation.context.timezones:
        day = local_date(proposed.at, zone)
        placed = sum(
            1
            for c in situation.history
            if c.is_call and c.number == proposed.number and local_date(c.at, zone) == day
        )
        if placed + 1 >= many:
            yield f"this would be call {placed + 1} to {proposed.number} on {day}"
            return
