"""Restructuring a loan (债务重组) as a use case: an approver changes the terms (a longer term,
a new rate, overdue interest and penalty waived, the rest capitalised), for a reason, with
documents; the ledger re-ages the loan (a ``reschedule`` event with a rate); the restructure
count and the days past due before it are kept; the loan is classified at least special
mention until its observation period ends (``services.classification_floor``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from fractions import Fraction
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Connection, func, insert, select

from arrears.core.jsonable import jsonable
from arrears.core.loans.calendar import add_months
from arrears.core.money import MoneyError, fmt, parse_rate
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.core.requests import request_problems
from arrears.services import evidence as log
from arrears.services.classification_floor import lift_restructured
from arrears.services.events import apply_to_loan
from arrears.store import tables
from arrears.store.case_tables import restructures
from arrears.store.instants import from_db, to_utc

R = restructures
RESTRUCTURED = "loan.restructured"


@dataclass(frozen=True, slots=True)
class RestructuringRules:
    reasons: tuple[str, ...]
    max_months: int
    observation_months: int


@functools.cache
def default_rules() -> RestructuringRules:
    path = resources.files("arrears") / "data" / "borrower" / "restructuring.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RestructuringRules(
        tuple(data["reasons"]), int(data["max_months"]), int(data["observation_months"])
    )


@dataclass(frozen=True, slots=True)
class Restructure:
    restructure_id: int
    key: str
    borrower_id: str
    loan_id: str
    approved_by: str
    reason: str
    on_date: date
    months: int
    rate: str | None  # yearly, as a decimal percent ("6%"), None: no interest
    waive_interest: int
    waive_penalty: int
    dpd_before: int
    count: int
    observe_until: date
    event_ref: str
    recorded_at: datetime
    already_recorded: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        out["waive_interest"] = fmt(self.waive_interest)
        out["waive_penalty"] = fmt(self.waive_penalty)
        return out


def _percent(value: Fraction) -> str:
    return f"{float(value * 100):g}%"


def _restructure(row: Any, already: bool = False) -> Restructure:
    return Restructure(
        row.restructure_id,
        row.key,
        row.borrower_id,
        row.loan_id,
        row.approved_by,
        row.reason,
        row.on_date,
        row.months,
        None if row.rate is None else _percent(Fraction(row.rate)),
        row.waive_interest,
        row.waive_penalty,
        row.dpd_before,
        row.count,
        row.observe_until,
        row.event_ref,
        from_db(row.recorded_at),
        already,
    )


def restructure(
    conn: Connection,
    *,
    key: str,
    loan_id: str,
    approved_by: str,
    reason: str,
    at: datetime,
    months: int,
    rate: str | None = None,
    waive_interest: int = 0,
    waive_penalty: int = 0,
    note: str = "",
    documents: Sequence[bytes] = (),
    rules: RestructuringRules | None = None,
) -> Result[Restructure]:
    """Restructure ``loan_id`` on its last close's date: ``months`` annuity installments from
    a month later at the yearly ``rate`` ("6%", "0.06"; None: no interest), after waiving
    ``waive_interest`` of the overdue interest and ``waive_penalty`` of the penalty; what is
    left of them is capitalised. The same ``key`` again is the same restructure."""
    rules = rules or default_rules()
    record = f"restructure {key}"
    problems = request_problems(record, key, at)
    if not approved_by.strip():
        problems.append(Problem(record, "approved_by", "a restructure needs an approver"))
    if reason not in rules.reasons:
        problems.append(Problem(record, "reason", f"must be one of {', '.join(rules.reasons)}"))
    if not 1 <= months <= rules.max_months:
        problems.append(Problem(record, "months", f"must be 1 to {rules.max_months}"))
    parsed: Fraction | None = None
    if rate is not None:
        try:
            parsed = parse_rate(rate)
        except MoneyError as exc:
            problems.append(Problem(record, "rate", str(exc)))
    for name, value in (("waive_interest", waive_interest), ("waive_penalty", waive_penalty)):
        if value < 0:
            problems.append(Problem(record, name, "must not be negative"))
    if problems:
        return fail(*problems)
    prior = conn.execute(select(R).where(R.c.key == key)).first()
    if prior is not None:
        if prior.loan_id != loan_id or prior.months != months:
            return fail(Problem(record, "key", "already used for another restructure", "conflict"))
        return ok(_restructure(prior, already=True))
    loan = conn.execute(
        select(tables.loans.c.borrower_id, tables.loan_state.c.dpd, tables.loan_state.c.as_of)
        .join(tables.loan_state, tables.loan_state.c.loan_id == tables.loans.c.loan_id)
        .where(tables.loans.c.loan_id == loan_id)
    ).first()
    if loan is None:
        return fail(not_found(record, f"no loan {loan_id}", "loan_id"))
    count = 1 + int(
        conn.execute(select(func.count()).select_from(R).where(R.c.loan_id == loan_id)).scalar_one()
    )
    on = loan.as_of
    ref = f"restructure:{key}"
    want: dict[str, object] = {
        "kind": "reschedule",
        "ref": ref,
        "amount": waive_penalty,
        "effective_on": on,
        "months": months,
        "first_due": add_months(on, 1),
        "waive_interest": waive_interest,
        "rate": None if parsed is None else str(parsed),
    }
    applied, refused = apply_to_loan(conn, loan_id, [want])
    if applied is None:
        return fail(*(Problem(record, p.field, p.reason, p.code) for p in refused))
    digests = ",".join(hashlib.sha256(d).hexdigest() for d in documents)
    observe_until = add_months(on, rules.observation_months)
    conn.execute(
        insert(R).values(
            key=key,
            borrower_id=loan.borrower_id,
            loan_id=loan_id,
            approved_by=approved_by,
            reason=reason,
            note=note,
            documents=digests,
            on_date=on,
            months=months,
            rate=None if parsed is None else str(parsed),
            waive_interest=waive_interest,
            waive_penalty=waive_penalty,
            dpd_before=loan.dpd,
            count=count,
            observe_until=observe_until,
            event_ref=ref,
            recorded_at=to_utc(at),
        )
    )
    # apply_to_loan classified the re-aged loan before this row existed: the floor now.
    lift_restructured(conn, [loan_id])
    log.append(
        conn,
        loan.borrower_id,
        RESTRUCTURED,
        {
            "key": key,
            "loan_id": loan_id,
            "approved_by": approved_by,
            "reason": reason,
            "months": months,
            "rate": None if parsed is None else str(parsed),
            "waive_interest": waive_interest,
            "waive_penalty": waive_penalty,
            "dpd_before": loan.dpd,
            "count": count,
            "observe_until": observe_until.isoformat(),
            "documents": [d for d in digests.split(",") if d],
            "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(),
        },
        at,
    )
    return ok(_restructure(conn.execute(select(R).where(R.c.key == key)).one()))


def list_restructures(conn: Connection, loan_id: str | None = None) -> list[Restructure]:
    q = select(R).order_by(R.c.restructure_id)
    if loan_id is not None:
        q = q.where(R.c.loan_id == loan_id)
    return [_restructure(r) for r in conn.execute(q)]
