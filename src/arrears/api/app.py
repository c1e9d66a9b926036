"""The FastAPI application: ``create_app(config)`` wires the service layer to ``/api/v1``.

Routes hold no domain logic: each checks who is asking (``api.deps``), calls one service
function, and turns its ``(value, problems)`` into JSON or problem details. The routes live by
whom they serve: ``routes_auth`` (signing in), ``routes_me`` (the borrower's own),
``routes_staff`` (the lender's).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text

from arrears.api import routes_auth, routes_me, routes_staff
from arrears.api.bodies import no_nul_in_parameters
from arrears.api.capacity import Admission
from arrears.api.deps import ApiConfig, value
from arrears.api.logs import RequestLog
from arrears.api.problems import ProblemError, document_problems, problem_response
from arrears.core.problem import Problem
from arrears.services.close.day import CloseConfig

PREFIX = "/api/v1"

__all__ = ["PREFIX", "ApiConfig", "create_app", "default_config"]


def create_app(config: ApiConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        config.engine.dispose()  # after the last request in flight has had its answer

    app = FastAPI(
        lifespan=lifespan,
        title="arrears",
        version="1",
        description="Overdue consumer loans: the borrower's side and the lender's, one service "
        "layer. Errors are RFC 9457 problem details naming the field.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        dependencies=[Depends(no_nul_in_parameters)],
    )
    app.state.config = config
    app.add_middleware(Admission, limit=config.max_in_flight)
    # Added last, so outermost: a request refused for capacity is logged with its id too.
    app.add_middleware(RequestLog)

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

    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["service"])
    def ready() -> JSONResponse:
        """The process can serve: the database answers."""
        try:
            with config.engine.connect() as db:
                db.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse(
                {"status": "not ready", "reason": type(exc).__name__}, status_code=503
            )
        return {"status": "ready"}  # type: ignore[return-value]

    for router in (routes_auth.router, routes_me.router, routes_staff.router):
        app.include_router(router, prefix=PREFIX)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = document_problems(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def default_config(db: str | None = None, *, show_codes: bool | None = None) -> ApiConfig:
    """The API on ``db`` (default: $ARREARS_DB, else ./arrears.db) with the bundled settings."""
    from arrears.adapters.payments import DemoPayments
    from arrears.services import events
    from arrears.services.policy_files import default_policy_set
    from arrears.services.settings import default_settings
    from arrears.services.verification_keys import code_secret, signing_key
    from arrears.store.engine import make_engine
    from arrears.store.migrate import upgrade

    engine = make_engine(db, serving=True)
    upgrade(engine)
    settings = default_settings()

    def say(message: str) -> None:
        print(message, flush=True)

    secret = value(code_secret(os.environ, say))
    signing = value(signing_key(os.environ, say))
    shown = (
        os.environ.get("ARREARS_ENV", "development") == "development"
        if show_codes is None
        else show_codes
    )
    close = CloseConfig(default_policy_set(), lender=settings.lender, capacity=settings.capacity)
    # No payment system is connected yet: in development the demo channel applies a payment
    # straight to the ledger (and the pay page says it is the demo); elsewhere none is offered.
    development = os.environ.get("ARREARS_ENV", "development") == "development"
    payments = DemoPayments(events.pay_in) if development else None
    return ApiConfig(
        engine,
        secret,
        settings.lender,
        close,
        show_codes=shown,
        signing_key=signing,
        payments=payments,
    )
