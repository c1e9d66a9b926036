"""Installment plans as use cases: request, the policy's or a supervisor's decision (with a
counter-offer the borrower accepts), the plan in force on the ledger, and the daily check that
finds a plan kept to the end or broken.

A plan in force is a ``reschedule`` loan event (``core.ledger.plan``): the ledger re-ages the
loan, so its days past due, its bucket and its credit reporting follow the plan. While it is in
force the borrower's case carries ``plan_in_force``, which the gate's pause rule and the
strategy read: only plan reminders go out. A plan installment still unpaid ``grace_days`` after
its due date breaks the plan: the flag drops and collection resumes on the re-aged loan. Every
step is a record in the borrower's evidence chain.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import Connection, insert, select, update

from arrears.core.borrower.installments import (
    InstallmentPolicy,
    Preview,
    decide,
    months_for,
    parse_policy,
    preview,
)
from arrears.core.jsonable import jsonable
from arrears.core.money import fmt
from arrears.core.problem import Problem, Result, expect, fail, not_found, ok
from arrears.core.requests import request_problems
from arrears.services import evidence as log
from arrears.services.accounts import load_accounts
from arrears.services.collection.cases import set_case_flag
from arrears.services.events import apply_to_loan, reverse_in
from arrears.store import tables
from arrears.store.case_tables import plans
from arrears.store.instants import from_db, maybe_from_db, to_utc

P = plans
OPEN = ("pending", "countered", "active")
MAX_TEXT = 2000
PLAN_REQUEST = "borrower.request"
PLAN_DECIDED = "plan.decided"
PLAN_ACTIVE = "plan.active"
PLAN_ENDED = "plan.ended"


@functools.cache
def default_policy() -> InstallmentPolicy:
    """The policy shipped in ``data/borrower/installments.yaml`` (tested)."""
    path = resources.files("arrears") / "data" / "borrower" / "installments.yaml"
    return expect(parse_policy(yaml.safe_load(path.read_text(encoding="utf-8")), "installments"))


@dataclass(frozen=True, slots=True)
class Plan:
    plan_id: int
    key: str
    borrower_id: str
    loan_id: str
    status: str
    reason: str
    on_date: date
    months: int
    first_due: date
    waive_penalty: int
    total: int
    monthly: int
    decided_by: str | None
    decision_note: str
    event_ref: str | None
    ended_on: date | None
    requested_at: datetime
    decided_at: datetime | None
    already_recorded: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        for k in ("waive_penalty", "total", "monthly"):
            out[k] = fmt(getattr(self, k))
        return out


def _plan(row: Any, already: bool = False) -> Plan:
    return Plan(
        row.plan_id,
        row.key,
        row.borrower_id,
        row.loan_id,
        row.status,
        row.reason,
        row.on_date,
        row.months,
        row.first_due,
        row.waive_penalty,
        row.total,
        row.monthly,
        row.decided_by,
        row.decision_note,
        row.event_ref,
        row.ended_on,
        from_db(row.requested_at),
        maybe_from_db(row.decided_at),
        already,
    )


def _get(conn: Connection, plan_id: int) -> Plan | None:
    row = conn.execute(select(P).where(P.c.plan_id == plan_id)).first()
    return None if row is None else _plan(row)


def preview_plan(
    conn: Connection,
    loan_id: str,
    *,
    months: int | None = None,
    monthly: int | None = None,
    waive_penalty: int = 0,
    policy: InstallmentPolicy | None = None,
) -> Result[Preview]:
    """What a plan would be on the loan as it stands (its last close): give ``months``, or the
    ``monthly`` amount the borrower can pay (the fewest months that repay it at most that)."""
    policy = policy or default_policy()
    record = f"plan for loan {loan_id}"
    if (months is None) == (monthly is None):
        return fail(Problem(record, "months", "give the number of months or a monthly amount"))
    if monthly is not None and monthly <= 0:
        return fail(Problem(record, "monthly", "must be positive"))
    if waive_penalty < 0:
        return fail(Problem(record, "waive_penalty", "must not be negative"))
    found = load_accounts(conn, [loan_id]).get(loan_id)
    if found is None:
        return fail(not_found(record, f"no loan {loan_id}", "loan_id"))
    rec, acct = found
    if months is None:
        assert monthly is not None
        owed = sum(i.unpaid for i in acct.installments if i.due_date <= acct.as_of)
        owed += sum(i.unpaid_principal for i in acct.installments if i.due_date > acct.as_of)
        owed += acct.penalty_owed + acct.penalty_unposted - waive_penalty
        months = months_for(owed, monthly)
        if months > policy.max_months:
            return fail(
                Problem(
                    record,
                    "monthly",
                    f"{fmt(monthly)} a month would take {months} months; "
                    f"at most {policy.max_months} are possible",
                )
            )
    return preview(acct, rec.product, policy, f"preview:{loan_id}", months, waive_penalty)


def _checked(
    record: str, key: str, at: datetime, reason: str, note: str, policy: InstallmentPolicy
) -> list[Problem]:
    problems = request_problems(record, key, at)
    if reason not in policy.reasons:
        problems.append(Problem(record, "reason", f"must be one of {', '.join(policy.reasons)}"))
    if len(note) > MAX_TEXT:
        problems.append(Problem(record, "note", f"must be at most {MAX_TEXT} characters"))
    return problems


def request_plan(
    conn: Connection,
    *,
    key: str,
    borrower_id: str,
    loan_id: str,
    at: datetime,
    reason: str,
    months: int | None = None,
    monthly: int | None = None,
    waive_penalty: int = 0,
    note: str = "",
    documents: Sequence[bytes] = (),
    policy: InstallmentPolicy | None = None,
) -> Result[Plan]:
    """The borrower proposes a plan. The policy approves it (in force at once), refers it to a
    supervisor (``pending``) or refuses it (a problem: nothing recorded). Documents are kept
    by their SHA-256. The same ``key`` again is the same request."""
    policy = policy or default_policy()
    record = f"plan {key}"
    problems = _checked(record, key, at, reason, note, policy)
    if problems:
        return fail(*problems)
    prior = conn.execute(select(P).where(P.c.key == key)).first()
    if prior is not None:
        if (prior.borrower_id, prior.loan_id, prior.reason) != (borrower_id, loan_id, reason):
            return fail(Problem(record, "key", "already used for another plan", "conflict"))
        return ok(_plan(prior, already=True))
    owner = conn.execute(
        select(tables.loans.c.borrower_id).where(tables.loans.c.loan_id == loan_id)
    ).scalar()
    if owner != borrower_id:  # another borrower's loan is as unknown as a missing one
        return fail(not_found(record, f"no loan {loan_id} of {borrower_id}", "loan_id"))
    open_plan = conn.execute(
        select(P.c.plan_id, P.c.status).where(P.c.loan_id == loan_id, P.c.status.in_(OPEN))
    ).first()
    if open_plan is not None:
        return fail(
            Problem(
                record,
                "loan_id",
                f"loan {loan_id} already has plan {open_plan.plan_id} ({open_plan.status})",
                "conflict",
            )
        )
    shown, previewed = preview_plan(
        conn, loan_id, months=months, monthly=monthly, waive_penalty=waive_penalty, policy=policy
    )
    if shown is None:
        return fail(*previewed)
    decision = decide(policy, shown, reason)
    if decision.outcome == "refuse":
        return fail(*(Problem(record, "months", why) for why in decision.reasons))
    digests = ",".join(hashlib.sha256(d).hexdigest() for d in documents)
    conn.execute(
        insert(P).values(
            key=key,
            borrower_id=borrower_id,
            loan_id=loan_id,
            status="pending",
            reason=reason,
            note=note,
            documents=digests,
            on_date=shown.on,
            months=shown.months,
            first_due=shown.first_due,
            waive_penalty=shown.waive_penalty,
            total=shown.total,
            monthly=shown.monthly,
            requested_at=to_utc(at),
        )
    )
    plan_id = int(conn.execute(select(P.c.plan_id).where(P.c.key == key)).scalar_one())
    log.append(
        conn,
        borrower_id,
        PLAN_REQUEST,
        {
            "kind": "installment_plan",
            "plan_id": plan_id,
            "key": key,
            "loan_id": loan_id,
            "reason": reason,
            "months": shown.months,
            "monthly": shown.monthly,
            "total": shown.total,
            "waive_penalty": shown.waive_penalty,
            "documents": [d for d in digests.split(",") if d],
            "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(),
        },
        at,
    )
    if decision.outcome == "approve":
        return _activate(conn, plan_id, "policy", at, "within the lender's automatic limits")
    _decided(conn, plan_id, "pending", "policy", at, "; ".join(decision.reasons))
    return ok(expect_plan(conn, plan_id))


def expect_plan(conn: Connection, plan_id: int) -> Plan:
    found = _get(conn, plan_id)
    assert found is not None, plan_id
    return found


def _decided(conn: Connection, plan_id: int, status: str, by: str, at: datetime, note: str) -> None:
    plan = expect_plan(conn, plan_id)
    conn.execute(
        update(P)
        .where(P.c.plan_id == plan_id)
        .values(status=status, decided_by=by, decided_at=to_utc(at), decision_note=note)
    )
    log.append(
        conn,
        plan.borrower_id,
        PLAN_DECIDED,
        {
            "plan_id": plan_id,
            "status": status,
            "by": by,
            "months": plan.months,
            "waive_penalty": plan.waive_penalty,
            "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(),
        },
        at,
    )


def _activate(conn: Connection, plan_id: int, by: str, at: datetime, note: str) -> Result[Plan]:
    """Re-age the loan into the plan on the ledger, flag the case, record it."""
    plan = expect_plan(conn, plan_id)
    ref = f"plan:{plan_id}"
    want: dict[str, object] = {
        "kind": "reschedule",
        "ref": ref,
        "amount": plan.waive_penalty,
        "effective_on": plan.on_date,
        "months": plan.months,
        "first_due": plan.first_due,
    }
    applied, problems = apply_to_loan(conn, plan.loan_id, [want])
    if applied is None:
        return fail(*problems)
    last = conn.execute(
        select(tables.installments.c.n)
        .where(tables.installments.c.loan_id == plan.loan_id)
        .order_by(tables.installments.c.n.desc())
        .limit(1)
    ).scalar_one()
    conn.execute(
        update(P)
        .where(P.c.plan_id == plan_id)
        .values(
            status="active",
            decided_by=by,
            decided_at=to_utc(at),
            decision_note=note,
            event_ref=ref,
            first_n=int(last) - plan.months + 1,  # the plan's installments come last
        )
    )
    _pause(conn, plan.borrower_id)
    log.append(
        conn,
        plan.borrower_id,
        PLAN_ACTIVE,
        {
            "plan_id": plan_id,
            "loan_id": plan.loan_id,
            "by": by,
            "event_ref": ref,
            "months": plan.months,
            "first_due": plan.first_due.isoformat(),
            "monthly": plan.monthly,
            "total": plan.total,
        },
        at,
    )
    return ok(expect_plan(conn, plan_id))


def decide_plan(
    conn: Connection,
    plan_id: int,
    *,
    decision: str,
    by: str,
    at: datetime,
    note: str = "",
    months: int | None = None,
    waive_penalty: int | None = None,
    policy: InstallmentPolicy | None = None,
) -> Result[Plan]:
    """A supervisor decides a pending plan: ``approve`` (in force at once), ``reject``, or
    ``counter`` with other ``months`` and/or ``waive_penalty`` (the borrower then accepts)."""
    policy = policy or default_policy()
    record = f"plan {plan_id}"
    if decision not in ("approve", "reject", "counter"):
        return fail(Problem(record, "decision", "must be approve, reject or counter"))
    if not by.strip():
        return fail(Problem(record, "by", "must name the supervisor"))
    if at.utcoffset() is None:
        return fail(Problem(record, "at", "must carry a time-zone offset"))
    plan = _get(conn, plan_id)
    if plan is None:
        return fail(not_found(record, "no such plan", "plan_id"))
    if plan.status != "pending":
        return fail(Problem(record, "status", f"is {plan.status}, not pending", "conflict"))
    if decision == "reject":
        _decided(conn, plan_id, "rejected", by, at, note)
        return ok(expect_plan(conn, plan_id))
    if decision == "approve":
        return _activate(conn, plan_id, by, at, note)
    if months is None and waive_penalty is None:
        return fail(Problem(record, "months", "a counter-offer changes the months or the waiver"))
    shown, problems = preview_plan(
        conn,
        plan.loan_id,
        months=plan.months if months is None else months,
        waive_penalty=plan.waive_penalty if waive_penalty is None else waive_penalty,
        policy=policy,
    )
    if shown is None:
        return fail(*problems)
    hard = decide(policy, shown, plan.reason)
    if hard.outcome == "refuse":
        return fail(*(Problem(record, "months", why) for why in hard.reasons))
    conn.execute(
        update(P)
        .where(P.c.plan_id == plan_id)
        .values(
            on_date=shown.on,
            months=shown.months,
            first_due=shown.first_due,
            waive_penalty=shown.waive_penalty,
            total=shown.total,
            monthly=shown.monthly,
        )
    )
    _decided(conn, plan_id, "countered", by, at, note)
    return ok(expect_plan(conn, plan_id))


def accept_offer(conn: Connection, plan_id: int, *, borrower_id: str, at: datetime) -> Result[Plan]:
    """The borrower accepts a supervisor's counter-offer: the plan comes into force."""
    record = f"plan {plan_id}"
    plan = _get(conn, plan_id)
    if plan is None or plan.borrower_id != borrower_id:
        return fail(not_found(record, "no such plan of yours", "plan_id"))
    if plan.status != "countered":
        return fail(Problem(record, "status", f"is {plan.status}: no offer to accept", "conflict"))
    if at.utcoffset() is None:
        return fail(Problem(record, "at", "must carry a time-zone offset"))
    return _activate(conn, plan_id, plan.decided_by or "supervisor", at, "offer accepted")


def _pause(conn: Connection, borrower_id: str) -> None:
    """The case pauses for plans while every overdue loan of the borrower is in a plan in
    force: a plan on one loan does not stop the collection of another loan in arrears."""
    loans, s = tables.loans, tables.loan_state
    planned = select(P.c.loan_id).where(P.c.borrower_id == borrower_id, P.c.status == "active")
    in_plan = conn.execute(planned.limit(1)).first() is not None
    other_overdue = conn.execute(
        select(loans.c.loan_id)
        .join(s, s.c.loan_id == loans.c.loan_id)
        .where(
            loans.c.borrower_id == borrower_id,
            s.c.status == "active",
            s.c.dpd > 0,
            loans.c.loan_id.not_in(planned),
        )
        .limit(1)
    ).first()
    set_case_flag(conn, borrower_id, "plan_in_force", in_plan and other_overdue is None)


def _end(
    conn: Connection, plan: Plan, status: str, on: date, at: datetime, why: str, note: str = ""
) -> None:
    """``why`` is the system's words; ``note`` a person's, which the chain keeps as a SHA-256
    (it may name people, and the chain outlives the erasure of personal data)."""
    conn.execute(update(P).where(P.c.plan_id == plan.plan_id).values(status=status, ended_on=on))
    _pause(conn, plan.borrower_id)
    payload = {"plan_id": plan.plan_id, "loan_id": plan.loan_id, "status": status, "why": why}
    if note:
        payload["note_sha256"] = hashlib.sha256(note.encode("utf-8")).hexdigest()
    log.append(conn, plan.borrower_id, PLAN_ENDED, payload, at)


def cancel_plan(
    conn: Connection, plan_id: int, *, by: str, at: datetime, on: date, note: str
) -> Result[Plan]:
    """Undo a plan in force (entered in error): the reschedule is reversed on the ledger, the
    loan re-aged back as if there had been no plan, and collection resumes."""
    record = f"plan {plan_id}"
    plan = _get(conn, plan_id)
    if plan is None:
        return fail(not_found(record, "no such plan", "plan_id"))
    if plan.status != "active" or plan.event_ref is None:
        return fail(Problem(record, "status", f"is {plan.status}, not active", "conflict"))
    if not by.strip() or not note.strip():
        return fail(Problem(record, "note", "a cancellation names who and why"))
    done, problems = reverse_in(conn, plan.event_ref, f"cancel:{plan.event_ref}", on)
    if done is None:
        return fail(*problems)
    _end(conn, plan, "cancelled", on, at, f"cancelled by {by}", note)
    return ok(expect_plan(conn, plan_id))


@dataclass(frozen=True, slots=True)
class PlanCheck:
    broken: tuple[int, ...]
    completed: tuple[int, ...]
    in_force: int


def check_plans(
    conn: Connection, on: date, at: datetime, policy: InstallmentPolicy | None = None
) -> PlanCheck:
    """The close's daily look at plans in force on business date ``on``: completed when every
    plan installment is paid, broken when one is unpaid ``grace_days`` after its due date; the
    rest keep their borrower's case paused (a case opened today is flagged too)."""
    policy = policy or default_policy()
    active = [_plan(r) for r in conn.execute(select(P).where(P.c.status == "active"))]
    broken: list[int] = []
    completed: list[int] = []
    inst = tables.installments
    cutoff = on - timedelta(days=policy.grace_days)
    for plan in active:
        first_n = conn.execute(select(P.c.first_n).where(P.c.plan_id == plan.plan_id)).scalar_one()
        rows = conn.execute(
            select(inst.c.due_date, inst.c.principal, inst.c.paid_principal).where(
                inst.c.loan_id == plan.loan_id, inst.c.n >= first_n
            )
        ).all()
        unpaid = [r for r in rows if r.paid_principal < r.principal]
        if not unpaid:
            _end(conn, plan, "completed", on, at, "every installment paid")
            completed.append(plan.plan_id)
        elif any(r.due_date < cutoff for r in unpaid):
            _end(conn, plan, "broken", on, at, f"an installment unpaid {policy.grace_days} days")
            broken.append(plan.plan_id)
        else:
            _pause(conn, plan.borrower_id)  # a case opened today is paused too
    return PlanCheck(tuple(broken), tuple(completed), len(active) - len(broken) - len(completed))


def list_plans(
    conn: Connection, *, borrower_id: str | None = None, status: str | None = None
) -> list[Plan]:
    q = select(P).order_by(P.c.plan_id)
    if borrower_id is not None:
        q = q.where(P.c.borrower_id == borrower_id)
    if status is not None:
        q = q.where(P.c.status == status)
    return [_plan(r) for r in conn.execute(q)]
