"""The lender's routes: money on the ledger (payments, reversals, waivers, by an admin or a
supervisor, as the lender's payment system or back office would post them), the agents' queue
and call outcomes, installment plans awaiting a decision, forecasts, complaints and visits.

An agent sees only what is theirs: the queue items they claimed, the borrowers whose case is
assigned to them. A field collector sees only the visits they are assigned. Compliance reads
everything and changes nothing. Phone numbers are masked for everyone but the agent who dials.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from arrears.api.bodies import Body
from arrears.api.deps import (
    Agents,
    Auditors,
    CaseReaders,
    CaseReadersApart,
    Config,
    Db,
    Deciders,
    ForecastDays,
    IdempotencyKey,
    MoneyMovers,
    Paged,
    Readers,
    RowId,
    VisitReaders,
    money,
    not_found,
    now,
    value,
)
from arrears.api.idempotency import answer_once, once
from arrears.core.contact.outcomes import Outcome
from arrears.core.loans.product import Component
from arrears.core.people.masking import mask_address
from arrears.services import events
from arrears.services.close.forecast import borrower_forecast
from arrears.services.collection.complaints import list_complaints
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.plans import decide_plan, list_plans
from arrears.services.collection.queue import item_dict, list_queue, next_item
from arrears.services.collection.visits import list_visits
from arrears.services.pii_audit import list_reads, record_reads
from arrears.services.signin import Session
from arrears.store.case_tables import cases

router = APIRouter(tags=["staff"])

PlanStatus = Literal[
    "pending", "countered", "active", "completed", "broken", "rejected", "cancelled"
]


class PaymentIn(Body):
    amount: str = Field(max_length=20, examples=["300.00"], description="in yuan")
    on: date = Field(description="the day the money was received")
    ref: str = Field(min_length=1, max_length=128, description="the payment system's reference")


class ReversalIn(Body):
    on: date
    ref: str = Field(min_length=1, max_length=128, description="this reversal's own reference")


class WaiverIn(Body):
    component: Literal["penalty", "interest"]
    amount: str = Field(max_length=20, examples=["50.00"])
    on: date
    ref: str = Field(min_length=1, max_length=128)


class DecisionIn(Body):
    decision: Literal["approve", "reject", "counter"]
    note: str = Field(default="", max_length=2000)
    months: int | None = Field(default=None, ge=1, le=60)
    waive_penalty: str | None = Field(default=None, max_length=20)


class PromiseIn(Body):
    due_on: date
    amount: str = Field(max_length=20, examples=["500.00"])


class OutcomeIn(Body):
    outcome: Outcome
    at: datetime | None = Field(default=None, description="when the call ended (default now)")
    promise: PromiseIn | None = None


@router.post("/loans/{loan_id}/payments")
def post_payment(
    loan_id: str, body: PaymentIn, who: MoneyMovers, db: Db, idempotency_key: IdempotencyKey = None
) -> Any:
    """Apply a payment by the product's waterfall (penalty, interest, then principal). The
    same ref twice applies once; so does the same Idempotency-Key."""
    amount = money(body.amount, "amount")
    assert amount is not None
    return answer_once(
        db,
        who.subject,
        idempotency_key,
        f"/loans/{loan_id}/payments",
        body,
        lambda: events.pay_in(db, loan_id, amount, body.on, body.ref),
    )


@router.post("/payments/{payment_ref}/reversal")
def post_reversal(
    payment_ref: str,
    body: ReversalIn,
    who: MoneyMovers,
    db: Db,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Reverse a payment (a bounced transfer): the loan is re-aged as if it had never been."""
    return answer_once(
        db,
        who.subject,
        idempotency_key,
        f"/payments/{payment_ref}/reversal",
        body,
        lambda: events.reverse_in(db, payment_ref, body.ref, body.on),
    )


@router.post("/loans/{loan_id}/waivers")
def post_waiver(
    loan_id: str, body: WaiverIn, who: MoneyMovers, db: Db, idempotency_key: IdempotencyKey = None
) -> Any:
    """Waive owed penalty or interest (posted to expense:waiver)."""
    amount = money(body.amount, "amount")
    assert amount is not None
    component = Component(body.component)
    return answer_once(
        db,
        who.subject,
        idempotency_key,
        f"/loans/{loan_id}/waivers",
        body,
        lambda: events.waive_in(db, loan_id, component, amount, body.on, body.ref),
    )


@router.get("/plans")
def all_plans(
    who: Readers, db: Db, page: Paged, status: PlanStatus | None = None
) -> list[dict[str, Any]]:
    """Installment plans by id; ``status=pending`` is the supervisors' queue."""
    return [p.as_dict() for p in page.of(list_plans(db, status=status))]


@router.post("/plans/{plan_id}/decision")
def plan_decision(
    plan_id: RowId, body: DecisionIn, who: Deciders, db: Db, idempotency_key: IdempotencyKey = None
) -> Any:
    """A supervisor approves, rejects or counters a pending plan."""
    waive = money(body.waive_penalty, "waive_penalty")
    return answer_once(
        db,
        who.subject,
        idempotency_key,
        f"/plans/{plan_id}/decision",
        body,
        lambda: decide_plan(
            db,
            plan_id,
            decision=body.decision,
            by=who.subject,
            at=now(),
            note=body.note,
            months=body.months,
            waive_penalty=waive,
        ),
    )


@router.get("/borrowers/{borrower_id}/forecast")
def borrower_forecast_route(
    borrower_id: str, who: CaseReadersApart, config: Config, days: ForecastDays = 30
) -> dict[str, Any]:
    """What the close will do for a borrower; an agent sees only cases assigned to them."""
    if who.role == "agent":
        with config.engine.connect() as db:
            assigned = db.execute(
                select(cases.c.case_id).where(
                    cases.c.borrower_id == borrower_id,
                    cases.c.closed_on.is_(None),
                    cases.c.assigned_agent == who.subject,
                )
            ).first()
        if assigned is None:
            raise not_found(f"borrower {borrower_id}", "borrower_id")
    found = value(borrower_forecast(config.engine, borrower_id, config.close, days=days))
    return dict(found.as_dict())


@router.get("/complaints")
def all_complaints(
    who: Readers, db: Db, page: Paged, open_only: bool = False
) -> list[dict[str, Any]]:
    """Complaints by id, each with the day its answer is due."""
    return [c.as_dict() for c in page.of(list_complaints(db, open_only=open_only))]


@router.get("/queue")
def queue(
    who: CaseReaders, db: Db, page: Paged, include_done: bool = False
) -> list[dict[str, Any]]:
    """The calls waiting, in working order; an agent sees the items they hold."""
    agent = who.subject if who.role == "agent" else None
    items = page.of(list_queue(db, agent=agent, include_done=include_done))
    dials = who.role == "agent"
    if dials:  # their own calls, numbers in clear: on the log
        _shown(db, who, "GET /queue", [i.borrower_id for i in items], ["number"])
    return [item_dict(i, masked=not dials) for i in items]


@router.post("/queue/next")
def queue_next(who: Agents, db: Db) -> dict[str, Any] | None:
    """The agent's current call, else the next one due, claimed for them (none: null)."""
    item = next_item(db, who.subject, now())
    if item is None:
        return None
    _shown(db, who, "POST /queue/next", [item.borrower_id], ["number"])
    return item_dict(item)


@router.post("/queue/{item_id}/outcome")
def queue_outcome(
    item_id: RowId, body: OutcomeIn, who: Agents, db: Db, idempotency_key: IdempotencyKey = None
) -> Any:
    """What came of the call: recorded on the attempt, in the evidence log, and a promise to
    pay when one was made. An agent records only the items they hold."""
    promise = None
    if body.promise is not None:
        amount = money(body.promise.amount, "promise.amount")
        assert amount is not None
        promise = (body.promise.due_on, amount)

    def run() -> tuple[int, Any]:
        done = value(
            record_outcome(
                db,
                outcome=body.outcome.value,
                at=body.at or now(),
                item_id=item_id,
                agent=who.subject,
                promise=promise,
                # An agent records only the items they hold; another's is as one not there.
                holder=who.subject if who.role == "agent" else None,
            )
        )
        return 200, done.as_dict()

    path = f"/queue/{item_id}/outcome"
    status, answer = once(
        db, who.subject, idempotency_key, "POST", path, body.model_dump(mode="json"), run
    )
    return JSONResponse(answer, status_code=status)


@router.get("/visits")
def visits(
    who: VisitReaders, db: Db, page: Paged, borrower_id: str | None = None
) -> list[dict[str, Any]]:
    """Field visits by id; a field collector sees only those they are assigned to."""
    found = list_visits(db, borrower_id=borrower_id)
    if who.role == "field_collector":
        found = [v for v in found if who.subject in v.collectors]
    shown = page.of(found)
    # The address is for those who go there or send someone: the field collector and the
    # supervisor who approves. Everyone else sees the region.
    goes = who.role in ("field_collector", "supervisor")
    out = [v.as_dict() for v in shown]
    if goes:
        _shown(db, who, "GET /visits", [v.borrower_id for v in shown if v.address], ["address"])
    else:
        for row in out:
            row["address"] = mask_address(row["address"]) if row["address"] else row["address"]
    return out


@router.get("/audit/pii-reads")
def pii_reads(
    who: Auditors, db: Db, page: Paged, borrower_id: str | None = None, username: str | None = None
) -> list[dict[str, Any]]:
    """Every time staff were shown a number or an address unmasked: who, when, where, whose."""
    found = list_reads(db, borrower_id=borrower_id, username=username)
    return [r.as_dict() for r in page.of(found)]


def _shown(db: Db, who: Session, route: str, borrower_ids: list[str], fields: list[str]) -> None:
    record_reads(
        db,
        username=who.subject,
        role=who.role,
        route=route,
        borrower_ids=borrower_ids,
        fields=fields,
        at=now(),
    )
