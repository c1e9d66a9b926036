"""Signing in: a borrower by phone number and a one-time SMS code, staff by username and
password. Each answers a bearer token; the wrong code or password counts against the account
in a transaction of its own, committed either way."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from arrears.api.bodies import Body
from arrears.api.deps import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    ApiConfig,
    Config,
    now,
    value,
)
from arrears.api.problems import ProblemError, status_of
from arrears.core.people.masking import mask_phone
from arrears.core.problem import Problem
from arrears.services.signin import (
    CodeSent,
    Session,
    csrf_token,
    end_session,
    same_csrf,
    send_code,
    sign_in,
)
from arrears.services.staff import staff_sign_in
from arrears.store.outbox_tables import outbox

router = APIRouter(tags=["sign-in"])


class PhoneIn(Body):
    phone: str = Field(min_length=5, max_length=40, examples=["13800138000"])


class CookieChoice(Body):
    cookie: bool = Field(
        default=False,
        description="for a browser: the session in an HttpOnly cookie, with an anti-forgery "
        "token to send back in X-CSRF-Token on every request that changes something",
    )


class SignInIn(CookieChoice):
    phone: str = Field(min_length=5, max_length=40, examples=["13800138000"])
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class StaffSignInIn(CookieChoice):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    token: str = Field(description="the bearer token; empty for a cookie session")
    expires_at: datetime
    role: str
    csrf_token: str | None = None


def _answer(session: Session, cookie: bool, config: ApiConfig) -> JSONResponse:
    """The session as a bearer token, or as cookies for a browser (``set_session_cookies``)."""
    if not cookie:
        out = SessionOut(token=session.token, expires_at=session.expires_at, role=session.role)
        return JSONResponse(out.model_dump(mode="json"))
    csrf = csrf_token(session.token, config.secret)
    out = SessionOut(token="", expires_at=session.expires_at, role=session.role, csrf_token=csrf)
    response = JSONResponse(out.model_dump(mode="json"))
    set_session_cookies(response, session, config)
    return response


def set_session_cookies(response: Response, session: Session, config: ApiConfig) -> None:
    """The session cookie HttpOnly (no script reads it), the anti-forgery one readable by the
    page's own script; both SameSite=Strict, and Secure unless configured off for plain-HTTP
    development. The web pages sign in with the same two cookies."""
    age = int((session.expires_at - now()).total_seconds())
    csrf = csrf_token(session.token, config.secret)
    for name, text, http_only in (
        (SESSION_COOKIE, session.token, True),
        (CSRF_COOKIE, csrf, False),
    ):
        response.set_cookie(
            name,
            text,
            max_age=age,
            path="/",
            secure=config.cookie_secure,
            httponly=http_only,
            samesite="strict",
        )


def clear_session_cookies(response: Response, config: ApiConfig) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=config.cookie_secure, samesite="strict")


def announce_code(config: ApiConfig, phone: str, sent: CodeSent | None) -> None:
    """In development, the sign-in code on the console (there is no SMS gateway)."""
    if sent is None or not config.show_codes:
        return
    with config.engine.connect() as db:
        text = db.execute(
            select(outbox.c.body).where(outbox.c.message_key == sent.message_key)
        ).scalar()
    print(f"[development] SMS to {mask_phone(phone)}: {text}", flush=True)


class CodeOut(BaseModel):
    sent: Literal[True] = True
    detail: str = "If the number is ours, a code is on its way by SMS."


@router.post("/auth/borrower/code", status_code=202)
def ask_code(body: PhoneIn, config: Config) -> CodeOut:
    """Send a one-time sign-in code by SMS (the same answer for a number we do not know)."""
    with config.engine.begin() as db:
        sent, problems = send_code(db, body.phone, now(), config.secret, config.lender)
    value((sent, problems))
    announce_code(config, body.phone, sent)
    return CodeOut()


@router.post("/auth/borrower/session")
def open_session(body: SignInIn, config: Config) -> JSONResponse:
    """Sign in with the phone number and the code; a bearer token for the next requests."""
    with config.engine.begin() as db:
        session, problems = sign_in(db, body.phone, body.code, now(), config.secret)
    if session is None:
        raise ProblemError(401, problems)
    return _answer(session, body.cookie, config)


@router.post("/auth/staff/session")
def staff_session(body: StaffSignInIn, config: Config) -> JSONResponse:
    """Staff sign in with username and password; five wrong passwords lock the account for
    15 minutes."""
    with config.engine.begin() as db:
        session, problems = staff_sign_in(db, body.username, body.password, now(), config.secret)
    if session is None:
        raise ProblemError(status_of(problems), problems)
    return _answer(session, body.cookie, config)


@router.post("/auth/session/end", status_code=204)
def sign_out(
    request: Request, config: Config, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Sign out: the token or the cookie session stops working at once, and the cookies go."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not token:
        token = request.cookies.get(SESSION_COOKIE, "")
        given = request.headers.get(CSRF_HEADER, "")
        if token and not same_csrf(token, given, config.secret):  # no forged sign-outs either
            raise ProblemError(
                403, [Problem("request", CSRF_HEADER, "missing or not this session's token")]
            )
    with config.engine.begin() as db:
        ended = bool(token) and end_session(db, token, config.secret)
    if not ended:
        raise ProblemError(401, [Problem("request", "Authorization", "not signed in")])
    response = Response(status_code=204)
    clear_session_cookies(response, config)
    return response
