"""Staff accounts: a username, a password kept as an argon2id hash, one role; signing in, with
a lockout after repeated wrong passwords.

Roles (issue 17): ``admin`` (everything), ``supervisor`` (decides plans, visits), ``agent``
(works the cases assigned to them), ``field_collector`` (their visits), ``compliance`` (reads
everything, changes nothing).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from arrears.core.problem import Problem, Result, fail, ok
from arrears.services.signin import Session, new_session
from arrears.store.api_tables import staff_users
from arrears.store.instants import from_db, to_utc

ROLES = ("admin", "supervisor", "agent", "field_collector", "compliance")
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_HASHER = PasswordHasher()  # argon2id with the library's current parameters
# A hash of nothing anyone knows, checked when the username is unknown, so that a wrong
# username takes as long as a wrong password and cannot be told apart by timing.
_DUMMY = _HASHER.hash("not a password of anyone's")


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    role: str
    active: bool


def add_user(
    conn: Connection, username: str, password: str, role: str, now: datetime
) -> Result[StaffUser]:
    record = f"user {username}"
    problems: list[Problem] = []
    if not username.strip() or len(username) > 64 or not username.isascii() or " " in username:
        problems.append(Problem(record, "username", "must be 1-64 ASCII characters, no spaces"))
    if role not in ROLES:
        problems.append(Problem(record, "role", f"must be one of {', '.join(ROLES)}"))
    if len(password) < MIN_PASSWORD:
        problems.append(Problem(record, "password", f"must be at least {MIN_PASSWORD} characters"))
    if problems:
        return fail(*problems)
    exists = conn.execute(select(staff_users.c.username).where(staff_users.c.username == username))
    if exists.first() is not None:
        return fail(Problem(record, "username", "is taken", "conflict"))
    conn.execute(
        insert(staff_users).values(
            username=username,
            password_hash=_HASHER.hash(password),
            role=role,
            active=True,
            created_at=to_utc(now),
        )
    )
    return ok(StaffUser(username, role, True))


def staff_sign_in(
    conn: Connection, username: str, password: str, now: datetime, secret: bytes
) -> Result[Session]:
    """A session for the staff member; a wrong password counts, five lock the account for a
    quarter of an hour. The caller commits either way."""
    refused = Problem("sign-in", "password", "wrong username or password", "unauthorized")
    row = conn.execute(select(staff_users).where(staff_users.c.username == username)).first()
    if row is None or not row.active:
        with contextlib.suppress(VerificationError):
            _HASHER.verify(_DUMMY, password)
        return fail(refused)
    if row.locked_until is not None and from_db(row.locked_until) > now:
        return fail(
            Problem("sign-in", "username", "locked after too many wrong passwords", "rate_limited")
        )
    try:
        _HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        failures = row.failures + 1
        locked = to_utc(now + LOCKOUT) if failures >= MAX_FAILURES else None
        conn.execute(
            update(staff_users)
            .where(staff_users.c.username == username)
            .values(failures=0 if locked else failures, locked_until=locked)
        )
        return fail(refused)
    conn.execute(
        update(staff_users)
        .where(staff_users.c.username == username)
        .values(failures=0, locked_until=None)
    )
    return ok(new_session(conn, "staff", username, row.role, now, secret))
