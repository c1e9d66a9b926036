"""The compliance gate: one pure function from history, proposal and context to a Decision.

An engine calls `check` once per proposed contact with the borrower's full contact history
(lender and agencies, all debts) and the context as of the proposal's time. When the contact
is made, the engine appends it, with its outcome, to the history for the next call.
"""

from __future__ import annotations

from collections.abc import Iterable

from arrears.core.compliance.limits import LenderSettings, tighten
from arrears.core.compliance.model import Contact, Context, Decision, Violation
from arrears.core.compliance.pack import Pack, Situation


def check(
    history: Iterable[Contact],
    proposed: Contact,
    context: Context,
    pack: Pack,
    settings: LenderSettings | None = None,
) -> Decision:
    """Decide whether `proposed` may go ahead under `pack` (tightened by `settings`).

    Settings looser than the pack are a caller's bug here: validate them once with
    `limits.tighten` when they are loaded, and handle its errors there.
    """
    limits, problems = tighten(pack.limits, settings)
    if limits is None:
        raise ValueError("; ".join(str(e) for e in problems))
    situation = Situation(tuple(history), proposed, context, limits)
    violations: list[Violation] = []
    warnings: list[Violation] = []
    for rule in pack.rules:
        for detail in rule.evaluate(situation):
            found = Violation(rule.id, rule.source, f"{rule.message} ({detail})")
            (warnings if rule.severity == "warn" else violations).append(found)
    return Decision(not violations, tuple(violations), tuple(warnings))
