"""For the borrower: what has been reported, what will be reported on which date if nothing is
paid, and when each negative item drops off. Pure: built from the loan's facts and a date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from arrears.core.credit.codes import NEGATIVE
from arrears.core.credit.history import MonthStatus, forecast
from arrears.core.credit.notices import report_allowed_from
from arrears.core.credit.report import LoanFacts, gate_reasons, instant_after, read_history
from arrears.core.credit.retention import negative_items
from arrears.core.money import fmt


def loan_view(facts: LoanFacts, as_of: date, coming_months: int = 3) -> dict[str, Any]:
    """One loan's part of the borrower's view, as JSON-ready data."""
    cur = facts.currency
    history = read_history(facts, as_of, None, engine="fast")
    reported = []
    for m in history.months:
        at = instant_after(m.reporting_date)
        blocked = gate_reasons(facts, at) if m.status in NEGATIVE else ()
        reported.append(
            {
                "month": m.month,
                "reporting_date": m.reporting_date.isoformat(),
                "status": m.status,
                "dpd": m.dpd,
                "overdue_amount": fmt(m.overdue_amount, cur),
                "reported": not blocked,
                **({"withheld_because": list(blocked)} if blocked else {}),
                **({"corrected_from": m.corrected_from} if m.corrected_from else {}),
            }
        )
    coming = forecast(
        facts.terms, facts.product, facts.events, as_of, coming_months, facts.settlements
    )
    items = negative_items(history.months, facts.rules.retention_years)
    return {
        "loan_id": facts.terms.loan_id,
        "pack": facts.rules.pack,
        "reported": reported,
        "if_nothing_is_paid": [
            {
                "month": m.month,
                "reporting_date": m.reporting_date.isoformat(),
                "status": m.status,
                "dpd": m.dpd,
                "overdue_amount": fmt(m.overdue_amount, cur),
            }
            for m in coming
        ],
        "negative_items": [
            {
                "month": i.month,
                "status": i.status,
                "conduct_ended": None if i.conduct_ended is None else i.conduct_ended.isoformat(),
                "drops_off": None if i.drops_off is None else i.drops_off.isoformat(),
            }
            for i in items
        ],
        "retention_years": facts.rules.retention_years,
        "retention_source": facts.rules.retention_source,
        "notice_sent_at": None if facts.notice_at is None else facts.notice_at.isoformat(),
        **_notice(facts, [*history.months, *coming]),
        "disputes": [
            {
                "dispute_id": d.dispute_id,
                "month": d.month,
                "reason": d.reason,
                "opened_at": d.opened_at.isoformat(),
                "deadline": d.deadline.isoformat(),
                "outcome": d.outcome,
                "outcome_reason": d.outcome_reason,
                "corrected_status": d.corrected_status,
            }
            for d in facts.disputes
            if d.opened_at <= instant_after(as_of)
        ],
    }


def _notice(facts: LoanFacts, months: Sequence[MonthStatus]) -> dict[str, Any]:
    """When the notice lets negative items be reported, and whether it came late: after the
    day it was due, the lead time before the first negative item's reporting date."""
    if facts.notice_on is None:
        return {}
    lead = timedelta(days=facts.rules.notice_days)
    first = next((m for m in months if m.status in NEGATIVE), None)
    late = first is not None and facts.notice_on > first.reporting_date - lead
    return {
        "notice_given_on": facts.notice_on.isoformat(),
        "reported_from": report_allowed_from(facts.notice_on, facts.rules).isoformat(),
        "notice_late": late,
    }


def borrower_view(
    borrower_id: str, loans: Sequence[LoanFacts], as_of: date, coming_months: int = 3
) -> dict[str, Any]:
    """The borrower's credit view over all their loans opened by ``as_of``."""
    return {
        "borrower_id": borrower_id,
        "as_of": as_of.isoformat(),
        "loans": [
            loan_view(f, as_of, coming_months)
            for f in sorted(loans, key=lambda f: f.terms.loan_id)
            if f.terms.disbursed_on <= as_of
        ],
    }
