"""Signing in to the API: a borrower by phone number and a one-time code sent by SMS (through the
outbox, so the lender's own SMS channel carries it), and bearer tokens for sessions.

Codes and tokens are kept as HMAC-SHA-256 with the server secret (``verification_keys``),
never in clear. A borrower may ask for at most ``CODES_PER_HOUR`` codes an hour; a code works
once, for ``CODE_MINUTES`` minutes, and ``MAX_FAILURES`` wrong tries lock that code (a new one
must be asked for). Asking for a code for a number we do not know says nothing different, so
the endpoint cannot be used to find out who borrows from the lender; nor does a number shared
by several borrowers: ``send_code`` answers it as it answers a number we do not know (the
phone itself is told by SMS why no code comes), and ``sign_in`` refuses it as a wrong code,
so a caller need not tell the cases apart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from arrears.core.contact.messages import OutboundMessage
from arrears.core.lender.settings import Lender
from arrears.core.problem import Problem, Result, fail, ok
from arrears.core.texts import render_parts
from arrears.services.outbox import enqueue
from arrears.services.references import recipient_ref
from arrears.services.texts import text_set
from arrears.store import tables
from arrears.store.api_tables import api_sessions, login_codes
from arrears.store.instants import from_db, to_utc
from arrears.store.profile_tables import borrower_profiles

CODE_MINUTES = 10
CODES_PER_HOUR = 5
MAX_FAILURES = 5
SESSION_HOURS = 12


def _mac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeSent:
    borrower_id: str
    expires_at: datetime
    message_key: str


REFUSED = Problem("sign-in", "code", "wrong or expired code", "unauthorized")


def _borrowers_with(conn: Connection, phone: str) -> list[str]:
    """Every borrower whose phone is ``phone`` (sealed, so compared whole: the column's type
    seals the parameter as it sealed the column)."""
    b = tables.borrowers.c
    # An erased borrower's old number names no one (the number is gone, and so is the way in).
    q = select(b.borrower_id).where(b.phone == phone, b.erased_on.is_(None))
    return [str(r) for r in conn.execute(q).scalars()]


def _send_sms(
    conn: Connection,
    key: str,
    borrower_id: str,
    loan_id: str,
    phone: str,
    template: str,
    lender: Lender,
    values: dict[str, object],
    now: datetime,
    expires: datetime,
) -> None:
    """Queue the sign-in SMS ``template`` in the borrower's language, the lender named."""
    language = conn.execute(
        select(borrower_profiles.c.language).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    language = language if language in ("zh-CN", "en") else "zh-CN"
    named = {**values, "lender": lender.name.get(language)}
    parts = render_parts(text_set("borrower"), language, template, named, ("subject", "body"))
    message = OutboundMessage(
        key=key,
        borrower_id=borrower_id,
        loan_id=loan_id,
        channel="sms",
        party="debtor",
        recipient=phone,
        template=template,
        language=language,
        subject=parts["subject"],
        body=parts["body"],
        policy="signin",
        step=template,
        business_date=now.date(),
        expires_at=expires,
    )
    enqueue(conn, [message], now)


def _tell_shared_number(
    conn: Connection, phone: str, borrowers: list[str], now: datetime, lender: Lender
) -> None:
    """SMS the number that it cannot sign in and whom to call: at most one an hour (the
    message key is the number's keyed reference and the hour, and the outbox keeps the first),
    so asking again and again cannot flood the phone."""
    first = sorted(borrowers)[0]  # the outbox row needs a borrower; the text names none
    hour = to_utc(now).replace(minute=0, second=0, microsecond=0).isoformat()
    _send_sms(
        conn,
        f"signin-shared:{recipient_ref(phone)}:{hour}",
        first,
        "-",
        phone,
        "signin_shared_number",
        lender,
        {"hotline": lender.hotline},
        now,
        now + timedelta(minutes=CODE_MINUTES),
    )


def send_code(
    conn: Connection, phone: str, now: datetime, secret: bytes, lender: Lender
) -> Result[CodeSent | None]:
    """Queue a sign-in code by SMS to the borrower with ``phone``; None when no code was sent
    because no borrower has that number, or more than one has (the caller answers the same
    either way, so the answer tells no one who borrows).

    A number on file for more than one borrower signs no one in (a code would open the
    account of whichever borrower the lookup met first): no code is issued, and the number is
    told by SMS, at most once an hour, to call the lender. The transaction must commit for
    that SMS to go."""
    phone = phone.strip()
    if not 5 <= len(phone) <= 40:
        return fail(Problem("sign-in", "phone", "must be a phone number"))
    found = _borrowers_with(conn, phone)
    if not found:
        return ok(None)
    if len(found) > 1:
        _tell_shared_number(conn, phone, found, now, lender)
        return ok(None)  # as for a number we do not know (module docstring)
    borrower_id = found[0]
    recent = conn.execute(
        select(func.count())
        .select_from(login_codes)
        .where(
            login_codes.c.borrower_id == borrower_id,
            login_codes.c.issued_at > to_utc(now - timedelta(hours=1)),
        )
    ).scalar_one()
    if recent >= CODES_PER_HOUR:
        return fail(
            Problem("sign-in", "phone", "too many codes asked for; try again later", "rate_limited")
        )
    code = f"{secrets.randbelow(10**6):06d}"
    expires = now + timedelta(minutes=CODE_MINUTES)
    conn.execute(
        insert(login_codes).values(
            borrower_id=borrower_id,
            code_hmac=_mac(secret, f"{borrower_id}:{code}"),
            issued_at=to_utc(now),
            expires_at=to_utc(expires),
        )
    )
    loan_id = conn.execute(
        select(tables.loans.c.loan_id)
        .where(tables.loans.c.borrower_id == borrower_id)
        .order_by(tables.loans.c.loan_id)
        .limit(1)
    ).scalar()
    key = f"signin:{borrower_id}:{to_utc(now).isoformat()}"
    values: dict[str, object] = {"code": code, "minutes": CODE_MINUTES}
    loan = str(loan_id or "-")
    _send_sms(conn, key, borrower_id, loan, phone, "signin_code", lender, values, now, expires)
    return ok(CodeSent(borrower_id, expires, key))


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # shown once, to the caller; kept only as its HMAC
    kind: str
    subject: str
    role: str
    expires_at: datetime


def new_session(
    conn: Connection, kind: str, subject: str, role: str, now: datetime, secret: bytes
) -> Session:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=SESSION_HOURS)
    conn.execute(
        insert(api_sessions).values(
            token_hmac=_mac(secret, token),
            kind=kind,
            subject=subject,
            role=role,
            created_at=to_utc(now),
            expires_at=to_utc(expires),
        )
    )
    return Session(token, kind, subject, role, expires)


def sign_in(
    conn: Connection, phone: str, code: str, now: datetime, secret: bytes
) -> Result[Session]:
    """A session for the borrower with ``phone`` whose latest code is ``code``."""
    found = _borrowers_with(conn, phone.strip())
    if not found:
        return fail(REFUSED)
    if len(found) > 1:  # a code issued before the number was shared opens no one's account
        return fail(REFUSED)  # as a wrong code is: the answer tells no one the number is ours
    borrower_id = found[0]
    latest = conn.execute(
        select(login_codes)
        .where(login_codes.c.borrower_id == borrower_id)
        .order_by(login_codes.c.code_id.desc())
        .limit(1)
    ).first()
    if (
        latest is None
        or latest.used_at is not None
        or latest.failures >= MAX_FAILURES
        or from_db(latest.expires_at) <= now
    ):
        return fail(REFUSED)
    if not hmac.compare_digest(latest.code_hmac, _mac(secret, f"{borrower_id}:{code.strip()}")):
        conn.execute(
            update(login_codes)
            .where(login_codes.c.code_id == latest.code_id)
            .values(failures=login_codes.c.failures + 1)
        )
        return fail(REFUSED)
    conn.execute(
        update(login_codes)
        .where(login_codes.c.code_id == latest.code_id)
        .values(used_at=to_utc(now))
    )
    return ok(new_session(conn, "borrower", borrower_id, "borrower", now, secret))


# Built once: every signed-in request looks its session up.
_SESSION = select(api_sessions).where(api_sessions.c.token_hmac == bindparam("token_hmac"))


def session_for(conn: Connection, token: str, now: datetime, secret: bytes) -> Session | None:
    """The live session a bearer token stands for, or None."""
    row = conn.execute(_SESSION, {"token_hmac": _mac(secret, token)}).first()
    if row is None or from_db(row.expires_at) <= now:
        return None
    return Session("", row.kind, row.subject, row.role, from_db(row.expires_at))


def end_session(conn: Connection, token: str, secret: bytes) -> bool:
    """Sign out: the token stops working at once. False when it was not a session."""
    gone = conn.execute(
        delete(api_sessions).where(api_sessions.c.token_hmac == _mac(secret, token))
    )
    return bool(gone.rowcount)


def csrf_token(token: str, secret: bytes) -> str:
    """The anti-forgery token of a cookie session: derived from the session's token, so it is
    kept nowhere, changes with every sign-in, and another site cannot know it."""
    return _mac(secret, f"csrf:{token}")


def same_csrf(token: str, given: str, secret: bytes) -> bool:
    return hmac.compare_digest(csrf_token(token, secret), given)
