"""Home visits: enough registered, currently trained collectors; approval and prior notice on
record; never to a customer flagged vulnerable. Daytime is `hours.visit_hours`."""

from __future__ import annotations

from collections.abc import Iterator

from arrears.core.compliance.pack import Situation
from arrears.core.compliance.rules.clock import add_months


def _is_visit(situation: Situation) -> bool:
    return situation.proposed.is_contact and situation.proposed.channel == "visit"


def collectors_qualified(situation: Situation) -> Iterator[str]:
    """At least N distinct registered collectors, each trained within the last M months."""
    limits = situation.limits
    needed, months = limits.min_visit_collectors, limits.training_valid_months
    if not _is_visit(situation) or needed is None:
        return
    visit_day = situation.proposed.at.date()
    registry = situation.context.collectors
    qualified: list[str] = []
    for collector in dict.fromkeys(situation.proposed.collectors):  # distinct, in order
        trained = registry.get(collector)
        if trained is None:
            yield f"{collector} is not a registered collector"
        elif months is not None and not trained <= visit_day <= add_months(trained, months):
            yield f"{collector}'s training ({trained}) is not within {months} months of the visit"
        else:
            qualified.append(collector)
    if len(qualified) < needed:
        yield f"{len(qualified)} qualified collector(s); at least {needed} required"


def approval_on_record(situation: Situation) -> Iterator[str]:
    if _is_visit(situation) and not situation.context.visit_approved:
        yield "no approval for this visit on record"


def prior_notice(situation: Situation) -> Iterator[str]:
    if not _is_visit(situation):
        return
    notice = situation.context.visit_notice_at
    if notice is None:
        yield "no notice of the visit to the borrower on record"
    elif notice >= situation.proposed.at:
        yield f"the notice ({notice.isoformat()}) is not before the visit"


def not_vulnerable(situation: Situation) -> Iterator[str]:
    if _is_visit(situation) and situation.context.vulnerable:
        yield "the customer is flagged vulnerable"
