"""The policy's input: one borrower's collection case as of a business day.

The lead builds `CaseView` from the database; the engine builds the same thing as a Polars
frame with these column names (`CASE_COLUMNS`) plus a long frame `(borrower_id, step,
last_date)` for `last_sent`. Money here is integer fen; `parse_case` takes yuan strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, NamedTuple

import polars as pl

from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem, Result, fail, ok


def _no_steps() -> Mapping[str, date]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CaseView:
    """One borrower's case. `loan_id` is the loan driving collection (highest DPD, ties by id);
    amounts cover all the borrower's active loans; `last_sent` maps a policy step name to the
    last date that step was actioned for this borrower."""

    borrower_id: str
    loan_id: str
    business_date: date
    dpd: int
    days_to_due: int | None
    overdue_amount: int
    outstanding_amount: int
    risk_score: int
    prior_cases: int
    promise_until: date | None
    promise_broken_on: date | None
    hardship: bool
    dispute: bool
    plan_in_force: bool
    unreachable_days: int
    visit_approved: bool
    emergency_contacts: int
    last_sent: Mapping[str, date] = field(default_factory=_no_steps)


# The frame form: one row per case, these columns and types (last_sent is a separate frame).
CASE_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "borrower_id": pl.String(),
        "loan_id": pl.String(),
        "business_date": pl.Date(),
        "dpd": pl.Int64(),
        "days_to_due": pl.Int64(),
        "overdue_amount": pl.Int64(),
        "outstanding_amount": pl.Int64(),
        "risk_score": pl.Int64(),
        "prior_cases": pl.Int64(),
        "promise_until": pl.Date(),
        "promise_broken_on": pl.Date(),
        "hardship": pl.Boolean(),
        "dispute": pl.Boolean(),
        "plan_in_force": pl.Boolean(),
        "unreachable_days": pl.Int64(),
        "visit_approved": pl.Boolean(),
        "emergency_contacts": pl.Int64(),
    }
)
CASE_COLUMNS: tuple[str, ...] = tuple(CASE_SCHEMA)
LAST_SENT_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {"borrower_id": pl.String(), "step": pl.String(), "last_date": pl.Date()}
)


def cases_frame(cases: list[CaseView]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The frame form of some cases: (cases, last_sent). Handy for tests and small batches."""
    rows = {name: [getattr(c, name) for c in cases] for name in CASE_COLUMNS}
    sent = [(c.borrower_id, step, day) for c in cases for step, day in c.last_sent.items()]
    last = pl.DataFrame(
        {
            "borrower_id": [s[0] for s in sent],
            "step": [s[1] for s in sent],
            "last_date": [s[2] for s in sent],
        },
        schema=dict(LAST_SENT_SCHEMA),
    )
    return pl.DataFrame(rows, schema=dict(CASE_SCHEMA)), last


class _Bad(NamedTuple):
    """A field at fault, while parsing; the caller gets them as Problems of the named case."""

    field: str
    reason: str


_INTS = ("dpd", "risk_score", "prior_cases", "unreachable_days", "emergency_contacts")
_BOOLS = ("hardship", "dispute", "plan_in_force", "visit_approved")
_MONEY = ("overdue_amount", "outstanding_amount")
_DATES = ("promise_until", "promise_broken_on")
_KNOWN = frozenset((*CASE_COLUMNS, "last_sent"))


def parse_case(data: Any, source: str = "case") -> Result[CaseView]:
    """A case from JSON-shaped data: dates ISO, amounts as yuan strings ("1234.50"), every
    field required except the optional dates, `days_to_due` and `last_sent`."""
    if not isinstance(data, dict):
        return fail(Problem(source, "", "must be a JSON object"))
    errors: list[_Bad] = [_Bad(k, "unknown field") for k in data if k not in _KNOWN]
    out: dict[str, Any] = {}

    def need(name: str) -> Any:
        if name not in data:
            errors.append(_Bad(name, "missing"))
        return data.get(name)

    for name in ("borrower_id", "loan_id"):
        value = need(name)
        if value is not None and (not isinstance(value, str) or not value):
            errors.append(_Bad(name, "must be a non-empty string"))
        out[name] = value
    out["business_date"] = _date(need("business_date"), "business_date", errors, required=True)
    for name in _INTS:
        value = need(name)
        if value is not None and (type(value) is not int or value < 0):
            errors.append(_Bad(name, "must be a whole number, 0 or more"))
        out[name] = value
    if isinstance(out.get("risk_score"), int) and out["risk_score"] > 1000:
        errors.append(_Bad("risk_score", "must be 0..1000"))
    dtd = data.get("days_to_due")
    if dtd is not None and (type(dtd) is not int or dtd < 0):
        errors.append(_Bad("days_to_due", "must be a whole number, 0 or more, or null"))
    if dtd is not None and out.get("dpd"):
        errors.append(_Bad("days_to_due", "must be null when dpd > 0"))
    out["days_to_due"] = dtd
    for name in _MONEY:
        value = need(name)
        out[name] = None
        if value is not None:
            try:
                if not isinstance(value, str):
                    raise MoneyError('write amounts as strings, e.g. "1234.50"')
                out[name] = parse_amount(value)
                if out[name] < 0:
                    raise MoneyError("must not be negative")
            except MoneyError as err:
                errors.append(_Bad(name, str(err)))
    for name in _DATES:
        out[name] = _date(data.get(name), name, errors, required=False)
    for name in _BOOLS:
        value = need(name)
        if value is not None and not isinstance(value, bool):
            errors.append(_Bad(name, "must be true or false"))
        out[name] = value
    sent: dict[str, date] = {}
    raw_sent = data.get("last_sent", {})
    if not isinstance(raw_sent, dict):
        errors.append(_Bad("last_sent", "must be an object: step name -> date"))
    else:
        for step, day in raw_sent.items():
            parsed = _date(day, f"last_sent.{step}", errors, required=True)
            if parsed is not None:
                sent[step] = parsed
    if errors:
        return fail(*(Problem(source, e.field, e.reason) for e in errors))
    return ok(CaseView(**out, last_sent=MappingProxyType(sent)))


def _date(value: Any, name: str, errors: list[_Bad], *, required: bool) -> date | None:
    if value is None:
        if required:
            errors.append(_Bad(name, "missing"))
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad()
    except ValueError:
        errors.append(_Bad(name, f"{value!r} is not a date (YYYY-MM-DD)"))
        return None


def _bad() -> date:
    raise ValueError
