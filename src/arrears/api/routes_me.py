"""The borrower's own routes, under ``/me`` and ``/loans/{id}``: what I owe and what happens
next, my rights, installment plans, a message or a callback to the lender, checking a collector
or a channel, complaints, my credit record, my evidence. Every one answers only about the
signed-in borrower: another borrower's loan is 404, as a loan that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from arrears.api.bodies import Body
from arrears.api.deps import (
    Config,
    Db,
    ForecastDays,
    IdempotencyKey,
    Me,
    MeApart,
    Paged,
    business_date,
    money,
    not_found,
    now,
    own,
    own_loan_ids,
    value,
)
from arrears.api.idempotency import answer_once
from arrears.api.problems import ProblemError
from arrears.core.money import fmt
from arrears.core.problem import Problem
from arrears.services.close.forecast import LoanOwed, borrower_forecast, owed_by, owed_today
from arrears.services.collection.borrower_contact import reach_lender
from arrears.services.collection.complaints import file_complaint, list_complaints
from arrears.services.collection.evidence_pack import build_pack
from arrears.services.collection.plans import list_plans, preview_plan, request_plan
from arrears.services.collection.verification import borrower_language, verify_code
from arrears.services.collection.verification_channels import check_channel, official_of
from arrears.services.credit import borrower_credit_view
from arrears.services.own_records import add_note, own_records
from arrears.services.rights import borrower_rights

router = APIRouter(tags=["borrower"])

Language = Literal["zh-CN", "en"]


class LoanOut(BaseModel):
    loan_id: str
    currency: str
    dpd: int
    overdue_principal: str
    overdue_interest: str
    overdue_penalty: str
    overdue: str
    outstanding: str
    payoff: str


class PlanPreviewIn(Body):
    loan_id: str = Field(min_length=1, max_length=64)
    months: int | None = Field(default=None, ge=1, le=60)
    monthly: str | None = Field(default=None, max_length=20, examples=["300.00"])


class PlanIn(PlanPreviewIn):
    reason: Literal["job_loss", "illness", "business_failure", "forgot", "dispute", "other"]
    note: str = Field(default="", max_length=2000)


class MessageIn(Body):
    text: str = Field(default="", max_length=2000)
    callback_at: datetime | None = Field(default=None, description="when to call me back")
    loan_id: str | None = Field(default=None, max_length=64)


class CodeIn(Body):
    code: str = Field(min_length=1, max_length=40, description="the code the collector gave")


class ChannelIn(Body):
    phone: str | None = Field(default=None, max_length=40)
    account: str | None = Field(default=None, max_length=64)


class ComplaintIn(Body):
    against: Literal["contact", "collector", "amount"]
    text: str = Field(min_length=1, max_length=4000)
    loan_id: str | None = Field(default=None, max_length=64)
    collector_id: str | None = Field(default=None, max_length=64)
    rule: str | None = Field(default=None, max_length=64)
    evidence: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=50, description="evidence record numbers"
    )


class NoteIn(Body):
    happened_at: datetime
    channel: Literal["call", "visit", "message", "other"]
    caller_name: str = Field(default="", max_length=200)
    said: str = Field(min_length=1, max_length=4000)


def loan_out(x: LoanOwed) -> LoanOut:
    return LoanOut(
        loan_id=x.loan_id,
        currency=x.currency,
        dpd=x.dpd,
        overdue_principal=fmt(x.overdue_principal),
        overdue_interest=fmt(x.overdue_interest),
        overdue_penalty=fmt(x.overdue_penalty),
        overdue=fmt(x.overdue),
        outstanding=fmt(x.outstanding),
        payoff=fmt(x.payoff),
    )


def _answer(models: list[LoanOut]) -> JSONResponse:
    """The loans as JSON, sent as they are: a route that returns its models instead has FastAPI
    check them against its response model again, in one more hand-off to a worker thread
    (the models are built and checked here; the schema still comes from ``response_model``)."""
    return JSONResponse([m.model_dump() for m in models])


@router.get("/me/loans", response_model=list[LoanOut])
def my_loans(me: Me, db: Db) -> JSONResponse:
    """What each of my loans has overdue, its days past due, and the payoff today."""
    return _answer([loan_out(x) for x in owed_by(db, me.subject)])


@router.get("/loans/{loan_id}")
def one_loan(loan_id: str, me: Me, db: Db) -> LoanOut:
    own(db, me, loan_id)
    day = business_date(db, [loan_id])
    if day is None:
        raise ProblemError(409, [Problem(f"loan {loan_id}", "loan_id", "not closed yet")])
    return loan_out(owed_today(db, [loan_id], day)[0])


@router.get("/me/forecast")
def my_forecast(me: MeApart, config: Config, days: ForecastDays = 30) -> dict[str, Any]:
    """What the close will do on which date if nothing is paid, and what stops each step."""
    found = value(borrower_forecast(config.engine, me.subject, config.close, days=days))
    return dict(found.as_dict())


@router.get("/me/rights")
def my_rights(me: Me, db: Db, config: Config, language: Language | None = None) -> dict[str, Any]:
    """What collectors may and may not do under my rule pack; where to complain, free help."""
    return dict(value(borrower_rights(db, me.subject, language, config.lender)).as_dict())


@router.post("/me/plans/preview")
def my_plan_preview(body: PlanPreviewIn, me: Me, db: Db) -> dict[str, Any]:
    own(db, me, body.loan_id)
    monthly = money(body.monthly, "monthly")
    shown = value(preview_plan(db, body.loan_id, months=body.months, monthly=monthly))
    return dict(shown.as_dict())


@router.post("/me/plans", status_code=201)
def my_plan_request(body: PlanIn, me: Me, db: Db, idempotency_key: IdempotencyKey = None) -> Any:
    """Propose an installment plan; the lender's policy approves it or queues it for a
    supervisor. Needs an Idempotency-Key: a retry returns the first answer."""
    own(db, me, body.loan_id)
    return answer_once(
        db,
        me.subject,
        idempotency_key,
        "/me/plans",
        body,
        lambda: request_plan(
            db,
            key=f"api:{me.subject}:{idempotency_key}",
            borrower_id=me.subject,
            loan_id=body.loan_id,
            at=now(),
            reason=body.reason,
            months=body.months,
            monthly=money(body.monthly, "monthly"),
            note=body.note,
        ),
        status=201,
    )


@router.get("/me/plans")
def my_plans(me: Me, db: Db, page: Paged) -> list[dict[str, Any]]:
    return [p.as_dict() for p in page.of(list_plans(db, borrower_id=me.subject))]


@router.post("/me/messages", status_code=201)
def my_message(body: MessageIn, me: Me, db: Db, idempotency_key: IdempotencyKey = None) -> Any:
    """Write to the lender, or ask for a call back at a time I choose: it goes to the top of
    the agents' queue and marks me reachable."""
    if body.loan_id is not None:
        own(db, me, body.loan_id)
    return answer_once(
        db,
        me.subject,
        idempotency_key,
        "/me/messages",
        body,
        lambda: reach_lender(
            db,
            key=f"api:{me.subject}:{idempotency_key}",
            borrower_id=me.subject,
            at=now(),
            text=body.text,
            callback_at=body.callback_at,
            loan_id=body.loan_id,
        ),
        status=201,
    )


@router.post("/me/verify-collector")
def my_verify_collector(body: CodeIn, me: Me, db: Db, config: Config) -> dict[str, Any]:
    """Is the person at my door or on the phone a collector of this lender, on my case? A code
    that does not verify is an answer (with what to do), not an error."""
    verdict = value(verify_code(db, body.code, me.subject, now(), config.secret))
    return dict(verdict.as_dict())


@router.post("/me/verify-channel")
def my_verify_channel(body: ChannelIn, me: Me, db: Db, config: Config) -> dict[str, Any]:
    """Is this number that called me, or this account I was asked to pay, the lender's own?"""
    official = value(official_of(config.lender))
    language = borrower_language(db, me.subject) or "zh-CN"
    verdict = value(
        check_channel(
            db,
            official,
            now(),
            phone=body.phone,
            account=body.account,
            borrower_id=me.subject,
            language=language,
        )
    )
    return dict(verdict.as_dict())


@router.post("/me/complaints", status_code=201)
def my_complaint(body: ComplaintIn, me: Me, db: Db, idempotency_key: IdempotencyKey = None) -> Any:
    """Complain about a contact, a collector or an amount; the answer says by when the lender
    must reply under my rule pack."""
    if body.loan_id is not None:
        own(db, me, body.loan_id)
    return answer_once(
        db,
        me.subject,
        idempotency_key,
        "/me/complaints",
        body,
        lambda: file_complaint(
            db,
            key=f"api:{me.subject}:{idempotency_key}",
            borrower_id=me.subject,
            at=now(),
            against=body.against,
            text=body.text,
            loan_id=body.loan_id,
            collector_id=body.collector_id,
            rule=body.rule,
            evidence=body.evidence,
        ),
        status=201,
    )


@router.get("/me/complaints")
def my_complaints(me: Me, db: Db, page: Paged) -> list[dict[str, Any]]:
    return [c.as_dict() for c in page.of(list_complaints(db, borrower_id=me.subject))]


@router.get("/me/credit")
def my_credit(me: Me, db: Db) -> dict[str, Any]:
    """What my credit record shows, loan by loan, as of the ledger's today."""
    day = business_date(db, own_loan_ids(db, me.subject))
    if day is None:
        raise not_found(f"borrower {me.subject}", "loans")
    return dict(value(borrower_credit_view(db, me.subject, day)))


@router.post("/me/records", status_code=201)
def my_note(body: NoteIn, me: Me, db: Db, idempotency_key: IdempotencyKey = None) -> Any:
    """Add my own note of a call or a visit to my evidence chain: when, who, what was said."""
    return answer_once(
        db,
        me.subject,
        idempotency_key,
        "/me/records",
        body,
        lambda: add_note(
            db,
            key=f"api:{me.subject}:{idempotency_key}",
            borrower_id=me.subject,
            at=now(),
            happened_at=body.happened_at,
            channel=body.channel,
            caller_name=body.caller_name,
            said=body.said,
        ),
        status=201,
    )


@router.get("/me/records")
def my_records(me: Me, db: Db, page: Paged) -> list[dict[str, Any]]:
    return [r.as_dict() for r in page.of(own_records(db, me.subject))]


@router.get("/me/evidence")
def my_evidence(me: Me, db: Db, config: Config) -> dict[str, Any]:
    """Everything recorded about me, signed by the lender: check it with ``arrears evidence
    verify-pack`` and the lender's published key, with no database."""
    if config.signing_key is None:
        raise ProblemError(
            503, [Problem("server", "signing_key", "the evidence signing key is not configured")]
        )
    language = borrower_language(db, me.subject) or "zh-CN"
    pack = value(
        build_pack(db, me.subject, now(), config.signing_key, config.lender.name.get(language))
    )
    return dict(pack.data)
