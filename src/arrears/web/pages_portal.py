"""The borrower's portal, the pages that read: what happens next (the forecast), checking a
collector or a channel, my credit record, my rights and where to get help.

Each page calls the same service function as the borrower's API route (``api.routes_me``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arrears.api.deps import now
from arrears.core.people.advice import Language
from arrears.services.close.forecast import Next, borrower_forecast
from arrears.services.collection.verification import verify_code
from arrears.services.collection.verification_channels import check_channel, official_of
from arrears.services.collection.verification_credentials import (
    credential_text,
    verify_credential,
)
from arrears.services.credit import borrower_credit_view
from arrears.services.rights import borrower_rights
from arrears.web.pages import Borrower, PageRefused, Visitor, checked_form, config_of, page
from arrears.web.portal import FieldError, form_value, from_problems, mine, subject

router = APIRouter(include_in_schema=False)

# The forecast runs the real close on a scratch copy, a day at a time (about 2 s for 30 days
# on one borrower): the page asks for a fixed 30 days, so one visit cannot hold a worker long.
FORECAST_DAYS = 30


def _by_day(steps: tuple[Next, ...]) -> list[dict[str, Any]]:
    """The forecast's steps grouped by date, each day with the payment that stops it."""
    days: list[dict[str, Any]] = []
    for step in steps:
        if not days or days[-1]["on"] != step.on:
            pay = next((s for s in step.stops if s.kind == "pay"), None)
            days.append({"on": step.on, "events": [], "pay": pay, "dpd": step.dpd})
        days[-1]["events"].append(step)
    return days


@router.get("/my/next")
def my_next(request: Request, me: Borrower) -> Response:
    """What the close will do on which date over the next 30 days if nothing is paid, and
    what stops each step."""
    config = config_of(request)
    found, problems = borrower_forecast(
        config.engine, subject(me), config.close, days=FORECAST_DAYS
    )
    if found is None:
        return page(request, me, "my_next", {"f": None, "problems": problems})
    data = found.as_dict()
    pauses = (
        [s["kind"] for s in data["next"][0]["stops"] if s["kind"] != "pay"] if data["next"] else []
    )
    credit = [
        {"loan_id": loan["loan_id"], **m}
        for loan in data["credit"].get("loans", [])
        for m in loan.get("if_nothing_is_paid", [])
    ]
    context = {
        "f": found,
        "days": _by_day(found.next),
        "pauses": pauses,
        "credit": credit,
        "forecast_days": FORECAST_DAYS,
    }
    return page(request, me, "my_next", context)


def _language(me: Visitor) -> Language:
    """The page's language, in which the services' advice is given."""
    return "en" if me.language == "en" else "zh-CN"


def _verify_page(
    request: Request,
    me: Visitor,
    *,
    code: dict[str, Any] | None = None,
    credential: dict[str, Any] | None = None,
    channel: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "code_verdict": code,
        "credential_verdict": credential,
        "channel_verdict": channel,
        "errors": errors or [],
        "typed": typed or {},
    }
    return page(request, me, "my_verify", context, status=status)


@router.get("/my/verify")
def verify_form(request: Request, me: Borrower) -> Response:
    return _verify_page(request, me)


@router.post("/my/verify/code")
async def verify_collector_code(request: Request, me: Borrower) -> Response:
    """Is the person at my door or on the phone a collector of this lender, on my case? The
    answer is shown at once (it is a check, and a code is used once: sending it again would
    be refused)."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = form_value(form, "code", 40)
    if not typed.strip():
        errors = [FieldError("code", "required")]
        return _verify_page(request, me, errors=errors, typed={"code": typed}, status=422)
    with config.engine.begin() as db:
        verdict, problems = verify_code(
            db, typed, subject(me), now(), config.secret, language=_language(me)
        )
    if verdict is None:
        errors = from_problems(problems, {"code": "code", "": "code"})
        return _verify_page(request, me, errors=errors, typed={"code": typed}, status=422)
    return _verify_page(request, me, code=verdict.as_dict())


@router.post("/my/verify/credential")
async def verify_collector_credential(request: Request, me: Borrower) -> Response:
    """A collector's signed credential (the text their phone shows, or its file's content)."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = form_value(form, "credential", 8000)
    if config.signing_key is None:
        raise PageRefused(404, "not_found")
    text, problems = credential_text(typed)
    language = _language(me)
    verdict = None
    if text is not None and text:
        with config.engine.begin() as db:
            verdict, problems = verify_credential(
                text, config.signing_key.public_key(), now(), language, db
            )
    if verdict is None:
        errors = from_problems(problems, {}) if text else [FieldError("credential", "required")]
        errors = [FieldError("credential", e.why, e.detail) for e in errors]
        return _verify_page(request, me, errors=errors, typed={"credential": typed}, status=422)
    return _verify_page(request, me, credential=verdict.as_dict())


@router.post("/my/verify/channel")
async def verify_channel(request: Request, me: Borrower) -> Response:
    """Is this number that called me, or this account I was asked to pay, the lender's own?"""
    form = await checked_form(request, me)
    config = config_of(request)
    phone = form_value(form, "phone", 40).strip()
    account = form_value(form, "account", 64).strip()
    typed = {"phone": phone, "account": account}
    if bool(phone) == bool(account):
        errors = [FieldError("phone", "one_of")]
        return _verify_page(request, me, errors=errors, typed=typed, status=422)
    official, problems = official_of(config.lender)
    verdict = None
    if official is not None:
        with config.engine.begin() as db:
            verdict, problems = check_channel(
                db,
                official,
                now(),
                phone=phone or None,
                account=account or None,
                borrower_id=subject(me),
                page_language=_language(me),
            )
    if verdict is None:
        field = "phone" if phone else "account"
        errors = [FieldError(field, "service", p.reason) for p in problems]
        return _verify_page(request, me, errors=errors, typed=typed, status=422)
    return _verify_page(request, me, channel={**verdict.as_dict(), "kind": verdict.kind})


@router.get("/my/credit")
def my_credit(request: Request, me: Borrower) -> Response:
    """What my credit record shows, loan by loan: the months reported, and the months to be
    reported if nothing is paid."""
    with config_of(request).engine.connect() as db:
        _, day = mine(db, me)
        view = borrower_credit_view(db, subject(me), day)[0] if day else None
    return page(request, me, "my_credit", {"view": view, "as_of": day})


@router.get("/my/rights")
def my_rights(request: Request, me: Borrower) -> Response:
    """What collectors may and may not do under my rule pack, where to complain, free help:
    in the page's language."""
    config = config_of(request)
    with config.engine.connect() as db:
        rights, _ = borrower_rights(db, subject(me), me.language, config.lender)
    return page(request, me, "my_rights", {"rights": rights})
