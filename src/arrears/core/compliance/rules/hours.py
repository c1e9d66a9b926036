"""Contact hours in the borrower's local time, and the borrower's own time preferences."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time

from arrears.core.compliance.model import Channel
from arrears.core.compliance.pack import RuleFn, Situation
from arrears.core.compliance.rules.clock import zone_name

# Channels that reach a person at a moment; a letter is read whenever the borrower chooses.
TIMED_CHANNELS: frozenset[Channel] = frozenset({"call", "sms", "email", "visit"})


def _outside(start: time, end: time, situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if not situation.context.timezones:
        yield "the borrower's time zone is unknown, so no hour can be shown to be allowed"
        return
    for zone in situation.context.timezones:
        local = proposed.at.astimezone(zone)
        # Compare wall-clock times without tzinfo; the window is [start, end).
        clock = local.time().replace(tzinfo=None)
        if not start <= clock < end:
            yield (f"{local:%H:%M} in {zone_name(zone)} is outside {start:%H:%M}-{end:%H:%M}")


def contact_hours(consent_allowed: bool) -> RuleFn:
    """Calls, texts, emails and visits only inside [day_start, day_end) in every possible zone;
    the borrower's consent to late contact lifts it where the pack allows consent."""

    def evaluate(situation: Situation) -> Iterator[str]:
        proposed, limits = situation.proposed, situation.limits
        if not proposed.is_contact or proposed.channel not in TIMED_CHANNELS:
            return
        if proposed.channel == "visit" and limits.visit_day_start is not None:
            return  # visits have their own, daytime window (visit_hours)
        if limits.day_start is None or limits.day_end is None:
            return
        if consent_allowed and situation.context.consent_late_hours:
            return
        yield from _outside(limits.day_start, limits.day_end, situation)

    return evaluate


def visit_hours(situation: Situation) -> Iterator[str]:
    """Visits in daytime only, in every possible zone; late-hours consent does not extend it."""
    proposed, limits = situation.proposed, situation.limits
    if not proposed.is_contact or proposed.channel != "visit":
        return
    if limits.visit_day_start is None or limits.visit_day_end is None:
        return
    yield from _outside(limits.visit_day_start, limits.visit_day_end, situation)


def preferred_times(situation: Situation) -> Iterator[str]:
    """The debtor's own "not before / not after" request, on the channels it names."""
    proposed = situation.proposed
    prefs = situation.context.contact_preferences
    if not proposed.is_contact or proposed.party != "debtor":
        return
    if proposed.channel not in prefs.channels:
        return
    for zone in situation.context.timezones:
        local = proposed.at.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if prefs.not_before is not None and clock < prefs.not_before:
            yield (
                f"{local:%H:%M} in {zone_name(zone)} is before the requested "
                f"{prefs.not_before:%H:%M}"
            )
        if prefs.not_after is not None and clock > prefs.not_after:
            yield (
                f"{local:%H:%M} in {zone_name(zone)} is after the requested {prefs.not_after:%H:%M}"
            )


def channel_opt_out(situation: Situation) -> Iterator[str]:
    """A channel the debtor asked us not to use is not used."""
    proposed = situation.proposed
    if not proposed.is_contact or proposed.party != "debtor":
        return
    if proposed.channel in situation.context.contact_preferences.opt_out:
        yield f"the debtor opted out of {proposed.channel}"
