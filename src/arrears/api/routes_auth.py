"""Signing in: a borrower by phone number and a one-time SMS code, staff by username and
password. Each answers a bearer token; the wrong code or password counts against the account
in a transaction of its own, committed either way."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from arrears.api.bodies import Body
from arrears.api.deps import Config, now, value
from arrears.api.problems import ProblemError, status_of
from arrears.core.people.masking import mask_phone
from arrears.services.signin import send_code, sign_in
from arrears.services.staff import staff_sign_in
from arrears.store.outbox_tables import outbox

router = APIRouter(tags=["sign-in"])


class PhoneIn(Body):
    phone: str = Field(min_length=5, max_length=40, examples=["13800138000"])


class SignInIn(PhoneIn):
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class StaffSignInIn(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class SessionOut(BaseModel):
    token: str
    expires_at: datetime


class CodeOut(BaseModel):
    sent: Literal[True] = True
    detail: str = "If the number is ours, a code is on its way by SMS."


@router.post("/auth/borrower/code", status_code=202)
def ask_code(body: PhoneIn, config: Config) -> CodeOut:
    """Send a one-time sign-in code by SMS (the same answer for a number we do not know)."""
    with config.engine.begin() as db:
        sent = value(send_code(db, body.phone, now(), config.secret, config.lender))
    if sent is not None and config.show_codes:
        with config.engine.connect() as db:
            text = db.execute(
                select(outbox.c.body).where(outbox.c.message_key == sent.message_key)
            ).scalar()
        print(f"[development] SMS to {mask_phone(body.phone)}: {text}", flush=True)
    return CodeOut()


@router.post("/auth/borrower/session")
def open_session(body: SignInIn, config: Config) -> SessionOut:
    """Sign in with the phone number and the code; a bearer token for the next requests."""
    with config.engine.begin() as db:
        session, problems = sign_in(db, body.phone, body.code, now(), config.secret)
    if session is None:
        raise ProblemError(401, problems)
    return SessionOut(token=session.token, expires_at=session.expires_at)


@router.post("/auth/staff/session")
def staff_session(body: StaffSignInIn, config: Config) -> SessionOut:
    """Staff sign in with username and password; five wrong passwords lock the account for
    15 minutes."""
    with config.engine.begin() as db:
        session, problems = staff_sign_in(db, body.username, body.password, now(), config.secret)
    if session is None:
        raise ProblemError(status_of(problems), problems)
    return SessionOut(token=session.token, expires_at=session.expires_at)
