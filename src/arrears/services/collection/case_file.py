"""A borrower's case file: their cases, contact history, promises and visits, in one read.

What an agent opens before a call and what ``arrears case show`` prints; the API and the web
case page read the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from arrears.core.compliance.model import Contact
from arrears.core.jsonable import jsonable
from arrears.core.money import fmt
from arrears.core.problem import Result, fail, not_found, ok
from arrears.services.collection.history import history_for
from arrears.services.collection.promises import list_promises
from arrears.services.collection.visits import Visit, list_visits
from arrears.store.case_tables import cases

# The parts of a contact a case file shows; content and consent stay in the evidence log.
CONTACT_FIELDS = (
    "at",
    "debt_id",
    "channel",
    "party",
    "number",
    "connected",
    "conversation",
    "outcome",
    "collectors",
)


@dataclass(frozen=True, slots=True)
class CaseFile:
    borrower_id: str
    cases: tuple[dict[str, Any], ...]  # case rows, oldest first
    contacts: tuple[Contact, ...]  # oldest first
    promises: tuple[dict[str, Any], ...]  # by due date
    visits: tuple[Visit, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO 8601, amounts as yuan strings."""
        return {
            "borrower_id": self.borrower_id,
            "cases": [jsonable(c) for c in self.cases],
            "contacts": [
                jsonable({k: getattr(c, k) for k in CONTACT_FIELDS}) for c in self.contacts
            ],
            "promises": [
                jsonable({**p, "amount": fmt(p["amount"]), "paid": fmt(p["paid"])})
                for p in self.promises
            ],
            "visits": [jsonable(v.as_dict()) for v in self.visits],
        }


def case_file(conn: Connection, borrower_id: str) -> Result[CaseFile]:
    """The borrower's file; not_found when no case was ever opened for them."""
    rows = conn.execute(
        select(cases).where(cases.c.borrower_id == borrower_id).order_by(cases.c.case_id)
    ).all()
    if not rows:
        return fail(not_found(f"borrower {borrower_id}", "no case on record", "borrower_id"))
    return ok(
        CaseFile(
            borrower_id=borrower_id,
            cases=tuple(dict(r._mapping) for r in rows),
            contacts=tuple(history_for(conn, [borrower_id])[borrower_id]),
            promises=tuple(list_promises(conn, borrower_id)),
            visits=tuple(list_visits(conn, borrower_id)),
        )
    )
