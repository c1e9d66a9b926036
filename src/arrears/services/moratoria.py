"""Moratoria on a borrower's debts: recorded, ended, read by the gate and by the close.

The Debt Respite Scheme (Breathing Space Moratorium and Mental Health Crisis Moratorium)
(England and Wales) Regulations 2020: while a moratorium is in force the creditor adds no
interest, fees or charges to the moratorium debts and takes no enforcement action (reg. 7),
and does not contact the debtor to ask for payment (reg. 11). A breathing space moratorium
lasts 60 days (reg. 26); a debtor may have one every 12 months (reg. 24). A mental health
crisis moratorium lasts until 30 days after the crisis treatment ends (Part 3), a date not
known when it starts.

What this means here: the gate's ``uk.pause.breathing-space`` rule blocks every contact about
a moratorium debt on the days in force; the close accrues no penalty on those days (the
kernel and the per-loan reference both read :func:`loan_pauses`); every start and end is a
record in the borrower's evidence chain. Days already closed are not re-aged: a moratorium
starts after the last day its loans were closed, and ends no earlier than that day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select, update

from arrears.core.compliance.model import MORATORIUM_KINDS, Moratorium, MoratoriumKind
from arrears.core.evidence.chain import sha256_hex
from arrears.core.ledger.account import Pauses
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.pending_contacts import cancel_pending
from arrears.store import tables
from arrears.store.hold_tables import moratoria, moratorium_loans
from arrears.store.instants import maybe_from_db
from arrears.store.membership import one_of

BREATHING_SPACE_DAYS = 60  # reg. 26
CRISIS_AFTER_TREATMENT_DAYS = 30  # Part 3: the treatment plus 30 days
ONE_PER_DAYS = 365  # reg. 24: no breathing space within 12 months of the last
STARTED, ENDED = "moratorium.started", "moratorium.ended"  # evidence kinds
FOREVER = date.max  # the last day of an open-ended moratorium, for the close


@dataclass(frozen=True, slots=True)
class MoratoriumRecord:
    moratorium_id: int
    ref: str
    borrower_id: str
    kind: MoratoriumKind
    starts_on: date
    ends_on: date | None
    loan_ids: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    def as_gate(self) -> Moratorium:
        return Moratorium(self.kind, self.starts_on, self.ends_on, frozenset(self.loan_ids))

    def as_dict(self) -> dict[str, object]:
        return {
            "moratorium_id": self.moratorium_id,
            "ref": self.ref,
            "borrower_id": self.borrower_id,
            "kind": self.kind,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": None if self.ends_on is None else self.ends_on.isoformat(),
            "loan_ids": list(self.loan_ids),
            "end_reason": self.end_reason,
        }

    def evidence_dict(self) -> dict[str, object]:
        """As the chain records it: the end's reason (a person's words, which may name
        people) as its SHA-256, since the chain outlives the erasure of personal data."""
        out = self.as_dict()
        reason = out.pop("end_reason")
        if reason is not None:
            out["end_reason_sha256"] = sha256_hex(str(reason))
        return out


def _records(conn: Connection, where: Sequence[ColumnElement[bool]]) -> list[MoratoriumRecord]:
    m, ml = moratoria, moratorium_loans
    rows = conn.execute(select(m).where(*where).order_by(m.c.moratorium_id)).all()
    if not rows:
        return []
    ids = [r.moratorium_id for r in rows]
    loans: dict[int, list[str]] = defaultdict(list)
    q = select(ml.c.moratorium_id, ml.c.loan_id).where(ml.c.moratorium_id.in_(ids))
    for moratorium_id, loan_id in conn.execute(q.order_by(ml.c.loan_id)).all():
        loans[moratorium_id].append(loan_id)
    return [
        MoratoriumRecord(
            r.moratorium_id,
            r.ref,
            r.borrower_id,
            cast(MoratoriumKind, r.kind),
            r.starts_on,
            r.ends_on,
            tuple(loans[r.moratorium_id]),
            cast(datetime, maybe_from_db(r.started_at)),
            maybe_from_db(r.ended_at),
            r.end_reason,
        )
        for r in rows
    ]


def list_moratoria(conn: Connection, borrower_id: str | None = None) -> list[MoratoriumRecord]:
    where: list[ColumnElement[bool]] = []
    if borrower_id is not None:
        where.append(moratoria.c.borrower_id == borrower_id)
    return _records(conn, where)


def _last_closed(conn: Connection, loan_ids: Sequence[str]) -> date | None:
    """The latest day any of the loans has been closed through."""
    ls = tables.loan_state
    last: date | None = conn.execute(
        select(func.max(ls.c.as_of)).where(ls.c.loan_id.in_(loan_ids))
    ).scalar()
    return last


def _covered(
    conn: Connection, rec: str, borrower_id: str, loan_ids: Sequence[str]
) -> Result[list[str]]:
    """The loans the moratorium covers: those named (the borrower's own), else every active
    loan of the borrower."""
    q = select(tables.loans.c.loan_id).where(tables.loans.c.borrower_id == borrower_id)
    owned = set(conn.execute(q).scalars())
    if loan_ids:
        for loan_id in loan_ids:
            if loan_id not in owned:
                return fail(Problem(rec, "loan", f"loan {loan_id} is not borrower {borrower_id}'s"))
        return ok(sorted(set(loan_ids)))
    active = select(tables.loan_state.c.loan_id).where(
        tables.loan_state.c.loan_id.in_(sorted(owned)), tables.loan_state.c.status == "active"
    )
    found = sorted(conn.execute(active).scalars())
    if not found:
        return fail(Problem(rec, "borrower", f"borrower {borrower_id} has no active loan"))
    return ok(found)


def _start_problem(
    conn: Connection, rec: str, borrower_id: str, kind: str, starts_on: date, until: date | None
) -> Problem | None:
    if kind not in MORATORIUM_KINDS:
        return Problem(rec, "kind", f"must be one of {', '.join(MORATORIUM_KINDS)}")
    if kind == "breathing-space" and until is not None:
        return Problem(rec, "until", "a breathing space lasts 60 days; end it early with 'end'")
    if until is not None and until < starts_on:
        return Problem(rec, "until", f"{until} is before the start {starts_on}")
    if kind == "breathing-space":
        m = moratoria
        recent = conn.execute(
            select(m.c.ref, m.c.starts_on).where(
                m.c.borrower_id == borrower_id,
                m.c.kind == "breathing-space",
                m.c.starts_on > starts_on - timedelta(days=ONE_PER_DAYS),
            )
        ).first()
        if recent is not None:
            return Problem(
                rec,
                "from",
                f"breathing space {recent.ref} started on {recent.starts_on}: one per 12 months",
                "conflict",
            )
    return None


def start_moratorium(
    conn: Connection,
    *,
    ref: str,
    borrower_id: str,
    kind: str,
    starts_on: date,
    until: date | None = None,
    loan_ids: Sequence[str] = (),
    now: datetime,
) -> Result[MoratoriumRecord]:
    """Record a moratorium (idempotent by ``ref``) and append ``moratorium.started``."""
    rec = f"moratorium {ref}"
    if not ref.strip() or len(ref) > 128:
        return fail(Problem(rec, "ref", "must be 1..128 characters"))
    existing = _records(conn, [moratoria.c.ref == ref])
    if existing:
        same = existing[0]
        if (same.borrower_id, same.kind, same.starts_on) == (borrower_id, kind, starts_on):
            return ok(same)
        return fail(Problem(rec, "ref", "already used for another moratorium", "conflict"))
    known = conn.execute(
        select(tables.borrowers.c.borrower_id).where(tables.borrowers.c.borrower_id == borrower_id)
    ).first()
    if known is None:
        return fail(not_found(rec, f"borrower {borrower_id} not found", "borrower"))
    problem = _start_problem(conn, rec, borrower_id, kind, starts_on, until)
    if problem is not None:
        return fail(problem)
    covered, problems = _covered(conn, rec, borrower_id, loan_ids)
    if covered is None:
        return None, problems
    closed = _last_closed(conn, covered)
    if closed is not None and starts_on <= closed:
        return fail(
            Problem(
                rec,
                "from",
                f"{starts_on} is not after {closed}, the last day its loans were closed "
                "(closed days are not re-aged)",
                "conflict",
            )
        )
    ends_on = until
    if kind == "breathing-space":
        ends_on = starts_on + timedelta(days=BREATHING_SPACE_DAYS - 1)
    moratorium_id = conn.execute(
        insert(moratoria).returning(moratoria.c.moratorium_id),
        [
            {
                "ref": ref,
                "borrower_id": borrower_id,
                "kind": kind,
                "starts_on": starts_on,
                "ends_on": ends_on,
                "started_at": now,
            }
        ],
    ).scalar_one()
    conn.execute(
        insert(moratorium_loans),
        [{"moratorium_id": moratorium_id, "loan_id": loan_id} for loan_id in covered],
    )
    record = MoratoriumRecord(
        moratorium_id,
        ref,
        borrower_id,
        cast(MoratoriumKind, kind),
        starts_on,
        ends_on,
        tuple(covered),
        now,
    )
    log.append(conn, borrower_id, STARTED, record.as_dict(), now)
    # What the last close planned for these loans may no longer be made (reg. 7).
    cancel_pending(
        conn,
        covered,
        reason=f"{kind} moratorium {ref} recorded, in force from {starts_on}",
        now=now,
    )
    return ok(record)


def end_moratorium(
    conn: Connection,
    moratorium_id: int,
    *,
    on: date | None = None,
    treatment_ended: date | None = None,
    reason: str,
    now: datetime,
) -> Result[MoratoriumRecord]:
    """End a moratorium: ``on`` is its last day in force; for a mental health crisis
    moratorium ``treatment_ended`` sets it to 30 days after the treatment ended."""
    rec = f"moratorium {moratorium_id}"
    found = _records(conn, [moratoria.c.moratorium_id == moratorium_id])
    if not found:
        return fail(not_found(rec))
    m = found[0]
    if (on is None) == (treatment_ended is None):
        return fail(Problem(rec, "on", "give exactly one of the last day or the treatment's end"))
    if treatment_ended is not None:
        if m.kind != "mental-health-crisis":
            return fail(Problem(rec, "treatment_ended", "only a mental health crisis moratorium"))
        on = treatment_ended + timedelta(days=CRISIS_AFTER_TREATMENT_DAYS)
    assert on is not None
    if not reason.strip():
        return fail(Problem(rec, "reason", "must not be empty"))
    if m.ended_at is not None:
        return fail(Problem(rec, "", f"already ended on {m.ends_on}", "conflict"))
    if on < m.starts_on:
        return fail(Problem(rec, "on", f"{on} is before the start {m.starts_on}"))
    if m.ends_on is not None and on > m.ends_on:
        return fail(Problem(rec, "on", f"{on} is after its end {m.ends_on}; it cannot be extended"))
    closed = _last_closed(conn, m.loan_ids)
    if closed is not None and on < closed:
        return fail(
            Problem(
                rec,
                "on",
                f"{on} is before {closed}, a day already closed under the moratorium",
                "conflict",
            )
        )
    conn.execute(
        update(moratoria)
        .where(moratoria.c.moratorium_id == moratorium_id)
        .values(ends_on=on, ended_at=now, end_reason=reason)
    )
    ended = MoratoriumRecord(
        m.moratorium_id, m.ref, m.borrower_id, m.kind, m.starts_on, on, m.loan_ids, m.started_at,
        now, reason,
    )  # fmt: skip
    log.append(conn, m.borrower_id, ENDED, ended.evidence_dict(), now)
    return ok(ended)


def gate_moratoria(
    conn: Connection, borrower_ids: Iterable[str], since: date
) -> dict[str, tuple[Moratorium, ...]]:
    """Each borrower's moratoria that have not ended before ``since``, for the gate."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    m = moratoria
    where = [
        one_of(conn, m.c.borrower_id, ids),
        or_(m.c.ends_on.is_(None), m.c.ends_on >= since),
    ]
    out: dict[str, list[Moratorium]] = defaultdict(list)
    for record in _records(conn, where):
        out[record.borrower_id].append(record.as_gate())
    return {b: tuple(ms) for b, ms in out.items()}


def loan_pauses(conn: Connection, loan_ids: Sequence[str]) -> dict[str, Pauses]:
    """Each loan's days without penalty: its moratoria as (first, last) ranges."""
    if not loan_ids:
        return {}
    m, ml = moratoria, moratorium_loans
    q = (
        select(ml.c.loan_id, m.c.starts_on, m.c.ends_on)
        .join(m, m.c.moratorium_id == ml.c.moratorium_id)
        .where(one_of(conn, ml.c.loan_id, loan_ids))
        .order_by(ml.c.loan_id, m.c.starts_on)
    )
    out: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for loan_id, first, last in conn.execute(q).all():
        out[loan_id].append((first, FOREVER if last is None else last))
    return {loan_id: tuple(ranges) for loan_id, ranges in out.items()}
