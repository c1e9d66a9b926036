"""The policy validator: steps a rule pack would block most of the time, and risky setups.

`validate(policy_set, pack)` reads only the pack's `Limits` and the policy's steps; it does
not simulate. A warning does not make a policy invalid (the gate still blocks each contact);
it says the policy as written cannot work as intended under that pack.
"""

from __future__ import annotations

from datetime import time

from arrears.core.compliance.pack import Pack
from arrears.core.compliance.rules.parties import location_once
from arrears.core.strategy.model import Policy, PolicySet, PolicyWarning, Step


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def _outside(at: time, start: time | None, end: time | None) -> bool:
    # The pack's end is the first minute no contact may be made.
    return (start is not None and at < start) or (end is not None and at >= end)


def calls_per_window(step: Step, window_days: int) -> int:
    """The most calls this step alone makes in any `window_days` consecutive days."""
    if step.dpd_from is None:
        offsets = sorted(step.before_due)
        return max(sum(1 for o in offsets if first - window_days < o <= first) for first in offsets)
    return -(-window_days // step.cadence_days)


def repeats(step: Step) -> bool:
    """Whether the step can fire more than once in one episode."""
    if step.dpd_from is None:
        return len(step.before_due) > 1
    return step.dpd_to is None or step.dpd_to - step.dpd_from >= step.cadence_days


def _busiest_dpd(policy: Policy, window: int) -> tuple[int, list[Step], int] | None:
    """The DPD at which the debtor call steps' bands overlap most heavily (in calls per
    window), with those steps and the total. The maximum over intervals is reached at one of
    their start points, so only those are tried. Segments are ignored: two steps limited to
    different segments never both fire, so this may over-warn, never under-warn."""
    calls = [s for s in policy.steps if s.channel == "call" and s.party == "debtor"]
    best: tuple[int, list[Step], int] | None = None
    for start in sorted({s.dpd_from for s in calls if s.dpd_from is not None}):
        covering = [
            s
            for s in calls
            if s.dpd_from is not None
            and s.dpd_from <= start
            and (s.dpd_to is None or start <= s.dpd_to)
        ]
        total = sum(calls_per_window(s, window) for s in covering)
        if best is None or total > best[2]:
            best = (start, covering, total)
    return best


_Found = list[tuple[str, str]]  # (code, message) about one step


def _policy_warnings(policy: Policy, pack: Pack) -> list[PolicyWarning]:
    # Which rule a pack applies is data in the pack; look for the rule function, not its id.
    once_per_third_party = any(r.evaluate is location_once for r in pack.rules)
    out: list[PolicyWarning] = []
    for step in policy.steps:
        found = [
            *_hours_warnings(step, pack),
            *_third_party_warnings(step, pack, once_per_third_party),
            *_call_cap_warnings(step, pack),
        ]
        out.extend(PolicyWarning(policy.name, step.name, code, msg) for code, msg in found)
    together = _overlapping_calls_warning(policy, pack)
    if together is not None:
        out.append(PolicyWarning(policy.name, None, "call_cap", together))
    return out


def _hours_warnings(step: Step, pack: Pack) -> _Found:
    lim = pack.limits
    found: _Found = []
    if step.channel == "visit":
        start = lim.visit_day_start or lim.day_start
        end = lim.visit_day_end or lim.day_end
        if _outside(step.at, start, end):
            found.append(
                (
                    "visit_hours",
                    f"visit at {_hhmm(step.at)} is outside {pack.id} visit hours "
                    f"{_hhmm(start) if start else '00:00'}-{_hhmm(end) if end else '24:00'}; "
                    "every one would be blocked",
                )
            )
        if not step.requires_approval:
            found.append(
                (
                    "visit_approval",
                    "a visit step without requires_approval: visits need a supervisor's "
                    "approval on record",
                )
            )
    elif _outside(step.at, lim.day_start, lim.day_end):
        found.append(
            (
                "hours",
                f"{step.channel} at {_hhmm(step.at)} is outside {pack.id} contact hours "
                f"{_hhmm(lim.day_start) if lim.day_start else '00:00'}-"
                f"{_hhmm(lim.day_end) if lim.day_end else '24:00'}; every one would be blocked "
                "unless the borrower consented to late contact",
            )
        )
    return found


def _third_party_warnings(step: Step, pack: Pack, once_per_third_party: bool) -> _Found:
    found: _Found = []
    if step.party == "emergency_contact" and step.unreachable_days_at_least < 1:
        found.append(
            (
                "emergency_unreachable",
                "an emergency-contact step without unreachable_days_at_least: third parties "
                "may be contacted only when the debtor cannot be reached",
            )
        )
    if step.party == "emergency_contact" and once_per_third_party and repeats(step):
        found.append(
            (
                "third_party_once",
                f"{pack.id} allows one contact with each third party unless they ask for "
                f"more; this step repeats every {step.cadence_days} day(s), and every repeat "
                "would be blocked",
            )
        )
    return found


def _call_cap_warnings(step: Step, pack: Pack) -> _Found:
    cap, window = pack.limits.max_calls_per_window, pack.limits.call_window_days
    if step.channel != "call" or cap is None or window is None:
        return []
    calls = calls_per_window(step, window)
    if calls <= cap:
        return []
    return [
        (
            "call_cap",
            f"cadence of {step.cadence_days} day(s) makes up to {calls} calls in "
            f"{window} days; {pack.id} allows {cap}, so the rest would be blocked",
        )
    ]


def _overlapping_calls_warning(policy: Policy, pack: Pack) -> str | None:
    """Call steps running at the same DPD that together make more calls than the cap."""
    cap, window = pack.limits.max_calls_per_window, pack.limits.call_window_days
    if cap is None or window is None:
        return None
    worst = _busiest_dpd(policy, window)
    if worst is None or len(worst[1]) <= 1 or worst[2] <= cap:
        return None
    dpd, together, total = worst
    names = ", ".join(s.name for s in together)
    return (
        f"call steps {names} all run at DPD {dpd} and together make up to {total} "
        f"calls in {window} days; {pack.id} allows {cap}"
    )


def validate(policy_set: PolicySet, pack: Pack) -> list[PolicyWarning]:
    """Warnings for every policy in the set under `pack`, in policy and step order."""
    return [w for m in policy_set.members for w in _policy_warnings(m.policy, pack)]
