"""Parsing JSON into the gate's model. Bad input is a `Problem` naming the line (or the
input) and the field at fault, never an exception, and nothing half-parsed is returned."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arrears.core.compliance.limits import LIMIT_NAMES, LenderSettings
from arrears.core.compliance.model import (
    CHANNELS,
    CONTACT_PURPOSES,
    MORATORIUM_KINDS,
    PARTIES,
    PURPOSES,
    RECORD_KINDS,
    Channel,
    Contact,
    ContactPreferences,
    Context,
    Moratorium,
    MoratoriumKind,
    Party,
    RecordKind,
)
from arrears.core.problem import Problem, Result, fail, ok


def _at(line: int | None, what: str, field: str, reason: str) -> Problem:
    return Problem(f"line {line}" if line is not None else what, field, reason)


class _Bad(Exception):
    """Internal: carries a field error up to the public function, which returns it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field, self.reason = field, reason


T = TypeVar("T")

_CONTACT_FIELDS = frozenset(
    {
        "at", "channel", "debt_id", "party", "number", "connected", "conversation",
        "consent_until", "outcome", "content", "collectors", "other_debt_ids", "purpose",
        "recipient", "record_kind", "records_until",
    }
)  # fmt: skip
_CONTEXT_FIELDS = frozenset(
    {
        "timezones", "reachable", "vulnerable", "consent_late_hours", "contact_preferences",
        "plan_in_force", "dispute_open", "collectors", "visit_approved", "visit_notice_at",
        "credit_notices", "entrustments", "refused", "moratoria", "verification_pending",
        "legal_action_on_record", "trade_bodies",
    }
)  # fmt: skip
_MORATORIUM_FIELDS = frozenset({"kind", "starts_on", "ends_on", "debt_ids"})
_PREFERENCE_FIELDS = frozenset({"opt_out", "not_before", "not_after", "channels"})


def _object(value: object, name: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise _Bad(name, "must be a JSON object")
    return cast(Mapping[str, object], value)


def _unknown(obj: Mapping[str, object], known: frozenset[str], prefix: str) -> None:
    # Unknown fields are rejected: a misspelt "dispute_opn" must not silently mean "no dispute".
    for key in obj:
        if key not in known:
            raise _Bad(prefix + key, "unknown field")


def _string(obj: Mapping[str, object], key: str, name: str, required: bool) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _Bad(name, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Bad(name, "must be a non-empty string")
    return value


def _bool(obj: Mapping[str, object], key: str, name: str, default: bool) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(name, "must be true or false")
    return value


def _choice(value: str | None, choices: tuple[T, ...], name: str) -> T | None:
    if value is None:
        return None
    for choice in choices:
        if value == choice:
            return choice
    raise _Bad(name, f"must be one of {', '.join(map(str, choices))}")


def _datetime(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise _Bad(name, "must be an ISO 8601 date-time string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad(name, f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.utcoffset() is None:
        raise _Bad(name, f"{value!r} has no UTC offset (e.g. +08:00)")
    return parsed


def _opt_datetime(obj: Mapping[str, object], key: str, name: str) -> datetime | None:
    value = obj.get(key)
    return None if value is None else _datetime(value, name)


def _clock(value: object, name: str) -> time:
    if not isinstance(value, str):
        raise _Bad(name, "must be a time HH:MM")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise _Bad(name, f"{value!r} is not a time HH:MM") from None
    if parsed.tzinfo is not None:
        raise _Bad(name, "is a local wall-clock time; give no offset")
    return parsed


def _strings(obj: Mapping[str, object], key: str, name: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise _Bad(name, "must be a list of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise _Bad(f"{name}[{i}]", "must be a non-empty string")
    return tuple(cast(list[str], value))


def _channels(obj: Mapping[str, object], key: str, name: str) -> frozenset[Channel] | None:
    if key not in obj:
        return None
    items = _strings(obj, key, name)
    return frozenset(
        cast(Channel, _choice(item, CHANNELS, f"{name}[{i}]")) for i, item in enumerate(items)
    )


def _zone(value: str, name: str) -> tzinfo:
    if value[:1] in "+-":  # a fixed offset such as "+08:00"
        try:
            offset = datetime.fromisoformat(f"2000-01-01T00:00:00{value}").utcoffset()
        except ValueError:
            raise _Bad(name, f"{value!r} is not an offset like +08:00") from None
        return timezone(offset or timedelta(0))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad(name, f"{value!r} is not a known IANA time zone") from None


def _contact(obj: Mapping[str, object], prefix: str = "") -> Contact:
    def f(key: str) -> str:
        return prefix + key

    _unknown(obj, _CONTACT_FIELDS, prefix)
    purpose = _choice(_string(obj, "purpose", f("purpose"), False), PURPOSES, f("purpose"))
    purpose = purpose or "collection"
    reaches_person = purpose in CONTACT_PURPOSES
    at = _datetime(obj.get("at"), f("at")) if "at" in obj else None
    if at is None:
        raise _Bad(f("at"), "is required")
    channel = cast(
        Channel | None,
        _choice(_string(obj, "channel", f("channel"), reaches_person), CHANNELS, f("channel")),
    )
    party = cast(
        Party | None, _choice(_string(obj, "party", f("party"), False), PARTIES, f("party"))
    )
    number = _string(obj, "number", f("number"), reaches_person) or ""
    connected = _bool(obj, "connected", f("connected"), False)
    conversation = _bool(obj, "conversation", f("conversation"), False)
    if conversation and not connected:
        raise _Bad(f("conversation"), "is true but connected is false")
    record_kind = cast(
        RecordKind | None,
        _choice(
            _string(obj, "record_kind", f("record_kind"), False), RECORD_KINDS, f("record_kind")
        ),
    )
    content = obj.get("content", "")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise _Bad(f("content"), "must be a string")
    return Contact(
        at=at,
        debt_id=cast(str, _string(obj, "debt_id", f("debt_id"), True)),
        channel=channel,
        party=party or "debtor",
        number=number,
        connected=connected,
        conversation=conversation,
        consent_until=_opt_datetime(obj, "consent_until", f("consent_until")),
        outcome=_string(obj, "outcome", f("outcome"), False),
        content=content,
        collectors=_strings(obj, "collectors", f("collectors")),
        other_debt_ids=_strings(obj, "other_debt_ids", f("other_debt_ids")),
        purpose=purpose,
        recipient=_string(obj, "recipient", f("recipient"), purpose == "data_transfer"),
        record_kind=record_kind,
        records_until=_opt_datetime(obj, "records_until", f("records_until")),
    )


def _preferences(value: object, name: str) -> ContactPreferences:
    obj = _object(value, name)
    _unknown(obj, _PREFERENCE_FIELDS, name + ".")
    default = ContactPreferences()
    return ContactPreferences(
        opt_out=_channels(obj, "opt_out", f"{name}.opt_out") or frozenset(),
        not_before=_clock(obj["not_before"], f"{name}.not_before")
        if obj.get("not_before") is not None
        else None,
        not_after=_clock(obj["not_after"], f"{name}.not_after")
        if obj.get("not_after") is not None
        else None,
        channels=_channels(obj, "channels", f"{name}.channels") or default.channels,
    )


def _day(value: object, name: str) -> date:
    try:
        return date.fromisoformat(cast(str, value))
    except (TypeError, ValueError):
        raise _Bad(name, "must be a date YYYY-MM-DD") from None


def _moratoria(obj: Mapping[str, object]) -> tuple[Moratorium, ...]:
    raw = obj.get("moratoria", [])
    if not isinstance(raw, list):
        raise _Bad("context.moratoria", "must be a list of objects")
    out: list[Moratorium] = []
    for i, item in enumerate(raw):
        name = f"context.moratoria[{i}]"
        m = _object(item, name)
        _unknown(m, _MORATORIUM_FIELDS, name + ".")
        kind = cast(
            MoratoriumKind,
            _choice(_string(m, "kind", f"{name}.kind", True), MORATORIUM_KINDS, f"{name}.kind"),
        )
        starts = _day(m.get("starts_on"), f"{name}.starts_on")
        ends = None if m.get("ends_on") is None else _day(m["ends_on"], f"{name}.ends_on")
        if ends is not None and ends < starts:
            raise _Bad(f"{name}.ends_on", "is before starts_on")
        debts = frozenset(_strings(m, "debt_ids", f"{name}.debt_ids")) if "debt_ids" in m else None
        out.append(Moratorium(kind, starts, ends, debts))
    return tuple(out)


def _context(obj: Mapping[str, object]) -> Context:
    _unknown(obj, _CONTEXT_FIELDS, "context.")
    names = _strings(obj, "timezones", "context.timezones")
    if not names:
        raise _Bad("context.timezones", "needs at least one time zone")
    zones = tuple(_zone(n, f"context.timezones[{i}]") for i, n in enumerate(names))
    collectors: dict[str, date] = {}
    raw_collectors = _object(obj.get("collectors", {}), "context.collectors")
    for key, value in raw_collectors.items():
        try:
            collectors[key] = date.fromisoformat(cast(str, value))
        except (TypeError, ValueError):
            raise _Bad(f"context.collectors.{key}", "must be a date YYYY-MM-DD") from None
    raw_notices = _object(obj.get("credit_notices", {}), "context.credit_notices")
    notices = {
        key: _datetime(value, f"context.credit_notices.{key}") for key, value in raw_notices.items()
    }
    prefs = obj.get("contact_preferences")
    return Context(
        timezones=zones,
        reachable=_bool(obj, "reachable", "context.reachable", True),
        vulnerable=_bool(obj, "vulnerable", "context.vulnerable", False),
        consent_late_hours=_bool(obj, "consent_late_hours", "context.consent_late_hours", False),
        contact_preferences=ContactPreferences()
        if prefs is None
        else _preferences(prefs, "context.contact_preferences"),
        plan_in_force=_bool(obj, "plan_in_force", "context.plan_in_force", False),
        dispute_open=_bool(obj, "dispute_open", "context.dispute_open", False),
        collectors=MappingProxyType(collectors),
        visit_approved=_bool(obj, "visit_approved", "context.visit_approved", False),
        visit_notice_at=_opt_datetime(obj, "visit_notice_at", "context.visit_notice_at"),
        credit_notices=MappingProxyType(notices),
        entrustments=frozenset(_strings(obj, "entrustments", "context.entrustments")),
        refused=frozenset(_strings(obj, "refused", "context.refused")),
        moratoria=_moratoria(obj),
        verification_pending=frozenset(
            _strings(obj, "verification_pending", "context.verification_pending")
        ),
        legal_action_on_record=_bool(
            obj, "legal_action_on_record", "context.legal_action_on_record", False
        ),
        trade_bodies=frozenset(_strings(obj, "trade_bodies", "context.trade_bodies")),
    )


def parse_contact(obj: object, line: int | None = None) -> Result[Contact]:
    try:
        return ok(_contact(_object(obj, "(line)")))
    except _Bad as bad:
        return fail(_at(line, "contact", bad.field, bad.reason))


def parse_context(obj: object) -> Result[Context]:
    try:
        return ok(_context(_object(obj, "context")))
    except _Bad as bad:
        return fail(Problem("proposed", bad.field, bad.reason))


def parse_history(lines: Iterable[str]) -> Result[tuple[Contact, ...]]:
    """JSON Lines: one contact per line; blank lines are skipped."""
    contacts: list[Contact] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj: Any = json.loads(text)
        except json.JSONDecodeError as err:
            return fail(_at(number, "history", "(line)", f"not valid JSON: {err.msg}"))
        parsed, problems = parse_contact(obj, number)
        if parsed is None:
            return fail(*problems)
        contacts.append(parsed)
    return ok(tuple(contacts))


def _line_of(text: str, key: str) -> int | None:
    """Best effort: the first line of `text` where `"key"` appears, for error messages."""
    needle = f'"{key}"'
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def parse_proposed(text: str) -> Result[tuple[Contact, Context]]:
    """The proposed file: one contact object with an added `context` object."""
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as err:
        return fail(_at(err.lineno, "proposed", "(file)", f"not valid JSON: {err.msg}"))
    if not isinstance(obj, dict):
        return fail(_at(1, "proposed", "(file)", "must be a JSON object"))
    fields = dict(obj)
    if "context" not in fields:
        return fail(Problem("proposed", "context", "is required"))
    context, problems = parse_context(fields.pop("context"))
    if context is None:
        bad = problems[0]
        leaf = bad.field.split(".")[-1].split("[")[0]
        return fail(_at(_line_of(text, leaf), "proposed", bad.field, bad.reason))
    contact, problems = parse_contact(fields)
    if contact is None:
        bad = problems[0]
        return fail(_at(_line_of(text, bad.field), "proposed", bad.field, bad.reason))
    return ok((contact, context))


def parse_settings(obj: object) -> Result[LenderSettings]:
    """A lender's limits: {"limit_name": int or "HH:MM"}; strictness is checked by `tighten`."""
    try:
        raw = _object(obj, "(settings)")
        values: dict[str, int | time] = {}
        for key, value in raw.items():
            if key not in LIMIT_NAMES:
                raise _Bad(key, "no such limit")
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise _Bad(key, "must be an integer or a time HH:MM")
            values[key] = _clock(value, key) if isinstance(value, str) else value
        return ok(LenderSettings(MappingProxyType(values)))
    except _Bad as bad:
        return fail(Problem("settings", bad.field, bad.reason))
