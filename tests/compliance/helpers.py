"""Builders for tests: a contact or a context with sensible defaults, in one line each."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from arrears.core.compliance import Contact, ContactPreferences, Context, Decision, check
from arrears.core.compliance.limits import LenderSettings
from arrears.core.compliance.packs import get_pack

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
DEBTOR_PHONE = "+8613800000000"


def at(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A wall-clock time in `zone`, e.g. at("2026-03-02 21:59")."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def call(when: datetime, **fields: Any) -> Contact:
    base: dict[str, Any] = {
        "at": when,
        "channel": "call",
        "debt_id": "L1",
        "party": "debtor",
        "number": DEBTOR_PHONE,
    }
    base.update(fields)
    return Contact(**base)


def talked(when: datetime, **fields: Any) -> Contact:
    """A call that reached the debtor and was answered."""
    return call(when, connected=True, conversation=True, **fields)


def missed(when: datetime, **fields: Any) -> Contact:
    """A call that rang out (connected, nobody spoke)."""
    return call(when, connected=True, conversation=False, **fields)


def context(*zones: ZoneInfo, **fields: Any) -> Context:
    prefs = fields.pop("prefs", None)
    if prefs is not None:
        fields["contact_preferences"] = ContactPreferences(**prefs)
    return Context(timezones=zones or (SHANGHAI,), **fields)


def decide(
    pack: str,
    proposed: Contact,
    history: tuple[Contact, ...] = (),
    ctx: Context | None = None,
    settings: dict[str, Any] | None = None,
) -> Decision:
    found = get_pack(pack)
    assert found is not None
    lender = None if settings is None else LenderSettings(settings)
    return check(history, proposed, ctx or context(), found, lender)


def rule_ids(decision: Decision) -> set[str]:
    return {v.rule for v in decision.violations}


def warning_ids(decision: Decision) -> set[str]:
    return {w.rule for w in decision.warnings}


TRAINED = date(2026, 1, 15)
