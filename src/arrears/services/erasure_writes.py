"""What erasing a borrower writes: every column that holds a personal value of theirs, and the
fixed value it is left with. Kept as data, so the list is one place to read (and to check
against the encryption of personal data at rest: a sealed column must be erased here too).

A personal value is a name, a number, an address, or text a person wrote that may hold any of
them (notes, reports, reasons, complaint texts, message bodies). Loans, amounts, the ledger
and the evidence log are the lender's record of the debt and stay; the evidence log holds
keyed references and SHA-256s only, so it stays verifiable (``arrears evidence verify``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Table, delete, or_, select, update

from arrears.store import tables
from arrears.store.api_tables import api_sessions, idempotency_keys, login_codes
from arrears.store.case_tables import (
    borrower_contacts,
    borrower_records,
    complaints,
    contact_attempts,
    plans,
    queue_items,
    restructures,
    visits,
)
from arrears.store.credit_tables import credit_disputes
from arrears.store.hold_tables import moratoria
from arrears.store.instants import to_utc
from arrears.store.outbox_tables import mailbox, outbox
from arrears.store.people_tables import impostor_incidents
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

BLANK = ""  # what a NOT NULL text is left with; a nullable one is left NULL
# A message must have a recipient and a body to be read back at all (``OutboundMessage``):
# the outbox and the mailbox keep their rows, readable, with this in place of both.
MARK = "(erased)"


@dataclass(frozen=True, slots=True)
class Write:
    """Set ``values`` on the rows of ``table`` that belong to the borrower, by its
    ``borrower_id`` column or (``by="loan"``) by its ``loan_id`` among their loans."""

    table: Table
    values: Mapping[str, Any]
    by: Literal["borrower", "loan"] = "borrower"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.table.name}.{c}" for c in self.values)


WRITES = (
    Write(tables.borrowers, {"name": BLANK, "phone": BLANK, "phone_tail": None}),
    Write(borrower_profiles, {"email": None, "address": None}),
    Write(visits, {"address": None, "reason": BLANK, "report": None}),
    Write(outbox, {"recipient": MARK, "subject": BLANK, "body": MARK, "last_error": None}),
    Write(mailbox, {"recipient": MARK, "subject": BLANK, "body": MARK}),
    Write(contact_attempts, {"number": BLANK}),
    Write(queue_items, {"number": BLANK, "script": BLANK}),
    Write(borrower_contacts, {"text": BLANK}),
    Write(complaints, {"text": BLANK, "outcome": BLANK}),
    Write(borrower_records, {"caller_name": None, "text": BLANK, "file_name": None}),
    Write(plans, {"note": BLANK, "decision_note": BLANK}),
    Write(restructures, {"note": BLANK}),
    Write(moratoria, {"end_reason": None}),
    Write(impostor_incidents, {"detail": "{}"}),
    Write(credit_disputes, {"reason": BLANK, "outcome_reason": None}, by="loan"),
)

# Rows that are nothing but personal data or a way in as the borrower: removed.
# (emergency contacts: a name, a number and a relation; sign-in codes and sessions: a signed-in
# borrower could read what was erased; cached API answers: they may quote it.)
REMOVED = (
    "emergency_contacts",
    "login_codes",
    "api_sessions (the borrower's)",
    "idempotency_keys (the borrower's, and staff answers about them)",
)


def erased_columns() -> tuple[str, ...]:
    """Every column erasure writes, as ``table.column``, for the report and the tests."""
    return ("borrowers.erased_on", *(c for w in WRITES for c in w.columns))


def write_all(conn: Connection, borrower_id: str, loan_ids: list[str], on: Any) -> int:
    """Blank the borrower's personal values, remove their personal rows and mark them
    erased on ``on``; how many rows changed."""
    changed = 0
    for w in WRITES:
        where: ColumnElement[bool]
        if w.by == "loan":
            if not loan_ids:
                continue
            where = w.table.c.loan_id.in_(loan_ids)
        else:
            where = w.table.c.borrower_id == borrower_id
        changed += conn.execute(update(w.table).where(where).values(**w.values)).rowcount
    changed += conn.execute(
        update(tables.borrowers)
        .where(tables.borrowers.c.borrower_id == borrower_id)
        .values(erased_on=on)
    ).rowcount
    return changed + _remove(conn, borrower_id)


def _remove(conn: Connection, borrower_id: str) -> int:
    removed = conn.execute(
        delete(emergency_contacts).where(emergency_contacts.c.borrower_id == borrower_id)
    ).rowcount
    removed += conn.execute(
        delete(login_codes).where(login_codes.c.borrower_id == borrower_id)
    ).rowcount
    removed += conn.execute(
        delete(api_sessions).where(
            api_sessions.c.kind == "borrower", api_sessions.c.subject == borrower_id
        )
    ).rowcount
    # A staff member's cached answer about the borrower is found by the path it was for.
    ik = idempotency_keys.c
    about = or_(ik.subject == borrower_id, ik.path.contains(f"/{borrower_id}/"),
                ik.path.endswith(f"/{borrower_id}"))  # fmt: skip
    removed += conn.execute(delete(idempotency_keys).where(about)).rowcount
    return int(removed)


def end_open_calls(conn: Connection, borrower_id: str, now: datetime) -> int:
    """Calls still on the queue for the borrower are done, as ``erased``: no one calls a
    number that is no longer there, and the queue drops them."""
    q = queue_items.c
    return int(
        conn.execute(
            update(queue_items)
            .where(q.borrower_id == borrower_id, q.done_at.is_(None))
            .values(done_at=to_utc(now), outcome="erased")
        ).rowcount
    )


def cancel_messages(conn: Connection, borrower_id: str) -> int:
    """Messages not yet sent to the borrower are cancelled: there is no one to send them to."""
    o = outbox.c
    return int(
        conn.execute(
            update(outbox)
            # one being sent now is the provider's already; the dispatcher refuses the rest
            .where(o.borrower_id == borrower_id, o.status == "queued")
            .values(status="cancelled", last_error=None)
        ).rowcount
    )


def loan_ids_of(conn: Connection, borrower_id: str) -> list[str]:
    lo = tables.loans.c
    return list(
        conn.execute(
            select(lo.loan_id).where(lo.borrower_id == borrower_id).order_by(lo.loan_id)
        ).scalars()
    )
