"""What the borrower's portal pages share: the signed-in borrower's own loans, the ledger's
today, a loan id from a URL or a form that must be theirs, amounts typed into a form, and the
errors a form shows beside the field they are about.

A form error is ``FieldError(field, why, detail)``: ``field`` names the form's control (the
template shows its label), ``why`` one of the messages the templates know (``_portal.j2``),
``detail`` what the service said, for the rest.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo

from sqlalchemy import Connection, select

from arrears.api.deps import business_date, own_loan_ids
from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem
from arrears.services.collection.gate_context import zones
from arrears.store.profile_tables import borrower_profiles
from arrears.web.pages import PageRefused, Visitor


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    why: str
    detail: str = ""


def subject(me: Visitor) -> str:
    assert me.session is not None, "a borrower page has a signed-in borrower"
    return me.session.subject


def mine(db: Connection, me: Visitor) -> tuple[list[str], date | None]:
    """The borrower's loan ids and the date their loans were last closed to."""
    ids = own_loan_ids(db, subject(me))
    return ids, business_date(db, ids)


def own_loan(db: Connection, me: Visitor, loan_id: str | None) -> str:
    """``loan_id`` if it is the borrower's; another borrower's loan is not found, as a loan
    that does not exist."""
    if not loan_id or loan_id not in own_loan_ids(db, subject(me)):
        raise PageRefused(404, "not_found")
    return loan_id


def chosen_loan(ids: list[str], wanted: str | None) -> str | None:
    """The loan a page is about: the one in the URL, which must be the borrower's (another's
    is not found), else their first."""
    if wanted:
        if wanted not in ids:
            raise PageRefused(404, "not_found")
        return wanted
    return ids[0] if ids else None


def amount(text: str, field: str) -> tuple[int | None, FieldError | None]:
    """An amount in yuan as typed ("300", "1,200.50"), in fen; or the error naming ``field``."""
    raw = text.strip()
    if not raw:
        return None, FieldError(field, "required")
    try:
        fen = parse_amount(raw)
    except MoneyError as exc:
        return None, FieldError(field, "not_amount", str(exc))
    if fen <= 0:
        return None, FieldError(field, "not_positive")
    return fen, None


def whole(text: str, field: str, lo: int, hi: int) -> tuple[int | None, FieldError | None]:
    raw = text.strip()
    if not raw:
        return None, FieldError(field, "required")
    if not raw.isdigit():
        return None, FieldError(field, "not_number")
    n = int(raw)
    if not lo <= n <= hi:
        return None, FieldError(field, "out_of_range", f"{lo}-{hi}")
    return n, None


def from_problems(problems: Iterable[Problem], fields: Mapping[str, str]) -> list[FieldError]:
    """A service's problems as form errors: ``fields`` maps the service's field names to the
    form's; a problem about anything else is shown as it is, at the top of the form."""
    return [FieldError(fields.get(p.field, ""), "service", p.reason) for p in problems]


def attempt_key() -> str:
    """A fresh key for one form: sent back with the form, it makes a resubmission (a double
    click, a reload) the same request, which the service applies once."""
    return secrets.token_urlsafe(16)


def borrower_zone(db: Connection, borrower_id: str) -> tzinfo:
    """The borrower's own time zone (their profile's first), for times they type in."""
    text = db.execute(
        select(borrower_profiles.c.timezones).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    return zones(text or "")[0]


def form_value(form: Mapping[str, str], name: str, limit: int = 4000) -> str:
    return form.get(name, "")[:limit]
