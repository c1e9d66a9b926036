"""Erasing a borrower's personal data at the end of retention (``arrears erase``).

``erase_borrower`` checks the rule (``arrears.core.people.erasure``) against what the database
says of the borrower, and when they are due replaces every personal value of theirs
(``erasure_writes.WRITES``) in the caller's transaction, sets ``borrowers.erased_on`` and
appends one ``borrower.erased`` record to their evidence chain. The evidence log is never
rewritten: it holds keyed references and SHA-256s, not the values, so it stays verifiable.
``erase_due_borrowers`` does the same for every borrower due on a day, or only lists them.

Errors are values: a borrower not found, or not due (with the rule's reason), is a Problem.
Erasing an erased borrower changes nothing and says so (``already_erased``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, not_, or_, select

from arrears.core.compliance.packs import get_pack
from arrears.core.lender.settings import Settings
from arrears.core.people.erasure import (
    FINISHED,
    Horizon,
    Reason,
    Standing,
    Verdict,
    horizon,
    verdict,
)
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.erasure_writes import (
    cancel_messages,
    end_open_calls,
    loan_ids_of,
    write_all,
)
from arrears.services.settings import default_settings
from arrears.store import tables
from arrears.store.case_tables import cases, complaints, plans, visits
from arrears.store.credit_tables import credit_disputes
from arrears.store.evidence_tables import evidence_records
from arrears.store.hold_tables import debt_disputes, moratoria
from arrears.store.instants import from_db
from arrears.store.membership import one_of
from arrears.store.profile_tables import borrower_profiles

ERASED = "borrower.erased"  # the evidence record's kind
PLANS_UNDER_WAY = ("pending", "countered", "active")
VISITS_UNDER_WAY = ("requested", "approved", "assigned", "noticed")


@dataclass(frozen=True, slots=True)
class Erased:
    borrower_id: str
    erased_on: date
    already_erased: bool  # True: erased before, on ``erased_on``; nothing was written now
    rows_changed: int = 0
    evidence_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "borrower_id": self.borrower_id,
            "erased_on": self.erased_on.isoformat(),
            "already_erased": self.already_erased,
            "rows_changed": self.rows_changed,
            "evidence_seq": self.evidence_seq,
        }


@dataclass(frozen=True, slots=True)
class DueRun:
    on: date
    dry_run: bool
    checked: int  # borrowers not yet erased whose loans are all finished
    due: tuple[str, ...]  # due on ``on``: erased now, or (dry run) would be
    erased: tuple[Erased, ...] = ()
    kept: Mapping[str, int] = field(default_factory=dict)  # reason -> borrowers checked, kept

    def as_dict(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "dry_run": self.dry_run,
            "checked": self.checked,
            "due": list(self.due),
            "erased": [e.as_dict() for e in self.erased],
            "kept": dict(sorted(self.kept.items())),
        }


def erased_among(conn: Connection, borrower_ids: Iterable[str]) -> dict[str, date]:
    """Which of ``borrower_ids`` are erased, and on what day."""
    b = tables.borrowers.c
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    q = select(b.borrower_id, b.erased_on).where(
        one_of(conn, b.borrower_id, ids), b.erased_on.is_not(None)
    )
    return {str(k): v for k, v in conn.execute(q).all()}


def erased_problem(borrower_id: str, erased_on: date) -> Problem:
    """What a send, a call or a sign-in to an erased borrower is refused with."""
    return Problem(
        f"borrower {borrower_id}",
        "erased_on",
        f"personal data erased on {erased_on.isoformat()}: there is no one to contact",
        "conflict",
    )


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())


def _last_activity(conn: Connection, borrower_id: str, loan_ids: Sequence[str]) -> date | None:
    """The latest day anything happened: a loan drawn, an event on its money (its day, or the
    day it was recorded), a record on the borrower's evidence chain."""
    days: list[date] = []
    lo, ev, r = tables.loans.c, tables.loan_events.c, evidence_records.c
    drawn = conn.execute(select(func.max(lo.disbursed_on)).where(lo.borrower_id == borrower_id))
    days.extend(d for d in [drawn.scalar()] if d is not None)
    if loan_ids:
        row = conn.execute(
            select(func.max(ev.effective_on), func.max(ev.recorded_at)).where(
                ev.loan_id.in_(loan_ids)
            )
        ).one()
        if row[0] is not None:
            days.append(row[0])
        if row[1] is not None:
            days.append(from_db(row[1]).date())
    latest = conn.execute(select(func.max(r.at)).where(r.borrower_id == borrower_id)).scalar()
    if latest is not None:
        days.append(date.fromisoformat(str(latest)[:10]))  # at is UTC text, YYYY-MM-DDT...
    return max(days, default=None)


def standing(conn: Connection, borrower_id: str, on: date) -> Standing | None:
    """What the rule needs to know of the borrower on ``on``; None: no such borrower."""
    b = tables.borrowers.c
    found = conn.execute(select(b.erased_on).where(b.borrower_id == borrower_id)).first()
    if found is None:
        return None
    loan_ids = loan_ids_of(conn, borrower_id)
    st = tables.loan_state.c
    statuses = dict(
        conn.execute(select(st.loan_id, st.status).where(st.loan_id.in_(loan_ids))).all()
    )
    m = moratoria.c
    return Standing(
        # A loan no close has read yet has no state: it is treated as open.
        loan_statuses=tuple(str(statuses.get(x, "active")) for x in loan_ids),
        last_activity=_last_activity(conn, borrower_id, loan_ids),
        open_cases=_count(
            conn,
            select(cases.c.case_id).where(
                cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None)
            ),
        ),
        open_complaints=_count(
            conn,
            select(complaints.c.complaint_id).where(
                complaints.c.borrower_id == borrower_id, complaints.c.status == "open"
            ),
        ),
        open_disputes=_count(
            conn,
            select(debt_disputes.c.dispute_id).where(
                debt_disputes.c.loan_id.in_(loan_ids),
                debt_disputes.c.verification_sent_at.is_(None),
            ),
        )
        + _count(
            conn,
            select(credit_disputes.c.dispute_id).where(
                credit_disputes.c.loan_id.in_(loan_ids), credit_disputes.c.outcome.is_(None)
            ),
        ),
        plans_under_way=_count(
            conn,
            select(plans.c.plan_id).where(
                plans.c.borrower_id == borrower_id, plans.c.status.in_(PLANS_UNDER_WAY)
            ),
        ),
        # In force on the day, or still to start: either still holds the debt.
        moratoria_in_force=_count(
            conn,
            select(m.moratorium_id).where(
                m.borrower_id == borrower_id, or_(m.ends_on.is_(None), m.ends_on >= on)
            ),
        ),
        visits_under_way=_count(
            conn,
            select(visits.c.visit_id).where(
                visits.c.borrower_id == borrower_id, visits.c.status.in_(VISITS_UNDER_WAY)
            ),
        ),
        erased_on=found.erased_on,
    )


def horizon_of(conn: Connection, borrower_id: str, settings: Settings) -> Horizon:
    """The lender's period, or the borrower's rule pack's where it keeps records longer."""
    pack_id = conn.execute(
        select(borrower_profiles.c.rule_pack).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    pack = get_pack(str(pack_id or "cn"))
    return horizon(settings.retention.personal_data_years, None if pack is None else pack.limits)


def check(
    conn: Connection, borrower_id: str, on: date, settings: Settings | None = None
) -> Result[Verdict]:
    """The rule's verdict on the borrower on ``on``."""
    found = standing(conn, borrower_id, on)
    if found is None:
        return fail(not_found(f"borrower {borrower_id}", "no such borrower", "borrower"))
    return ok(verdict(found, on, horizon_of(conn, borrower_id, settings or default_settings())))


def _refusal(borrower_id: str, v: Verdict) -> Problem:
    return Problem(
        f"borrower {borrower_id}",
        "erasure",
        f"not due for erasure ({v.reason.value}): {v.words}",
        "conflict",
    )


def erase_borrower(
    conn: Connection,
    borrower_id: str,
    on: date,
    *,
    settings: Settings | None = None,
    at: datetime | None = None,
) -> Result[Erased]:
    """Erase the borrower's personal data on ``on`` if the rule says they are due; nothing
    commits here. ``at``: the evidence record's instant (default: now)."""
    found, problems = check(conn, borrower_id, on, settings)
    if found is None:
        return None, problems
    if found.reason is Reason.ALREADY_ERASED:
        erased_on = conn.execute(
            select(tables.borrowers.c.erased_on).where(
                tables.borrowers.c.borrower_id == borrower_id
            )
        ).scalar_one()
        return ok(Erased(borrower_id, erased_on, already_erased=True))
    if not found.due:
        return fail(_refusal(borrower_id, found))
    return ok(_erase(conn, borrower_id, on, found, at or datetime.now(UTC)))


def _erase(conn: Connection, borrower_id: str, on: date, v: Verdict, at: datetime) -> Erased:
    # The chain first: its lock serialises two erasures of one borrower on PostgreSQL, and a
    # second one then finds erased_on set (the row lock below) and writes nothing.
    log.lock(conn, [borrower_id])
    b = tables.borrowers.c
    q = select(b.erased_on).where(b.borrower_id == borrower_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    again = conn.execute(q).scalar()
    if again is not None:
        return Erased(borrower_id, again, already_erased=True)
    loan_ids = loan_ids_of(conn, borrower_id)
    cancelled = cancel_messages(conn, borrower_id)
    calls_ended = end_open_calls(conn, borrower_id, at)
    changed = write_all(conn, borrower_id, loan_ids, on)
    assert v.due_from is not None  # a due verdict has a day it was due from
    payload = {
        "on": on.isoformat(),
        "due_from": v.due_from.isoformat(),
        "retention_years": v.horizon.years,
        "governs": v.horizon.governs,
        "loans": len(loan_ids),
        "messages_cancelled": cancelled,
        "calls_ended": calls_ended,
    }
    record = log.append(conn, borrower_id, ERASED, payload, at)
    return Erased(borrower_id, on, False, changed, record.seq)


def candidates(conn: Connection) -> list[str]:
    """Borrowers not yet erased with every loan finished (none without a state): the only
    ones the rule can find due, so the rest are not read one by one."""
    b, lo, st = tables.borrowers.c, tables.loans.c, tables.loan_state.c
    unfinished = (
        select(lo.loan_id)
        .select_from(tables.loans.outerjoin(tables.loan_state, st.loan_id == lo.loan_id))
        .where(
            lo.borrower_id == b.borrower_id,
            or_(st.status.is_(None), not_(st.status.in_(sorted(FINISHED)))),
        )
    )
    q = select(b.borrower_id).where(and_(b.erased_on.is_(None), not_(exists(unfinished))))
    return list(conn.execute(q.order_by(b.borrower_id)).scalars())


def erase_due_borrowers(
    conn: Connection,
    on: date,
    dry_run: bool,
    *,
    settings: Settings | None = None,
    at: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result[DueRun]:
    """Erase (or with ``dry_run`` only list) every borrower due on ``on``; nothing commits
    here. ``progress(done, total)`` is called as each borrower is checked."""
    chosen = settings or default_settings()
    when = at or datetime.now(UTC)
    ids = candidates(conn)
    due: list[str] = []
    done: list[Erased] = []
    kept: Counter[str] = Counter()
    for done_count, borrower_id in enumerate(ids, start=1):
        v, problems = check(conn, borrower_id, on, chosen)
        if v is None:  # pragma: no cover - a candidate exists: read in this transaction
            return None, problems
        if v.due:
            due.append(borrower_id)
            if not dry_run:
                done.append(_erase(conn, borrower_id, on, v, when))
        else:
            kept[v.reason.value] += 1
        if progress is not None:
            progress(done_count, len(ids))
    return ok(DueRun(on, dry_run, len(ids), tuple(due), tuple(done), dict(kept)))
