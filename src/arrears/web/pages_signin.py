"""Signing in and out on the web: a borrower by phone number and SMS code, staff by username
and password; the language switch. The same service functions as the API's sign-in routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from arrears.api.deps import now
from arrears.api.routes_auth import announce_code, clear_session_cookies, set_session_cookies
from arrears.core.contact.templates import LANGUAGES
from arrears.services.signin import end_session, send_code, sign_in
from arrears.services.staff import staff_sign_in
from arrears.web.pages import (
    LANGUAGE_COOKIE,
    Anyone,
    checked_form,
    config_of,
    page,
    safe_next,
)

router = APIRouter(include_in_schema=False)

STAFF_HOME = {
    "agent": "/console",
    "supervisor": "/console",
    "admin": "/console",
    "field_collector": "/console/visits",
    "compliance": "/compliance",
}

Phone = Annotated[str, Form(max_length=40)]
Next = Annotated[str, Form(max_length=500)]


def _home(role: str) -> str:
    return "/my" if role == "borrower" else STAFF_HOME.get(role, "/console")


@router.get("/")
def index(visitor: Anyone) -> Response:
    if visitor.session is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(_home(visitor.role), status_code=303)


@router.get("/signin")
def signin_form(request: Request, visitor: Anyone, next: str = "/my") -> Response:
    return page(request, visitor, "signin", {"step": "phone", "phone": "", "next": next})


@router.post("/signin/code")
def signin_code(request: Request, visitor: Anyone, phone: Phone, next: Next = "/my") -> Response:
    """Send the code (the same answer for a number we do not know: the page does not tell
    strangers who borrows from us)."""
    config = config_of(request)
    if len(phone.strip()) < 5:
        context = {"step": "phone", "phone": phone, "next": next, "error": "phone"}
        return page(request, visitor, "signin", context, status=422)
    with config.engine.begin() as db:
        sent, problems = send_code(db, phone, now(), config.secret, config.lender)
    if problems:
        context = {"step": "phone", "phone": phone, "next": next, "error": "too_many"}
        return page(request, visitor, "signin", context, status=429)
    announce_code(config, phone, sent)
    return page(request, visitor, "signin", {"step": "code", "phone": phone, "next": next})


@router.post("/signin")
def signin(
    request: Request,
    visitor: Anyone,
    phone: Phone,
    code: Annotated[str, Form(max_length=12)],
    next: Next = "/my",
) -> Response:
    config = config_of(request)
    with config.engine.begin() as db:
        session, _ = sign_in(db, phone, code, now(), config.secret)
    if session is None:
        context = {"step": "code", "phone": phone, "next": next, "error": "code"}
        return page(request, visitor, "signin", context, status=401)
    response = RedirectResponse(safe_next(next, "/my"), status_code=303)
    set_session_cookies(response, session, config)
    return response


@router.get("/staff/signin")
def staff_form(request: Request, visitor: Anyone, next: str = "") -> Response:
    return page(request, visitor, "staff_signin", {"username": "", "next": next})


@router.post("/staff/signin")
def staff_signin(
    request: Request,
    visitor: Anyone,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Next = "",
) -> Response:
    config = config_of(request)
    with config.engine.begin() as db:
        session, problems = staff_sign_in(db, username, password, now(), config.secret)
    if session is None:
        locked = any(p.code == "rate_limited" for p in problems)
        context = {"username": username, "next": next, "error": "locked" if locked else "wrong"}
        return page(request, visitor, "staff_signin", context, status=401)
    response = RedirectResponse(safe_next(next, _home(session.role)), status_code=303)
    set_session_cookies(response, session, config)
    return response


@router.post("/signout")
async def signout(request: Request, visitor: Anyone) -> Response:
    config = config_of(request)
    if visitor.session is not None:
        await checked_form(request, visitor)
        with config.engine.begin() as db:
            end_session(db, visitor.token, config.secret)
    staff = visitor.session is not None and visitor.session.kind == "staff"
    response = RedirectResponse("/staff/signin" if staff else "/signin", status_code=303)
    clear_session_cookies(response, config)
    return response


@router.get("/language/{language}")
def choose_language(language: str, next: str = "/") -> Response:
    """The language switch: remembered in a cookie for a year (it is not personal data)."""
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, language, max_age=365 * 86400, path="/", samesite="lax"
        )
    return response
