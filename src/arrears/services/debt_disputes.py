"""Written disputes of a debt and requests for the original creditor (Regulation F).

12 CFR 1006.38(c)-(d): when a consumer disputes a debt in writing, or asks in writing for the
name and address of the original creditor, within the validation period, the collector stops
collecting the debt (the disputed part) until it has sent verification, or the name and
address. Here a dispute recorded on a loan puts the loan in the gate's
``Context.verification_pending`` until ``verification sent`` is recorded; the US pack's
``us.pause.verification`` rule then blocks every collection contact about it. Both steps go to
the borrower's evidence chain.

These are not the credit-report disputes of ``services.credit`` (异议, 《征信业管理条例》 Art.
25, a month of a reported item and a 20-day answer): a Regulation F dispute concerns the debt
itself, not a bureau record, and has no deadline, only a pause.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast, get_args

from sqlalchemy import Connection, insert, or_, select, update

from arrears.core.evidence.chain import Kind
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.pending_contacts import cancel_pending
from arrears.store import tables
from arrears.store.hold_tables import debt_disputes, validation_notices
from arrears.store.instants import from_db, maybe_from_db
from arrears.store.membership import one_of

DisputeKind = Literal["dispute", "original-creditor"]
DISPUTE_KINDS: tuple[DisputeKind, ...] = get_args(DisputeKind)
VERIFICATION_SENT = "debt.verification_sent"  # evidence kind


@dataclass(frozen=True, slots=True)
class DebtDispute:
    dispute_id: int
    ref: str
    loan_id: str
    borrower_id: str
    kind: DisputeKind
    received_on: date
    recorded_at: datetime
    verification_sent_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        sent = self.verification_sent_at
        return {
            "dispute_id": self.dispute_id,
            "ref": self.ref,
            "loan_id": self.loan_id,
            "kind": self.kind,
            "received_on": self.received_on.isoformat(),
            "verification_sent_at": None if sent is None else sent.isoformat(),
        }


def _read(conn: Connection, *where: object) -> list[DebtDispute]:
    d, loans = debt_disputes, tables.loans
    q = (
        select(d, loans.c.borrower_id)
        .join(loans, loans.c.loan_id == d.c.loan_id)
        .where(*where)  # type: ignore[arg-type]
        .order_by(d.c.dispute_id)
    )
    return [
        DebtDispute(
            r.dispute_id,
            r.ref,
            r.loan_id,
            r.borrower_id,
            cast(DisputeKind, r.kind),
            r.received_on,
            from_db(r.recorded_at),
            maybe_from_db(r.verification_sent_at),
        )
        for r in conn.execute(q).all()
    ]


def open_debt_dispute(
    conn: Connection, *, ref: str, loan_id: str, kind: str, received_on: date, now: datetime
) -> Result[DebtDispute]:
    """Record a written dispute or original-creditor request (idempotent by ``ref``)."""
    rec = f"dispute {ref}"
    if not ref.strip() or len(ref) > 128:
        return fail(Problem(rec, "ref", "must be 1..128 characters"))
    if kind not in DISPUTE_KINDS:
        return fail(Problem(rec, "kind", f"must be one of {', '.join(DISPUTE_KINDS)}"))
    if received_on > now.date():
        return fail(Problem(rec, "received", f"{received_on} is in the future"))
    existing = _read(conn, debt_disputes.c.ref == ref)
    if existing:
        same = existing[0]
        if (same.loan_id, same.kind, same.received_on) == (loan_id, kind, received_on):
            return ok(same)
        return fail(Problem(rec, "ref", "already used for another dispute", "conflict"))
    borrower = conn.execute(
        select(tables.loans.c.borrower_id).where(tables.loans.c.loan_id == loan_id)
    ).scalar()
    if borrower is None:
        return fail(not_found(rec, f"loan {loan_id} not found", "loan"))
    dispute_id = conn.execute(
        insert(debt_disputes).returning(debt_disputes.c.dispute_id),
        [
            {
                "ref": ref,
                "loan_id": loan_id,
                "kind": kind,
                "received_on": received_on,
                "recorded_at": now,
            }
        ],
    ).scalar_one()
    made = DebtDispute(dispute_id, ref, loan_id, borrower, kind, received_on, now)
    payload = {"type": "debt_dispute", **made.as_dict()}
    log.append(conn, borrower, Kind.BORROWER_REQUEST, payload, now)
    # Collection of the debt pauses until verification is sent (§1006.38(d)(2)(i)): what the
    # last close planned for it is not made.
    cancel_pending(conn, [loan_id], reason=f"{kind} {ref} received", now=now)
    return ok(made)


def record_verification_sent(
    conn: Connection, dispute_id: int, *, sent_at: datetime, now: datetime
) -> Result[DebtDispute]:
    """Verification (or the original creditor's name and address) was sent: collection of
    the debt may resume (§1006.38(d)(2))."""
    rec = f"dispute {dispute_id}"
    found = _read(conn, debt_disputes.c.dispute_id == dispute_id)
    if not found:
        return fail(not_found(rec))
    d = found[0]
    if d.verification_sent_at is not None:
        sent = d.verification_sent_at.isoformat()
        return fail(Problem(rec, "", f"verification already sent at {sent}", "conflict"))
    if sent_at.utcoffset() is None:
        return fail(Problem(rec, "sent_at", "must carry a time zone"))
    if sent_at.date() < d.received_on:
        return fail(Problem(rec, "sent_at", f"is before the dispute came in ({d.received_on})"))
    conn.execute(
        update(debt_disputes)
        .where(debt_disputes.c.dispute_id == dispute_id)
        .values(verification_sent_at=sent_at)
    )
    done = DebtDispute(
        d.dispute_id, d.ref, d.loan_id, d.borrower_id, d.kind, d.received_on, d.recorded_at,
        sent_at,
    )  # fmt: skip
    log.append(conn, d.borrower_id, VERIFICATION_SENT, done.as_dict(), now)
    return ok(done)


def list_debt_disputes(conn: Connection, loan_id: str | None = None) -> list[DebtDispute]:
    if loan_id is None:
        return _read(conn)
    return _read(conn, debt_disputes.c.loan_id == loan_id)


def verification_pending(
    conn: Connection, borrower_ids: Iterable[str]
) -> dict[str, frozenset[str]]:
    """Each borrower's loans with a dispute, received within the validation period, whose
    verification has not been sent."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    d, loans, vn = debt_disputes, tables.loans, validation_notices
    # Within the validation period (§1006.38 applies to a dispute received by its end); a
    # loan with no notice on record has a period that cannot have ended.
    in_period = or_(vn.c.validation_end.is_(None), d.c.received_on <= vn.c.validation_end)
    q = (
        select(loans.c.borrower_id, d.c.loan_id)
        .join(loans, loans.c.loan_id == d.c.loan_id)
        .outerjoin(vn, vn.c.loan_id == d.c.loan_id)
        .where(
            one_of(conn, loans.c.borrower_id, ids),
            d.c.verification_sent_at.is_(None),
            in_period,
        )
    )
    out: dict[str, set[str]] = defaultdict(set)
    for borrower_id, loan_id in conn.execute(q).all():
        out[borrower_id].add(loan_id)
    return {b: frozenset(ls) for b, ls in out.items()}
