"""The compliance gate asked directly: may this contact be made, given this history? And what
does a rule pack hold? The services behind ``arrears compliance check|rules`` (and, later, the
API's compliance check).

The inputs are texts as a caller holds them (JSON Lines history, the proposed contact with its
``context``, the lender's stricter limits as JSON), each with the name a person knows it by (a
file path, a request field), so every problem says which input, line and field is at fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import time

from arrears.core.compliance.gate import check
from arrears.core.compliance.limits import LenderSettings, tighten
from arrears.core.compliance.model import Decision
from arrears.core.compliance.pack import Pack
from arrears.core.compliance.packs import PACKS
from arrears.core.compliance.parse import parse_history, parse_proposed, parse_settings
from arrears.core.contact.gating import rules_digest
from arrears.core.problem import Problem, Problems, Result, fail, ok


@dataclass(frozen=True, slots=True)
class Named:
    """An input's text and the name it is known by."""

    name: str
    text: str


def _in(name: str, problems: Problems) -> Problems:
    return tuple(Problem(f"{name}: {p.record}", p.field, p.reason, p.code) for p in problems)


def _named(name: str, problems: Problems) -> Problems:
    """The settings' problems, recorded against the input's own name (their record is
    "settings")."""
    return tuple(Problem(name, p.field, p.reason, p.code) for p in problems)


def _pack(pack_id: str) -> Result[Pack]:
    pack = PACKS.get(pack_id)
    if pack is None:
        reason = f"{pack_id!r} is not one of {', '.join(PACKS)}"
        return fail(Problem("rules", "", reason))
    return ok(pack)


def _lender(settings: Named, pack: Pack) -> Result[LenderSettings]:
    try:
        raw = json.loads(settings.text)
    except json.JSONDecodeError as err:
        return fail(Problem(settings.name, "", f"line {err.lineno}: not valid JSON: {err.msg}"))
    loaded, problems = parse_settings(raw)
    if loaded is None:
        return fail(*_named(settings.name, problems))
    tightened, problems = tighten(pack.limits, loaded)
    if tightened is None:
        return fail(*_named(settings.name, problems))
    return ok(loaded)


def check_contact(
    pack_id: str, history: Named, proposed: Named, settings: Named | None = None
) -> Result[Decision]:
    """The gate's decision on the proposed contact: allowed or blocked, with every violation
    and warning and the rule text each comes from."""
    pack, problems = _pack(pack_id)
    if pack is None:
        return fail(*problems)
    past, problems = parse_history(history.text.splitlines())
    if past is None:
        return fail(*_in(history.name, problems))
    parsed, problems = parse_proposed(proposed.text)
    if parsed is None:
        return fail(*_in(proposed.name, problems))
    lender: LenderSettings | None = None
    if settings is not None:
        lender, problems = _lender(settings, pack)
        if lender is None:
            return fail(*problems)
    contact, context = parsed
    return ok(check(past, contact, context, pack, lender))


@dataclass(frozen=True, slots=True)
class RuleText:
    rule: str
    severity: str
    source: str
    message: str


@dataclass(frozen=True, slots=True)
class PackRules:
    pack: str
    title: str
    rules_sha256: str  # as contact.planned records name the rules they were checked against
    limits: dict[str, int | str]  # the pack's limits that are set; times as HH:MM
    rules: tuple[RuleText, ...]


def pack_rules(pack_id: str) -> Result[PackRules]:
    """Every rule of a pack with its source, and the pack's limits."""
    pack, problems = _pack(pack_id)
    if pack is None:
        return fail(*problems)
    limits: dict[str, int | str] = {}
    for f in fields(pack.limits):
        value = getattr(pack.limits, f.name)
        if value is not None:
            limits[f.name] = value.strftime("%H:%M") if isinstance(value, time) else value
    rules = tuple(RuleText(r.id, r.severity, r.source, r.message) for r in pack.rules)
    return ok(PackRules(pack.id, pack.title, rules_digest(pack), limits, rules))
