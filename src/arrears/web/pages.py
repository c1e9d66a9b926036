"""What every page needs: who is looking (the API's cookie session), in which language, the
anti-forgery token for its forms, and the page rendered in the frame (``_base.j2``).

The web app signs people in with the same sessions as the API (``services.signin``): one
HttpOnly, SameSite=Strict cookie. A form that changes something carries the session's
anti-forgery token in a hidden field ``csrf``; ``checked_form`` refuses a form without it, as
``api.deps`` refuses a cookie request without the X-CSRF-Token header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from arrears.api.deps import CSRF_COOKIE, SESSION_COOKIE, ApiConfig, now
from arrears.core.contact.templates import LANGUAGES
from arrears.core.money import fmt
from arrears.services.signin import Session, csrf_token, same_csrf, session_for
from arrears.web.render import DEFAULT_LANGUAGE, render_page

LANGUAGE_COOKIE = "arrears_lang"
STAFF_ROLES = ("admin", "supervisor", "agent", "field_collector", "compliance")


class SignInFirst(Exception):
    """The page needs a signed-in borrower (or staff member): off to the sign-in page, and
    back to ``next`` after."""

    def __init__(self, staff: bool, next_path: str) -> None:
        self.staff = staff
        self.next_path = next_path

    @property
    def location(self) -> str:
        where = "/staff/signin" if self.staff else "/signin"
        return f"{where}?next={quote(self.next_path, safe='/')}"


class PageRefused(Exception):
    """The page exists but is not for this person (a 403 page), or the form is not theirs."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Visitor:
    """Who is looking at a page: ``session`` is None for someone not signed in."""

    language: str
    session: Session | None
    token: str
    csrf: str

    @property
    def role(self) -> str:
        return self.session.role if self.session else ""


def config_of(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.config
    return config


def language_of(request: Request) -> str:
    """The language the visitor chose (the switch sets a cookie), else the one their browser
    prefers, else Chinese."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def _visitor(request: Request) -> Visitor:
    config = config_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = None
    if token:
        with config.engine.connect() as db:
            session = session_for(db, token, now(), config.secret)
    csrf = csrf_token(token, config.secret) if session else ""
    return Visitor(language_of(request), session, token if session else "", csrf)


Anyone = Annotated[Visitor, Depends(_visitor)]


def _borrower(request: Request, visitor: Anyone) -> Visitor:
    if visitor.session is None or visitor.session.role != "borrower":
        raise SignInFirst(False, request.url.path)
    return visitor


Borrower = Annotated[Visitor, Depends(_borrower)]


def staff_page(*roles: str) -> Any:
    """A dependency: the signed-in staff member, if their role is one of ``roles``."""

    def check(request: Request, visitor: Anyone) -> Visitor:
        if visitor.session is None or visitor.session.kind != "staff":
            raise SignInFirst(True, request.url.path)
        if visitor.role not in roles:
            raise PageRefused(403, "role")
        return visitor

    return Depends(check)


def safe_next(path: str | None, default: str) -> str:
    """A path on this site to go on to after signing in; anything else (another site,
    ``//evil.example``) is the default."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default


async def checked_form(request: Request, visitor: Visitor) -> Mapping[str, str]:
    """The posted form, if it carries this session's anti-forgery token."""
    form = await request.form()
    given = form.get("csrf", "")
    if not visitor.token or not isinstance(given, str):
        raise PageRefused(403, "csrf")
    if not same_csrf(visitor.token, given, config_of(request).secret):
        raise PageRefused(403, "csrf")
    return {k: v for k, v in form.items() if isinstance(v, str)}


# How an amount is written in each language: the currency's word after the figure.
CURRENCY_WORDS = {
    "zh-CN": {"CNY": "元", "USD": "美元", "GBP": "英镑"},
    "en": {"CNY": "yuan", "USD": "dollars", "GBP": "pounds"},
}


def grouped(fen: int) -> str:
    """Fen as yuan with two decimals (``core.money.fmt``), grouped by thousands for reading."""
    text = fmt(fen)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, cents = digits.partition(".")
    return f"{sign}{int(whole):,}.{cents}"


def money_in(language: str) -> Callable[..., str]:
    def money(fen: int, currency: str = "") -> str:
        if not currency:
            return grouped(fen)
        word = CURRENCY_WORDS.get(language, {}).get(currency, currency)
        return f"{grouped(fen)} {word}"

    return money


def page(
    request: Request,
    visitor: Visitor,
    name: str,
    context: Mapping[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The page ``name`` in the visitor's language, in the frame."""
    config = config_of(request)
    lender = config.lender
    html = render_page(
        name,
        visitor.language,
        {
            "lang": visitor.language,
            "languages": LANGUAGES,
            "who": visitor.session,
            "role": visitor.role,
            "csrf": visitor.csrf,
            "path": request.url.path,
            "lender_name": lender.name.get(visitor.language),
            "hotline": lender.hotline,
            "money": money_in(visitor.language),
            "error": "",  # a page shows its error message when the handler names one
            **(context or {}),
        },
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Cache-Control"] = "no-store"  # pages show personal data
    return response


__all__ = [
    "CSRF_COOKIE",
    "STAFF_ROLES",
    "Anyone",
    "Borrower",
    "PageRefused",
    "SignInFirst",
    "Visitor",
    "checked_form",
    "config_of",
    "page",
    "safe_next",
    "staff_page",
]
