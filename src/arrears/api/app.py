"""The FastAPI application: ``create_app(...)`` wires the service layer to ``/api/v1``.

Routes hold no domain logic: each checks who is asking (a bearer token from a sign-in), calls
one service function, and turns its ``(value, problems)`` into JSON or problem details. A
borrower reaches only their own records: another borrower's loan is answered 404, exactly as
a loan that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, select

from arrears.api.idempotency import once
from arrears.api.problems import ProblemError, problem_response, status_of
from arrears.core.lender.settings import Lender
from arrears.core.money import MoneyError, fmt, parse_amount
from arrears.core.problem import Problem, Result
from arrears.services.close.day import CloseConfig
from arrears.services.close.forecast import LoanOwed, borrower_forecast, owed_today
from arrears.services.collection.complaints import list_complaints
from arrears.services.collection.plans import decide_plan, list_plans, preview_plan, request_plan
from arrears.services.rights import borrower_rights
from arrears.services.signin import Session, send_code, session_for, sign_in
from arrears.services.staff import staff_sign_in
from arrears.store import tables
from arrears.store.case_tables import cases
from arrears.store.outbox_tables import outbox

PREFIX = "/api/v1"


@dataclass(frozen=True)
class ApiConfig:
    engine: Engine
    secret: bytes  # the server secret: HMAC of codes and tokens
    lender: Lender
    close: CloseConfig
    show_codes: bool = False  # development: sign-in codes are also written to the console


def _now() -> datetime:
    return datetime.now(UTC)


def _value(result: Result[Any]) -> Any:
    value, problems = result
    if value is None and problems:
        raise ProblemError(status_of(problems), problems)
    return value


class PhoneIn(BaseModel):
    phone: str = Field(min_length=5, max_length=40, examples=["13800138000"])


class SignInIn(PhoneIn):
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class CodeOut(BaseModel):
    sent: Literal[True] = True
    detail: str = "If the number is ours, a code is on its way by SMS."


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


class StaffSignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject", "counter"]
    note: str = Field(default="", max_length=2000)
    months: int | None = Field(default=None, ge=1, le=60)
    waive_penalty: str | None = Field(default=None, max_length=20)


class PlanPreviewIn(BaseModel):
    loan_id: str = Field(min_length=1, max_length=64)
    months: int | None = Field(default=None, ge=1, le=60)
    monthly: str | None = Field(default=None, max_length=20, examples=["300.00"])


class PlanIn(PlanPreviewIn):
    reason: Literal["job_loss", "illness", "business_failure", "forgot", "dispute", "other"]
    note: str = Field(default="", max_length=2000)


def _conn(request: Request) -> Iterator[Connection]:
    config: ApiConfig = request.app.state.config
    with config.engine.begin() as c:
        yield c


Db = Annotated[Connection, Depends(_conn)]


def _session(request: Request, authorization: str | None) -> Session:
    """The live session of the bearer token (read in a short transaction of its own: a
    route that runs long, the forecast, must not hold the database meanwhile)."""
    config: ApiConfig = request.app.state.config
    token = (authorization or "").removeprefix("Bearer ").strip()
    found = None
    if token:
        with config.engine.connect() as db:
            found = session_for(db, token, _now(), config.secret)
    if found is None:
        raise ProblemError(401, [Problem("request", "Authorization", "sign in first")])
    return found


def _borrower(request: Request, authorization: Annotated[str | None, Header()] = None) -> Session:
    """The signed-in borrower; 401 without a live token, 404 for a staff token (these routes
    are the borrower's own)."""
    found = _session(request, authorization)
    if found.role != "borrower":
        raise ProblemError(404, [Problem("request", "path", "not found", "not_found")])
    return found


Me = Annotated[Session, Depends(_borrower)]


def staff(*roles: str) -> Any:
    """A dependency: the signed-in staff member, if their role is one of ``roles``. A borrower
    is answered 404 (staff routes are not theirs to know of), another role 403."""

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Session:
        found = _session(request, authorization)
        if found.kind != "staff":
            raise ProblemError(404, [Problem("request", "path", "not found", "not_found")])
        if found.role not in roles:
            raise ProblemError(
                403, [Problem("request", "Authorization", f"the {found.role} role may not do this")]
            )
        return found

    return Depends(check)


Readers = staff("admin", "supervisor", "compliance")
Deciders = staff("admin", "supervisor")
CaseReaders = staff("admin", "supervisor", "compliance", "agent")


def create_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(
        title="arrears",
        version="1",
        description="Overdue consumer loans: the borrower's side and the lender's, one service "
        "layer. Errors are RFC 9457 problem details naming the field.",
        openapi_url="/openapi.json",
        docs_url="/docs",
    )
    app.state.config = config

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.problems, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            Problem("request", ".".join(str(p) for p in e["loc"][1:]) or "body", e["msg"])
            for e in exc.errors()
        ]
        return problem_response(422, problems)

    def own_loan_ids(db: Connection, who: Session) -> list[str]:
        q = select(tables.loans.c.loan_id).where(tables.loans.c.borrower_id == who.subject)
        return list(db.execute(q.order_by(tables.loans.c.loan_id)).scalars())

    def own(db: Connection, who: Session, loan_id: str) -> None:
        if loan_id not in own_loan_ids(db, who):
            raise ProblemError(
                404, [Problem(f"loan {loan_id}", "loan_id", "not found", "not_found")]
            )

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(f"{PREFIX}/auth/borrower/code", status_code=202, tags=["sign-in"])
    def ask_code(body: PhoneIn) -> CodeOut:
        """Send a one-time sign-in code by SMS (the same answer for a number we do not know)."""
        with config.engine.begin() as db:
            sent = _value(send_code(db, body.phone, _now(), config.secret, config.lender))
        if sent is not None and config.show_codes:
            with config.engine.connect() as db:
                text = db.execute(
                    select(outbox.c.body).where(outbox.c.message_key == sent.message_key)
                ).scalar()
            print(f"[development] SMS to {_masked(body.phone)}: {text}", flush=True)
        return CodeOut()

    @app.post(f"{PREFIX}/auth/borrower/session", tags=["sign-in"])
    def open_session(body: SignInIn) -> SessionOut:
        """Sign in with the phone number and the code; a bearer token for the next requests."""
        # Its own transaction, committed either way: a wrong code counts against the code.
        with config.engine.begin() as db:
            session, problems = sign_in(db, body.phone, body.code, _now(), config.secret)
        if session is None:
            raise ProblemError(401, problems)
        return SessionOut(token=session.token, expires_at=session.expires_at)

    @app.post(f"{PREFIX}/auth/staff/session", tags=["sign-in"])
    def staff_session(body: StaffSignInIn) -> SessionOut:
        """Staff sign in with username and password; five wrong passwords lock the account for
        15 minutes."""
        with config.engine.begin() as db:
            session, problems = staff_sign_in(
                db, body.username, body.password, _now(), config.secret
            )
        if session is None:
            raise ProblemError(status_of(problems), problems)
        return SessionOut(token=session.token, expires_at=session.expires_at)

    @app.get(f"{PREFIX}/plans", tags=["staff"])
    def all_plans(
        who: Annotated[Session, Readers], db: Db, status: str | None = None
    ) -> list[dict[str, Any]]:
        """Installment plans; ``status=pending`` is the supervisors' queue."""
        return [p.as_dict() for p in list_plans(db, status=status)]

    @app.post(f"{PREFIX}/plans/{{plan_id}}/decision", tags=["staff"])
    def plan_decision(
        plan_id: int,
        body: DecisionIn,
        who: Annotated[Session, Deciders],
        db: Db,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """A supervisor approves, rejects or counters a pending plan."""

        def run() -> tuple[int, Any]:
            waive = _money(body.waive_penalty, "waive_penalty")
            plan = _value(
                decide_plan(
                    db,
                    plan_id,
                    decision=body.decision,
                    by=who.subject,
                    at=_now(),
                    note=body.note,
                    months=body.months,
                    waive_penalty=waive,
                )
            )
            return 200, plan.as_dict()

        path = f"/plans/{plan_id}/decision"
        status, answer = once(
            db, who.subject, idempotency_key, "POST", path, body.model_dump(), run
        )
        return JSONResponse(answer, status_code=status)

    @app.get(f"{PREFIX}/borrowers/{{borrower_id}}/forecast", tags=["staff"])
    def borrower_forecast_route(
        borrower_id: str, who: Annotated[Session, CaseReaders], days: int = 30
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
                raise ProblemError(
                    404,
                    [Problem(f"borrower {borrower_id}", "borrower_id", "not found", "not_found")],
                )
        found = _value(borrower_forecast(config.engine, borrower_id, config.close, days=days))
        return dict(found.as_dict())

    @app.get(f"{PREFIX}/complaints", tags=["staff"])
    def all_complaints(
        who: Annotated[Session, Readers], db: Db, open_only: bool = False
    ) -> list[dict[str, Any]]:
        return [c.as_dict() for c in list_complaints(db, open_only=open_only)]

    @app.get(f"{PREFIX}/me/loans", tags=["borrower"])
    def my_loans(me: Me, db: Db) -> list[LoanOut]:
        """What each of my loans has overdue, its days past due, and the payoff today."""
        ids = own_loan_ids(db, me)
        day = db.execute(
            select(tables.loan_state.c.as_of).where(tables.loan_state.c.loan_id.in_(ids))
        ).scalar()
        return [_loan_out(x) for x in owed_today(db, ids, day)] if ids and day else []

    @app.get(f"{PREFIX}/loans/{{loan_id}}", tags=["borrower"])
    def one_loan(loan_id: str, me: Me, db: Db) -> LoanOut:
        own(db, me, loan_id)
        day = db.execute(
            select(tables.loan_state.c.as_of).where(tables.loan_state.c.loan_id == loan_id)
        ).scalar_one()
        return _loan_out(owed_today(db, [loan_id], day)[0])

    @app.get(f"{PREFIX}/me/forecast", tags=["borrower"])
    def my_forecast(me: Me, days: int = 30) -> dict[str, Any]:
        """What the close will do on which date if nothing is paid, and what stops each step."""
        found = _value(borrower_forecast(config.engine, me.subject, config.close, days=days))
        return dict(found.as_dict())

    @app.get(f"{PREFIX}/me/rights", tags=["borrower"])
    def my_rights(me: Me, db: Db, language: Literal["zh-CN", "en"] | None = None) -> dict[str, Any]:
        """What collectors may and may not do under my rule pack; where to complain, free help."""
        return dict(_value(borrower_rights(db, me.subject, language, config.lender)).as_dict())

    @app.post(f"{PREFIX}/me/plans/preview", tags=["borrower"])
    def my_plan_preview(body: PlanPreviewIn, me: Me, db: Db) -> dict[str, Any]:
        own(db, me, body.loan_id)
        monthly = _money(body.monthly)
        shown = _value(preview_plan(db, body.loan_id, months=body.months, monthly=monthly))
        return dict(shown.as_dict())

    @app.post(f"{PREFIX}/me/plans", status_code=201, tags=["borrower"])
    def my_plan_request(
        body: PlanIn,
        me: Me,  # first: it reads the session in its own transaction, then Db opens one
        db: Db,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Propose an installment plan; the lender's policy approves it or queues it for a
        supervisor. Needs an Idempotency-Key: a retry returns the first answer."""
        own(db, me, body.loan_id)

        def run() -> tuple[int, Any]:
            plan = _value(
                request_plan(
                    db,
                    key=f"api:{me.subject}:{idempotency_key}",
                    borrower_id=me.subject,
                    loan_id=body.loan_id,
                    at=_now(),
                    reason=body.reason,
                    months=body.months,
                    monthly=_money(body.monthly),
                    note=body.note,
                )
            )
            return 201, plan.as_dict()

        status, answer = once(
            db, me.subject, idempotency_key, "POST", "/me/plans", body.model_dump(), run
        )
        return JSONResponse(answer, status_code=status)

    @app.get(f"{PREFIX}/me/plans", tags=["borrower"])
    def my_plans(me: Me, db: Db) -> list[dict[str, Any]]:
        return [p.as_dict() for p in list_plans(db, borrower_id=me.subject)]

    return app


def _masked(phone: str) -> str:
    """A number as staff without need see it: the first three and last four digits."""
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 8:
        return "****"
    return "".join(digits[:3]) + "****" + "".join(digits[-4:])


def _money(text: str | None, field: str = "monthly") -> int | None:
    if text is None:
        return None
    try:
        return parse_amount(text)
    except MoneyError as exc:
        raise ProblemError(422, [Problem("request", field, str(exc))]) from None


def _loan_out(x: LoanOwed) -> LoanOut:
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


def default_config(db: str | None = None, *, show_codes: bool | None = None) -> ApiConfig:
    """The API on ``db`` (default: $ARREARS_DB, else ./arrears.db) with the bundled settings."""
    from arrears.services.policy_files import default_policy_set
    from arrears.services.settings import default_settings
    from arrears.services.verification_keys import code_secret
    from arrears.store.engine import make_engine
    from arrears.store.migrate import upgrade

    engine = make_engine(db)
    upgrade(engine)
    settings = default_settings()
    secret = _value(code_secret(os.environ, lambda message: print(message, flush=True)))
    shown = (
        os.environ.get("ARREARS_ENV", "development") == "development"
        if show_codes is None
        else show_codes
    )
    close = CloseConfig(default_policy_set(), lender=settings.lender, capacity=settings.capacity)
    return ApiConfig(engine, secret, settings.lender, close, shown)
