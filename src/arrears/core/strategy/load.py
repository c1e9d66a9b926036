"""Read a policy (or a policy set) from YAML, with errors that name the file, the path
inside it (`steps[3].cadence_days`) and the reason. Unknown keys are errors: a misspelt
`cadence_day` must not quietly mean "daily".

A policy file has `steps:`; a policy-set file has `policies:` (each `file` relative to the
set file, and a `share`). `parse_policy_set` accepts either; one policy is a set of one.

Pure: documents in, policies out. Reading the files (and the policies shipped with arrears)
is the shell's, in :mod:`arrears.services.policy_files`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import time
from typing import Any, TypeVar

import yaml

from arrears.core.compliance.packs import PACKS
from arrears.core.contact.templates import TEMPLATES
from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem, Result, fail, ok
from arrears.core.strategy.model import (
    POLICY_PURPOSES,
    STEP_CHANNELS,
    STEP_PARTIES,
    BrokenPromise,
    Legal,
    Member,
    Policy,
    PolicySet,
    Segment,
    Step,
)

T = TypeVar("T")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SHARE_TOTALS = (100, 10000)


class _Reader:
    """Collects every error in one pass, so a user fixes a file once, not line by line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[Problem] = []

    def error(self, path: str, reason: str) -> None:
        self.errors.append(Problem(self.file, path, reason))

    def mapping(self, value: Any, path: str, known: Sequence[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path or "(top level)", "must be a mapping of keys to values")
            return None
        for key in value:
            if key not in known:
                self.error(_join(path, str(key)), f"unknown key (known: {', '.join(known)})")
        return value

    def get(
        self,
        data: dict[str, Any],
        path: str,
        key: str,
        parse: Callable[[Any, str], T | None],
        default: T,
        *,
        required: bool = False,
    ) -> T:
        where = _join(path, key)
        if key not in data or data[key] is None:
            if required:
                self.error(where, "missing")
            return default
        parsed = parse(data[key], where)
        return default if parsed is None else parsed

    # -- scalar parsers: return None after recording an error ---------------------------
    def integer(
        self, lo: int | None = None, hi: int | None = None
    ) -> Callable[[Any, str], int | None]:
        def parse(value: Any, where: str) -> int | None:
            if type(value) is not int:
                self.error(where, f"must be a whole number, not {value!r}")
                return None
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bounds = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
                self.error(where, f"must be in {bounds}, not {value}")
                return None
            return value

        return parse

    def boolean(self, value: Any, where: str) -> bool | None:
        if not isinstance(value, bool):
            self.error(where, f"must be true or false, not {value!r}")
            return None
        return value

    def name(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            self.error(where, f"must be a name of lower-case letters, digits and _, not {value!r}")
            return None
        return value

    def text(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.error(where, "must be a non-empty string")
            return None
        return value

    def money(self, value: Any, where: str) -> int | None:
        if not isinstance(value, str):
            self.error(
                where, f'write amounts in yuan as quoted strings, e.g. "500.00", not {value!r}'
            )
            return None
        try:
            fen = parse_amount(value)
        except MoneyError as err:
            self.error(where, str(err))
            return None
        if fen < 0:
            self.error(where, "must not be negative")
            return None
        return fen

    def clock(self, value: Any, where: str) -> time | None:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 10:00 as the sexagesimal number 600 (09:00 stays a string).
            self.error(
                where, f'write the time quoted, e.g. "10:00" (YAML read it as the number {value})'
            )
            return None
        if not isinstance(value, str) or not _TIME_RE.match(value):
            self.error(where, f'must be a local time "HH:MM", not {value!r}')
            return None
        return time(int(value[:2]), int(value[3:]))

    def choice(self, options: Sequence[str]) -> Callable[[Any, str], str | None]:
        def parse(value: Any, where: str) -> str | None:
            if value not in options:
                self.error(where, f"must be one of {', '.join(options)}, not {value!r}")
                return None
            return str(value)

        return parse

    def names(self, value: Any, where: str) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not value:
            self.error(where, "must be a non-empty list of names")
            return None
        out = [self.name(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if any(v is None for v in out):
            return None
        return tuple(v for v in out if v is not None)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


_POLICY_KEYS = (
    "name",
    "description",
    "rule_pack",
    "segments",
    "steps",
    "promises",
    "hardship",
    "legal",
)
_SEGMENT_KEYS = ("name", "overdue_from", "overdue_to", "first_time", "risk_from", "risk_to")
_STEP_KEYS = (
    "name",
    "channel",
    "party",
    "template",
    "at",
    "dpd_from",
    "dpd_to",
    "before_due",
    "cadence_days",
    "min_overdue",
    "segments",
    "unreachable_days_at_least",
    "requires_approval",
    "priority",
    "purpose",
)


def parse_policy(data: Any, file: str) -> Result[Policy]:
    """A policy from already-parsed YAML/JSON data; `file` names it in errors."""
    r = _Reader(file)
    top = r.mapping(data, "", _POLICY_KEYS)
    if top is None:
        return fail(*r.errors)
    name = r.get(top, "", "name", r.name, "", required=True)
    if "description" in top and top["description"] is not None:
        r.text(top["description"], "description")
    rule_pack = r.get(top, "", "rule_pack", r.choice(tuple(PACKS)), None)
    segments = _segments(r, top.get("segments"))
    steps = _steps(r, top.get("steps"), {s.name for s in segments})
    broken = _promises(r, top.get("promises"), steps)
    pause = True
    if top.get("hardship") is not None:
        h = r.mapping(top["hardship"], "hardship", ("pause_contact",))
        if h is not None:
            pause = r.get(h, "hardship", "pause_contact", r.boolean, True)
    legal = None
    if top.get("legal") is not None:
        lg = r.mapping(top["legal"], "legal", ("dpd_from", "min_overdue"))
        if lg is not None:
            legal = Legal(
                dpd_from=r.get(lg, "legal", "dpd_from", r.integer(1), 1, required=True),
                min_overdue=r.get(lg, "legal", "min_overdue", r.money, 0),
            )
    if r.errors:
        return fail(*r.errors)
    return ok(
        Policy(
            name=name,
            steps=steps,
            segments=segments,
            broken_promise=broken,
            hardship_pauses_contact=pause,
            legal=legal,
            rule_pack=rule_pack,
            source=file,
        )
    )


def _segments(r: _Reader, raw: Any) -> tuple[Segment, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        r.error("segments", "must be a list")
        return ()
    out: list[Segment] = []
    for i, item in enumerate(raw):
        p = f"segments[{i}]"
        m = r.mapping(item, p, _SEGMENT_KEYS)
        if m is None:
            continue
        seg = Segment(
            name=r.get(m, p, "name", r.name, "", required=True),
            overdue_from=r.get(m, p, "overdue_from", r.money, None),
            overdue_to=r.get(m, p, "overdue_to", r.money, None),
            first_time=r.get(m, p, "first_time", r.boolean, None),
            risk_from=r.get(m, p, "risk_from", r.integer(0, 1000), None),
            risk_to=r.get(m, p, "risk_to", r.integer(0, 1000), None),
        )
        for lo, hi in (("overdue_from", "overdue_to"), ("risk_from", "risk_to")):
            a, b = getattr(seg, lo), getattr(seg, hi)
            if a is not None and b is not None and b < a:
                r.error(f"{p}.{hi}", f"must not be below {lo}")
        if seg.name and any(s.name == seg.name for s in out):
            r.error(f"{p}.name", f"segment {seg.name!r} is defined twice")
        out.append(seg)
    return tuple(out)


def _steps(r: _Reader, raw: Any, segment_names: set[str]) -> tuple[Step, ...]:
    if not isinstance(raw, list) or not raw:
        r.error("steps", "must be a non-empty list of steps")
        return ()
    out: list[Step] = []
    for i, item in enumerate(raw):
        p = f"steps[{i}]"
        m = r.mapping(item, p, _STEP_KEYS)
        if m is None:
            continue
        purpose = r.get(m, p, "purpose", r.choice(POLICY_PURPOSES), "collection")
        step = Step(
            name=r.get(m, p, "name", r.name, "", required=True),
            channel=r.get(m, p, "channel", r.choice(STEP_CHANNELS), "sms", required=True),  # type: ignore[arg-type]
            party=r.get(m, p, "party", r.choice(STEP_PARTIES), "debtor"),  # type: ignore[arg-type]
            template=r.get(m, p, "template", r.text, "", required=True),
            at=r.get(m, p, "at", r.clock, time(10, 0), required=True),
            dpd_from=r.get(m, p, "dpd_from", r.integer(0), None),
            dpd_to=r.get(m, p, "dpd_to", r.integer(0), None),
            before_due=r.get(m, p, "before_due", _offsets(r), ()),
            cadence_days=r.get(m, p, "cadence_days", r.integer(1, 3660), 1),
            min_overdue=r.get(m, p, "min_overdue", r.money, 0),
            segments=r.get(m, p, "segments", r.names, ()),
            unreachable_days_at_least=r.get(m, p, "unreachable_days_at_least", r.integer(0), 0),
            requires_approval=r.get(m, p, "requires_approval", r.boolean, False),
            priority=r.get(m, p, "priority", r.integer(-1000, 1000), 0),
            purpose=purpose,  # type: ignore[arg-type]
        )
        _check_step(r, p, m, step, segment_names)
        if step.name and any(s.name == step.name for s in out):
            r.error(f"{p}.name", f"step {step.name!r} is defined twice")
        out.append(step)
    return tuple(out)


def _offsets(r: _Reader) -> Callable[[Any, str], tuple[int, ...] | None]:
    def parse(value: Any, where: str) -> tuple[int, ...] | None:
        if not isinstance(value, list) or not value:
            r.error(where, "must be a non-empty list of days before the due date, e.g. [3, 1]")
            return None
        days = [r.integer(0, 366)(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if any(d is None for d in days):
            return None
        if len(set(days)) != len(days):
            r.error(where, "lists a day twice")
            return None
        return tuple(sorted((d for d in days if d is not None), reverse=True))

    return parse


MESSAGE_CHANNELS = frozenset({"sms", "email", "letter"})


def _check_step(r: _Reader, p: str, m: dict[str, Any], step: Step, segment_names: set[str]) -> None:
    band = m.get("dpd_from") is not None
    pre = m.get("before_due") is not None
    if band == pre:
        r.error(p, "give exactly one timing: dpd_from (with optional dpd_to) or before_due")
    if m.get("dpd_to") is not None and not band:
        r.error(f"{p}.dpd_to", "needs dpd_from")
    if step.dpd_from is not None and step.dpd_to is not None and step.dpd_to < step.dpd_from:
        r.error(f"{p}.dpd_to", f"must not be below dpd_from ({step.dpd_from})")
    if step.purpose == "collection" and step.dpd_from == 0:
        r.error(f"{p}.dpd_from", "collection starts at DPD 1; use before_due for reminders")
    if step.requires_approval and step.channel != "visit":
        r.error(f"{p}.requires_approval", "only visits take approval")
    if step.channel == "visit" and step.party != "debtor":
        r.error(f"{p}.party", "visits are made to the debtor only")
    if step.party == "emergency_contact" and step.purpose != "collection":
        r.error(f"{p}.party", "plan reminders go to the debtor only")
    for j, seg in enumerate(step.segments):
        if seg not in segment_names:
            r.error(f"{p}.segments[{j}]", f"no segment named {seg!r}")
    if step.channel in MESSAGE_CHANNELS and step.template not in TEMPLATES:
        # A message step is rendered by the channels; an unknown template would fail at send
        # time, night after night, so it is refused when the policy is loaded.
        r.error(
            f"{p}.template", f"no message template {step.template!r}; known: {', '.join(TEMPLATES)}"
        )


def _promises(r: _Reader, raw: Any, steps: tuple[Step, ...]) -> BrokenPromise:
    if raw is None:
        return BrokenPromise()
    m = r.mapping(raw, "promises", ("broken",))
    if m is None or m.get("broken") is None:
        return BrokenPromise()
    p = "promises.broken"
    b = r.mapping(m["broken"], p, ("within_days", "raise_priority", "jump_to"))
    if b is None:
        return BrokenPromise()
    out = BrokenPromise(
        within_days=r.get(b, p, "within_days", r.integer(0, 366), 0, required=True),
        raise_priority=r.get(b, p, "raise_priority", r.integer(-1000, 1000), 0),
        jump_to=r.get(b, p, "jump_to", r.names, ()),
    )
    by_name = {s.name: s for s in steps}
    for i, name in enumerate(out.jump_to):
        target = by_name.get(name)
        if target is None:
            r.error(f"{p}.jump_to[{i}]", f"no step named {name!r}")
        elif target.dpd_from is None or target.purpose != "collection":
            r.error(f"{p}.jump_to[{i}]", f"step {name!r} is not a collection step with a DPD band")
    return out


# -- documents ------------------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> Result[Any]:
    """The YAML document in ``text`` (read from ``file``, named in errors); an empty document
    is ``None`` with no problems, so test the problems, not the value."""
    try:
        return ok(yaml.safe_load(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        return fail(Problem(file, where, f"not valid YAML: {problem}"))


def policy_set(
    members: Sequence[tuple[Policy, int]], file: str = "(policy set)"
) -> Result[PolicySet]:
    """Check shares (positive integers summing to 100 or 10000) and distinct names."""
    errors: list[Problem] = []
    seen: set[str] = set()
    for i, (policy, share) in enumerate(members):
        if policy.name in seen:
            errors.append(
                Problem(file, f"policies[{i}]", f"policy name {policy.name!r} is used twice")
            )
        seen.add(policy.name)
        if type(share) is not int or share <= 0:
            errors.append(
                Problem(
                    file, f"policies[{i}].share", f"must be a positive whole number, not {share!r}"
                )
            )
    total = sum(s for _, s in members if type(s) is int)
    if not members:
        errors.append(Problem(file, "policies", "must name at least one policy"))
    elif not errors and total not in SHARE_TOTALS:
        errors.append(
            Problem(
                file,
                "policies",
                f"shares sum to {total}; they must sum to 100 (percent) or 10000 (basis points)",
            )
        )
    if errors:
        return fail(*errors)
    return ok(PolicySet(tuple(Member(p, s) for p, s in members), total))


def single(policy: Policy) -> PolicySet:
    return PolicySet((Member(policy, 100),), 100)


# Reads one member policy of a set, by the ``file`` the set names (relative to the set file).
MemberReader = Callable[[str], Result[Policy]]


def parse_policy_set(data: Any, file: str, read_member: MemberReader) -> Result[PolicySet]:
    """A policy-set document (`policies: [{file, share}]`) or a single policy (share 100)."""
    if not (isinstance(data, dict) and "policies" in data):
        parsed, problems = parse_policy(data, file)
        return (None, problems) if parsed is None else ok(single(parsed))
    r = _Reader(file)
    top = r.mapping(data, "", ("policies", "description"))
    raw = top.get("policies") if top else None
    if not isinstance(raw, list):
        r.error("policies", "must be a list of {file, share}")
        return fail(*r.errors)
    members: list[tuple[Policy, int]] = []
    for i, item in enumerate(raw):
        p = f"policies[{i}]"
        m = r.mapping(item, p, ("file", "share"))
        if m is None:
            continue
        member = r.get(m, p, "file", r.text, "", required=True)
        share = r.get(m, p, "share", r.integer(1, 10000), 0, required=True)
        if not member:
            continue
        loaded, problems = read_member(member)
        r.errors.extend(problems)
        if loaded is not None and share:
            members.append((loaded, share))
    if r.errors:
        return fail(*r.errors)
    return policy_set(members, file)
