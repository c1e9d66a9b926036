"""Data actions: negative credit reporting, personal data to agencies, purging records."""

from __future__ import annotations

from collections.abc import Iterator

from arrears.core.compliance.pack import RuleFn, Situation
from arrears.core.compliance.rules.clock import add_years


def notice_before_report(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if proposed.purpose != "credit_report":
        return
    notice = situation.context.credit_notices.get(proposed.debt_id)
    if notice is None:
        yield f"no notice to the borrower about reporting debt {proposed.debt_id} on record"
    elif notice >= proposed.at:
        yield f"the notice ({notice.isoformat()}) is not before the report"


def entrustment_before_transfer(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    if proposed.purpose != "data_transfer":
        return
    if proposed.recipient is None:
        yield "the receiving agency is not named"
    elif proposed.recipient not in situation.context.entrustments:
        yield f"no entrustment agreement with {proposed.recipient} on record"


def retention(from_last_activity: bool) -> RuleFn:
    """No purge before the retention period has run. Recordings use the recording period
    where the pack has one, else the general record period. With `from_last_activity` the
    period runs from the last collection activity on the debt (§1006.100), not just from
    the newest record purged."""

    def evaluate(situation: Situation) -> Iterator[str]:
        proposed, limits = situation.proposed, situation.limits
        if proposed.purpose != "purge":
            return
        kind = proposed.record_kind or "record"
        years = limits.record_retention_years
        if kind == "recording" and limits.recording_retention_years is not None:
            years = limits.recording_retention_years
        if years is None:
            return
        if proposed.records_until is None:
            yield "the purge does not say up to when its records run"
            return
        start = proposed.records_until
        if from_last_activity:
            activity = [
                c.at for c in situation.history if c.is_contact and proposed.debt_id in c.debts
            ]
            start = max([start, *activity])
        keep_until = add_years(start, years)
        if proposed.at < keep_until:
            yield f"{kind}s must be kept {years} years, until {keep_until.isoformat()}"

    return evaluate
