"""One loan's bureau record for one month, and the history read-out as JSON (pure).

Everything a record says is as of the month's report instant: the start of the day after the
loan's reporting date, in UTC. Disputes, corrections and notices count if recorded before it,
so exporting a past month again gives the same record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from arrears.core.compliance import Contact, Context, check
from arrears.core.compliance.packs import get_pack
from arrears.core.credit.codes import NEGATIVE
from arrears.core.credit.disputes import Dispute, apply_corrections, open_disputes
from arrears.core.credit.history import CreditHistory, credit_history, reporting_date
from arrears.core.credit.notices import report_allowed_from
from arrears.core.credit.retention import retained
from arrears.core.credit.rules import CreditRules
from arrears.core.ledger.replay import Event
from arrears.core.loans.product import Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import fmt


@dataclass(frozen=True, slots=True)
class LoanFacts:
    """What the credit record of one loan is built from."""

    terms: LoanTerms
    product: Product
    borrower_id: str
    currency: str
    rules: CreditRules
    events: tuple[Event, ...]
    settlements: Mapping[str, str] = field(default_factory=dict)
    notice_at: datetime | None = None  # the first credit notice on record
    disputes: tuple[Dispute, ...] = ()
    # The business day that notice was given: the report waits the lead time from it.
    notice_on: date | None = None


@dataclass(frozen=True, slots=True)
class Reported:
    facts: LoanFacts
    history: CreditHistory  # the window reported, corrections applied, expired items left out
    disputes: tuple[Dispute, ...]  # open at the report instant
    resolved_dispute: bool  # a dispute on the loan was answered before the report instant


@dataclass(frozen=True, slots=True)
class Withheld:
    loan_id: str
    month: str
    reasons: tuple[str, ...]


def instant_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), UTC)


def read_history(
    facts: LoanFacts, as_of: date, months: int | None, *, engine: str = "daily"
) -> CreditHistory:
    """The read-out: the ledger's history, corrections applied, expired items left out."""
    h = credit_history(
        facts.terms, facts.product, facts.events, as_of, facts.settlements, engine=engine
    )
    return finish_history(facts, h, months)


def finish_history(facts: LoanFacts, h: CreditHistory, months: int | None) -> CreditHistory:
    """The ledger's history as shown: corrections applied, expired items left out, windowed."""
    h = apply_corrections(h, facts.disputes, instant_after(h.as_of))
    return retained(h, facts.rules.retention_years).last(months)


def report_gate(facts: LoanFacts, history: CreditHistory, at: datetime) -> tuple[str, ...]:
    """Why negative items in ``history`` may not be reported at ``at`` (empty: they may)."""
    if not any(m.status in NEGATIVE for m in history.months):
        return ()
    return gate_reasons(facts, at)


def gate_reasons(facts: LoanFacts, at: datetime) -> tuple[str, ...]:
    """The compliance gate on reporting negative information about the loan at ``at``."""
    pack = get_pack(facts.rules.pack)
    if pack is None:  # pragma: no cover - rules exist only for known packs
        raise AssertionError(facts.rules.pack)
    notices = {} if facts.notice_at is None else {facts.terms.loan_id: facts.notice_at}
    proposed = Contact(at=at, debt_id=facts.terms.loan_id, purpose="credit_report")
    decision = check((), proposed, Context(timezones=(UTC,), credit_notices=notices), pack)
    reasons = [f"{v.rule}: {v.message}" for v in decision.violations]
    if facts.notice_at is not None and facts.notice_on is not None:
        # The notice named a date at least the lead time after it was given: the item is
        # reported on a reporting date from then, never before (at is the instant after one).
        allowed = report_allowed_from(facts.notice_on, facts.rules)
        if (at - timedelta(days=1)).date() < allowed:
            reasons.append(
                f"credit.notice-lead-time: the notice given on {facts.notice_on} lets the item "
                f"be reported from {allowed} ({facts.rules.notice_days} days' notice)"
            )
    return tuple(reasons)


def month_record(
    facts: LoanFacts,
    month: str,
    *,
    window: int = 24,
    engine: str = "fast",
    ledger_history: Callable[[date], CreditHistory] | None = None,
) -> Reported | Withheld | None:
    """The loan's record for ``month`` (YYYY-MM); None when the loan has no such month.

    ``ledger_history(reporting_date)`` may supply the ledger's history (e.g. resumed from a
    checkpoint); by default it is derived here with ``engine``.
    """
    year, mon = int(month[:4]), int(month[5:7])
    r = reporting_date(facts.terms, year, mon)
    if r < facts.terms.disbursed_on:
        return None
    if ledger_history is None:
        history = read_history(facts, r, window, engine=engine)
    else:
        history = finish_history(facts, ledger_history(r), window)
    if not history.months or history.months[-1].month != month:
        return None  # closed in an earlier month, or this month's item has expired
    at = instant_after(r)
    loan_disputes = [d for d in facts.disputes if d.opened_at <= at]
    late = [d for d in open_disputes(loan_disputes, at) if d.overdue_at(at)]
    reasons = [
        f"dispute {d.dispute_id} on {d.month}: no outcome by its deadline {d.deadline}"
        for d in late
    ]
    reasons.extend(report_gate(facts, history, at))
    if reasons:
        return Withheld(facts.terms.loan_id, month, tuple(reasons))
    resolved = any(d.resolved_at is not None and d.resolved_at <= at for d in loan_disputes)
    return Reported(facts, history, tuple(open_disputes(loan_disputes, at)), resolved)


def history_json(h: CreditHistory, currency: str = "CNY") -> dict[str, Any]:
    """The ``credit history --json`` shape (issue 5), oldest month first."""
    return {
        "loan_id": h.loan_id,
        "as_of": h.as_of.isoformat(),
        "months": [
            {
                "month": m.month,
                "reporting_date": m.reporting_date.isoformat(),
                "status": m.status,
                "dpd": m.dpd,
                "overdue_amount": fmt(m.overdue_amount, currency),
                **({"corrected_from": m.corrected_from} if m.corrected_from else {}),
            }
            for m in h.months
        ],
        "status_string": h.status_string,
        "overdue_periods": h.overdue_periods,
        "max_overdue_periods": h.max_overdue_periods,
        "largest_overdue_amount": fmt(h.largest_overdue_amount, currency),
        "classification": h.classification,
    }


def record_json(rec: Reported | Withheld, month: str) -> dict[str, Any]:
    if isinstance(rec, Withheld):
        return {
            "record": "withheld",
            "loan_id": rec.loan_id,
            "month": month,
            "reasons": list(rec.reasons),
        }
    f = rec.facts
    last = rec.history.months[-1]
    return {
        "record": "account",
        "month": month,
        "reporting_date": last.reporting_date.isoformat(),
        "borrower_id": f.borrower_id,
        "pack": f.rules.pack,
        "status": last.status,
        "balance": fmt(last.balance, f.currency),
        "disputed": bool(rec.disputes),
        "disputes": [
            {"dispute_id": d.dispute_id, "month": d.month, "deadline": d.deadline.isoformat()}
            for d in rec.disputes
        ],
        "history": history_json(rec.history, f.currency),
    }
