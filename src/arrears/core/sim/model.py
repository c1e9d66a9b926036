"""The simulated borrowers' parameters, parsed from data (``data/sim/behaviour.yaml``).

Pure: the file is read by ``services.simulation.behaviour_file``; this module turns its
parsed content into a :class:`BehaviourModel` or the problems that name each bad key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from arrears.core.problem import Problem, Result, fail, ok

BEHAVIOURS = ("on_time", "late", "cured", "chronic", "never")


@dataclass(frozen=True, slots=True)
class Mix:
    """Share of borrowers per payment behaviour, in :data:`BEHAVIOURS` order; late payers'
    days after the due date, inclusive."""

    shares: tuple[float, ...]
    late_days: tuple[int, int]

    def __post_init__(self) -> None:
        assert len(self.shares) == len(BEHAVIOURS)
        assert abs(sum(self.shares) - 1) < 1e-9, self.shares
        assert 0 <= self.late_days[0] <= self.late_days[1]


# The heavy back book the benchmarks and the generator's tests use: half the borrowers pay on
# time, the rest late, cured, chronic or never (a stress test of the close, not a real book).
STRESS_MIX = Mix((0.55, 0.18, 0.10, 0.09, 0.08), (3, 40))


@dataclass(frozen=True, slots=True)
class Spell:
    """A share of borrowers who have one spell during a run, of ``days[0]..days[1]`` days."""

    share: float
    days: tuple[int, int]


NO_SPELL = Spell(0.0, (0, 0))


@dataclass(frozen=True, slots=True)
class Reactions:
    """What a borrower does on a call besides paying or promising (each a chance per call the
    borrower answers): complain about being called, dispute the amount, or ask for an
    installment plan (by behaviour: who asks is who cannot pay it all at once); and the chance
    that a borrower complains when an emergency contact of theirs was reached."""

    complaint_rate: float
    dispute_rate: float
    plan_rate: Mapping[str, float]
    third_party_complaint_rate: float


NO_REACTIONS = Reactions(0.0, 0.0, dict.fromkeys(BEHAVIOURS, 0.0), 0.0)


@dataclass(frozen=True, slots=True)
class BehaviourModel:
    mix: Mix
    answer_rate: Mapping[str, float]
    promise_rate: Mapping[str, float]
    keep_rate: float
    promise_days: int
    busy_share: float
    unreachable: Spell = NO_SPELL
    hardship: Spell = NO_SPELL
    reactions: Reactions = NO_REACTIONS


def _unit(value: Any, key: str, problems: list[Problem]) -> float:
    """A probability or share: a number from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(Problem("behaviour", key, f"must be a number from 0 to 1, got {value!r}"))
        return 0.0
    return float(value)


def _per_behaviour(data: Any, key: str, problems: list[Problem]) -> dict[str, float]:
    if not isinstance(data, Mapping):
        problems.append(Problem("behaviour", key, "must map each behaviour to a number"))
        return {}
    for name in sorted(set(data) - set(BEHAVIOURS)):
        problems.append(
            Problem("behaviour", f"{key}.{name}", f"unknown behaviour: use {', '.join(BEHAVIOURS)}")
        )
    out = {}
    for name in BEHAVIOURS:
        if name in data:
            out[name] = _unit(data[name], f"{key}.{name}", problems)
        else:
            problems.append(Problem("behaviour", f"{key}.{name}", "missing"))
    return out


def _days(value: Any, key: str, problems: list[Problem]) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 0 <= value[0] <= value[1]
    ):
        problems.append(Problem("behaviour", key, f"must be [from, to] days, got {value!r}"))
        return (0, 0)
    return (value[0], value[1])


def parse_model(data: Any) -> Result[BehaviourModel]:
    """The model from the file's content, or every problem in it (each names its key)."""
    if not isinstance(data, Mapping):
        return fail(Problem("behaviour", "", "the file must hold a mapping of settings"))
    problems: list[Problem] = []
    known = {"mix", "late_days", "answer_rate", "promise_rate", "keep_rate", "promise_days",
             "busy_share", "unreachable", "hardship", "reactions"}  # fmt: skip
    for key in sorted(set(data) - known):
        problems.append(Problem("behaviour", str(key), "unknown setting"))
    mix = _per_behaviour(data.get("mix"), "mix", problems)
    if len(mix) == len(BEHAVIOURS) and abs(sum(mix.values()) - 1) > 1e-9:
        problems.append(
            Problem(
                "behaviour", "mix", f"shares must add up to 1, they add up to {sum(mix.values()):g}"
            )
        )
    late = _days(data.get("late_days"), "late_days", problems)
    answer = _per_behaviour(data.get("answer_rate"), "answer_rate", problems)
    promise = _per_behaviour(data.get("promise_rate"), "promise_rate", problems)
    keep = _unit(data.get("keep_rate"), "keep_rate", problems)
    busy = _unit(data.get("busy_share"), "busy_share", problems)
    raw_days = data.get("promise_days")
    days = raw_days if isinstance(raw_days, int) and not isinstance(raw_days, bool) else 0
    if not 1 <= days <= 30:
        problems.append(
            Problem("behaviour", "promise_days", f"must be 1 to 30 days, got {raw_days!r}")
        )
    unreachable = _spell(data.get("unreachable"), "unreachable", problems)
    hardship = _spell(data.get("hardship"), "hardship", problems)
    reactions = _reactions(data.get("reactions"), problems)
    if problems:
        return fail(*problems)
    shares = tuple(mix[b] for b in BEHAVIOURS)
    return ok(
        BehaviourModel(
            Mix(shares, late), answer, promise, keep, days, busy, unreachable, hardship, reactions
        )
    )


def _reactions(value: Any, problems: list[Problem]) -> Reactions:
    if value is None:
        return NO_REACTIONS  # optional: borrowers who only pay, promise or not
    if not isinstance(value, Mapping):
        problems.append(Problem("behaviour", "reactions", "must hold the reactions' chances"))
        return NO_REACTIONS
    names = {"complaint_rate", "dispute_rate", "plan_rate", "third_party_complaint_rate"}
    for name in sorted(set(value) - names):
        problems.append(Problem("behaviour", f"reactions.{name}", "unknown setting"))
    return Reactions(
        _unit(value.get("complaint_rate"), "reactions.complaint_rate", problems),
        _unit(value.get("dispute_rate"), "reactions.dispute_rate", problems),
        _per_behaviour(value.get("plan_rate"), "reactions.plan_rate", problems),
        _unit(
            value.get("third_party_complaint_rate"),
            "reactions.third_party_complaint_rate",
            problems,
        ),
    )


def _spell(value: Any, key: str, problems: list[Problem]) -> Spell:
    if value is None:
        return NO_SPELL  # optional: no such spells
    if not isinstance(value, Mapping):
        problems.append(Problem("behaviour", key, "must hold share and days"))
        return NO_SPELL
    for name in sorted(set(value) - {"share", "days"}):
        problems.append(Problem("behaviour", f"{key}.{name}", "unknown setting"))
    share = _unit(value.get("share"), f"{key}.share", problems)
    days = _days(value.get("days"), f"{key}.days", problems)
    return Spell(share, days)
