"""Who may be contacted: the debtor first; others only when the debtor cannot be reached,
only to locate the debtor or pass on a message, never told of the debt; stop on refusal."""

from __future__ import annotations

from collections.abc import Iterator

from arrears.core.compliance.model import CALLBACK_REQUESTED, REFUSED
from arrears.core.compliance.pack import Situation
from arrears.core.compliance.rules.content import debt_disclosures


def only_when_unreachable(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if proposed.is_contact and proposed.party != "debtor" and situation.context.reachable:
        yield f"the debtor is reachable, so the {proposed.party} must not be contacted"


def no_debt_disclosure(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if not proposed.is_contact or proposed.party == "debtor":
        return
    found = debt_disclosures(proposed.content)
    if found:
        yield f"the content mentions the debt to a {proposed.party}: {', '.join(found)}"


def stop_on_refusal(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if not proposed.is_contact or proposed.party == "debtor":
        return
    if proposed.number in situation.context.refused:
        yield f"{proposed.number} refused further contact (on record)"
        return
    for c in situation.history:
        if c.person == proposed.person and c.outcome == REFUSED:
            yield f"{proposed.number} refused further contact on {c.at.isoformat()}"
            return


def location_once(situation: Situation) -> Iterator[str]:
    """A third party is contacted for location information once, unless they asked to be
    contacted again (their latest contact's outcome is `callback_requested`)."""
    proposed = situation.proposed
    if not proposed.is_contact or proposed.party == "debtor":
        return
    earlier = sorted(
        (c for c in situation.history if c.is_contact and c.person == proposed.person),
        key=lambda c: c.at,
    )
    if earlier and earlier[-1].outcome != CALLBACK_REQUESTED:
        yield f"{proposed.number} was already contacted on {earlier[-1].at.isoformat()}"
