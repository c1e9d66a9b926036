"""A borrower's rights in collection, generated from the rule pack that governs their loan.

Each rule of the pack has a kind (its id without the pack's prefix: ``cn.third-party.refusal``
is ``third-party.refusal``); the data (``data/borrower/rights.yaml``) holds one plain sentence
per kind and language, with the pack's limits as ``{fields}`` of
:class:`~arrears.core.compliance.limits.Limits`. So what a borrower reads is the pack itself:
a rule added to a pack appears here, each sentence shows the pack's own numbers, and no legal
text is copied by hand. Where to complain and get free help is data by pack
(``data/borrower/help.yaml``), after the lender's own hotline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import time
from typing import Any

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.pack import Pack
from arrears.core.problem import Problem, Result, fail, ok

LANGUAGES = ("zh-CN", "en")
HELP_KINDS = ("complain", "help")


@dataclass(frozen=True, slots=True)
class Sentence:
    group: str
    text: Mapping[str, str]  # language -> template with {limit} fields


@dataclass(frozen=True, slots=True)
class HelpLine:
    kind: str  # complain | help
    text: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class RightsData:
    groups: tuple[tuple[str, Mapping[str, str]], ...]  # (group id, language -> heading), in order
    kinds: Mapping[str, Sentence]
    help: Mapping[str, tuple[HelpLine, ...]]  # pack id -> lines


@dataclass(frozen=True, slots=True)
class Right:
    rule: str  # the pack's rule id
    text: str
    source: str  # the rule's legal source, as the pack states it


@dataclass(frozen=True, slots=True)
class Section:
    group: str
    heading: str
    rights: tuple[Right, ...]


@dataclass(frozen=True, slots=True)
class Rights:
    pack: str
    language: str
    sections: tuple[Section, ...]
    complain: tuple[str, ...]  # the lender first, then the public bodies
    help: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "language": self.language,
            "sections": [
                {
                    "group": s.group,
                    "heading": s.heading,
                    "rights": [
                        {"rule": r.rule, "text": r.text, "source": r.source} for r in s.rights
                    ],
                }
                for s in self.sections
            ],
            "complain": list(self.complain),
            "help": list(self.help),
        }


def rule_kind(rule_id: str) -> str:
    """``cn.third-party.refusal`` -> ``third-party.refusal`` (the first part names the pack)."""
    return rule_id.split(".", 1)[1] if "." in rule_id else rule_id


def _texts(obj: Any, where: str) -> tuple[Mapping[str, str] | None, list[Problem]]:
    if not isinstance(obj, Mapping):
        return None, [Problem(where, "text", "must be a mapping with zh-CN and en")]
    missing = [lang for lang in LANGUAGES if not isinstance(obj.get(lang), str) or not obj[lang]]
    if missing:
        return None, [Problem(where, lang, "missing or empty") for lang in missing]
    return {lang: str(obj[lang]) for lang in LANGUAGES}, []


def parse_rights(rights: Any, help_lines: Any, source: str) -> Result[RightsData]:
    """The two data files read; every problem named by its key."""
    problems: list[Problem] = []
    if not isinstance(rights, Mapping) or not isinstance(help_lines, Mapping):
        return fail(Problem(source, "top", "must be a mapping"))
    groups: list[tuple[str, Mapping[str, str]]] = []
    for gid, obj in (rights.get("groups") or {}).items():
        text, found = _texts(obj, f"{source} groups.{gid}")
        problems += found
        if text is not None:
            groups.append((str(gid), text))
    known = {g for g, _ in groups}
    kinds: dict[str, Sentence] = {}
    for kid, obj in (rights.get("kinds") or {}).items():
        where = f"{source} kinds.{kid}"
        text, found = _texts(obj, where)
        problems += found
        group = obj.get("group") if isinstance(obj, Mapping) else None
        if group not in known:
            problems.append(Problem(where, "group", f"{group!r} is not one of {sorted(known)}"))
        elif text is not None:
            kinds[str(kid)] = Sentence(str(group), text)
    help_by_pack: dict[str, tuple[HelpLine, ...]] = {}
    for pack_id, lines in help_lines.items():
        out: list[HelpLine] = []
        for i, obj in enumerate(lines or []):
            where = f"{source} help.{pack_id}[{i}]"
            text, found = _texts(obj, where)
            problems += found
            kind = obj.get("kind") if isinstance(obj, Mapping) else None
            if kind not in HELP_KINDS:
                problems.append(Problem(where, "kind", f"{kind!r} is not one of {HELP_KINDS}"))
            elif text is not None:
                out.append(HelpLine(str(kind), text))
        help_by_pack[str(pack_id)] = tuple(out)
    if problems:
        return fail(*problems)
    return ok(RightsData(tuple(groups), kinds, help_by_pack))


def _limit_values(limits: Limits) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in fields(Limits):
        value = getattr(limits, f.name)
        if value is None:
            continue
        out[f.name] = value.strftime("%H:%M") if isinstance(value, time) else str(value)
    return out


def rights_for(
    pack: Pack, data: RightsData, language: str, lender_name: str, hotline: str
) -> Result[Rights]:
    """The borrower's rights under ``pack`` in ``language``: every rule, grouped and in the
    data's group order (within a group, the pack's order), then where to complain and get help.
    A rule whose kind has no sentence, or a sentence that names a limit the pack does not set,
    is a problem (the data and the pack disagree), never a silently shorter list."""
    if language not in LANGUAGES:
        return fail(Problem("rights", "language", f"must be one of {', '.join(LANGUAGES)}"))
    limits = _limit_values(pack.limits)
    by_group: dict[str, list[Right]] = {}
    problems: list[Problem] = []
    for rule in pack.rules:
        kind = rule_kind(rule.id)
        sentence = data.kinds.get(kind)
        if sentence is None:
            problems.append(
                Problem(f"rule {rule.id}", "kind", f"no borrower sentence for {kind!r}")
            )
            continue
        try:
            text = sentence.text[language].format(**limits)
        except KeyError as exc:
            problems.append(
                Problem(f"rule {rule.id}", str(exc.args[0]), f"pack {pack.id} sets no such limit")
            )
            continue
        by_group.setdefault(sentence.group, []).append(Right(rule.id, text, rule.source))
    if problems:
        return fail(*problems)
    sections = tuple(
        Section(gid, heading[language], tuple(by_group[gid]))
        for gid, heading in data.groups
        if gid in by_group
    )
    lines = data.help.get(pack.id, ())
    own = {
        "zh-CN": f"{lender_name}客服热线 {hotline}（请先向我们反映，我们会记录并在规定期限内答复）",
        "en": f"{lender_name} customer service: {hotline} (tell us first; we record every "
        "complaint and answer it within the time the rules give us)",
    }[language]
    complain = (own, *(h.text[language] for h in lines if h.kind == "complain"))
    help_ = tuple(h.text[language] for h in lines if h.kind == "help")
    return ok(Rights(pack.id, language, sections, complain, help_))
