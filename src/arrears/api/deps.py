"""What every route needs: the configuration, a transaction, who is asking, and the helpers
that turn a service's ``(value, problems)`` into an answer or problem details.

Authorisation lives here, in one place: ``Me`` is the signed-in borrower (a staff token on a
borrower's route is answered 404), ``staff(*roles)`` a staff member with one of the roles (a
borrower is answered 404, another role 403), and anonymous requests get 401 from both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Header, Path, Query, Request
from sqlalchemy import Connection, Engine, bindparam, select

from arrears.adapters.payments import PaymentAdapter
from arrears.api.problems import ProblemError, status_of
from arrears.core.lender.settings import Lender
from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem, Result
from arrears.services.close.day import CloseConfig
from arrears.services.close.forecast import MAX_DAYS
from arrears.services.signin import Session, same_csrf, session_for
from arrears.store import tables
from arrears.store.engine import POOL_SIZE

T = TypeVar("T")


@dataclass(frozen=True)
class ApiConfig:
    engine: Engine
    secret: bytes  # the server secret: HMAC of codes and tokens
    lender: Lender
    close: CloseConfig
    show_codes: bool = False  # development: sign-in codes are also written to the console
    cookie_secure: bool = True  # session cookies only over HTTPS (browsers count localhost)
    signing_key: Ed25519PrivateKey | None = None  # signs evidence packs (None: not offered)
    # How the borrower's portal takes a payment (None: not offered online);
    # ``adapters.payments.DemoPayments`` in development.
    payments: PaymentAdapter | None = None
    # Requests in flight at most; the next is answered 503 with Retry-After (api.capacity).
    max_in_flight: int = POOL_SIZE


def now() -> datetime:
    return datetime.now(UTC)


def value(result: Result[Any]) -> Any:
    """The result's value, or problem details with the status its first problem calls for."""
    found, problems = result
    if found is None and problems:
        raise ProblemError(status_of(problems), problems)
    return found


def money(text: str | None, field: str) -> int | None:
    """An amount in yuan as the client wrote it ("300.00"), in fen; a bad one names ``field``."""
    if text is None:
        return None
    try:
        return parse_amount(text)
    except MoneyError as exc:
        raise ProblemError(422, [Problem("request", field, str(exc))]) from None


def not_found(record: str, field: str) -> ProblemError:
    return ProblemError(404, [Problem(record, field, "not found", "not_found")])


def _config(request: Request) -> ApiConfig:
    config: ApiConfig = request.app.state.config
    return config


# The dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in
# a worker thread, and each such hand-off and back costs more than the work itself.
async def _config_dependency(request: Request) -> ApiConfig:
    return _config(request)


Config = Annotated[ApiConfig, Depends(_config_dependency)]
AuthHeader = Annotated[str | None, Header()]


SESSION_COOKIE = "arrears_session"
CSRF_COOKIE = "arrears_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class _Opened:
    """The request's transaction and the session its token or cookie stands for (None: none,
    or not live)."""

    db: Connection
    session: Session | None
    token: str
    by_cookie: bool


def _token(request: Request, authorization: str | None) -> tuple[str, bool]:
    """The bearer token, else the session cookie's; and whether it came by cookie."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if token:
        return token, False
    return request.cookies.get(SESSION_COOKIE, ""), True


def _open(request: Request, authorization: AuthHeader = None) -> Iterator[_Opened]:
    """The request's one connection and transaction, shared by every dependency that asks
    (FastAPI calls a dependency once a request): the caller's session check, the business
    date, the borrower's loans and the route itself. The session is read as the transaction
    begins, so that both take one hand-off to a worker thread (each costs more CPU than the
    session's query). Committed when the route returns, before the answer is sent, so a
    commit that fails is answered as the error it is; rolled back when the route raises, so
    a refused request changes nothing."""
    config = _config(request)
    token, by_cookie = _token(request, authorization)
    with config.engine.begin() as c:
        found = session_for(c, token, now(), config.secret) if token else None
        yield _Opened(c, found, token, by_cookie)


# scope="function": the transaction ends when the route returns (the default, "request",
# would hold the connection until the answer had been sent, and commit after it).
_OPENED = Depends(_open, scope="function")


async def _db(opened: _Opened = _OPENED) -> Connection:
    return opened.db


Db = Annotated[Connection, Depends(_db)]


def _checked(request: Request, found: Session | None, token: str, by_cookie: bool) -> Session:
    """The session, if there is one. A request that changes something on a cookie session
    must carry the session's anti-forgery token in X-CSRF-Token: a browser sends the cookie
    on a forged request from another site too, but that site cannot read the token."""
    if found is None:
        raise ProblemError(401, [Problem("request", "Authorization", "sign in first")])
    if by_cookie and request.method not in SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        if not same_csrf(token, given, _config(request).secret):
            raise ProblemError(
                403, [Problem("request", CSRF_HEADER, "missing or not this session's token")]
            )
    return found


def _session(request: Request, opened: _Opened) -> Session:
    """The caller's session, as read on the request's own connection (one checkout a
    request). Called by the role checks themselves, not as a dependency of theirs: each
    level of dependencies costs FastAPI more per request than the check."""
    return _checked(request, opened.session, opened.token, opened.by_cookie)


def _session_apart(request: Request, authorization: AuthHeader = None) -> Session:
    """The caller's session, read in a short transaction of its own: for the routes that run
    long without the request's transaction (the forecast), which must not hold the database
    meanwhile (on SQLite a transaction holds the write lock)."""
    config = _config(request)
    token, by_cookie = _token(request, authorization)
    found = None
    if token:
        with config.engine.connect() as db:
            found = session_for(db, token, now(), config.secret)
    return _checked(request, found, token, by_cookie)


def _as_borrower(found: Session) -> Session:
    if found.role != "borrower":
        raise not_found("request", "path")
    return found


async def _borrower(request: Request, opened: _Opened = _OPENED) -> Session:
    return _as_borrower(_session(request, opened))


async def _borrower_apart(found: Annotated[Session, Depends(_session_apart)]) -> Session:
    return _as_borrower(found)


# In a route, put the caller (Me, or a staff dependency) before Db, so that the request's
# connection is opened for the session check and the route's body finds it open.
Me = Annotated[Session, Depends(_borrower)]
# For a route without Db: the session read apart, no connection held while the route runs.
MeApart = Annotated[Session, Depends(_borrower_apart)]


def _as_staff(found: Session, roles: tuple[str, ...]) -> Session:
    if found.kind != "staff":
        raise not_found("request", "path")  # staff routes are not a borrower's to know of
    if found.role not in roles:
        raise ProblemError(
            403, [Problem("request", "Authorization", f"the {found.role} role may not do this")]
        )
    return found


def staff(*roles: str, apart: bool = False) -> Any:
    """A dependency: the signed-in staff member, if their role is one of ``roles``; ``apart``
    for a route without Db (see ``MeApart``)."""
    if apart:

        async def check_apart(found: Annotated[Session, Depends(_session_apart)]) -> Session:
            return _as_staff(found, roles)

        return Depends(check_apart)

    async def check(request: Request, opened: _Opened = _OPENED) -> Session:
        return _as_staff(_session(request, opened), roles)

    return Depends(check)


Readers = Annotated[Session, staff("admin", "supervisor", "compliance")]
Deciders = Annotated[Session, staff("admin", "supervisor")]
CaseReaders = Annotated[Session, staff("admin", "supervisor", "compliance", "agent")]
Agents = Annotated[Session, staff("agent", "supervisor")]
CaseReadersApart = Annotated[
    Session, staff("admin", "supervisor", "compliance", "agent", apart=True)
]
MoneyMovers = Annotated[Session, staff("admin", "supervisor")]  # payments, reversals, waivers
Auditors = Annotated[Session, staff("admin", "compliance")]
VisitReaders = Annotated[Session, staff("admin", "supervisor", "compliance", "field_collector")]

IdempotencyKey = Annotated[str | None, Header()]
# A row id in a path: the database's integer (PostgreSQL's is 32-bit; a larger one is refused
# as the bad input it is, not sent to the database to fail there).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The forecast runs the real close once a day: bounded, so one request cannot hold a worker.
ForecastDays = Annotated[int, Query(ge=1, le=MAX_DAYS, description="days ahead")]


@dataclass(frozen=True, slots=True)
class Page:
    """Which part of a list: lists come in a stable order (by id, the queue in working
    order), so ``offset`` walks them without gaps or repeats while nothing is added."""

    limit: int
    offset: int

    def of(self, items: Sequence[T]) -> list[T]:
        return list(items[self.offset : self.offset + self.limit])


async def _page(
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="skip this many")] = 0,
) -> Page:
    return Page(limit, offset)


Paged = Annotated[Page, Depends(_page)]


# Built once (see services.accounts): every borrower's request runs these two.
_OWN_LOANS = (
    select(tables.loans.c.loan_id)
    .where(tables.loans.c.borrower_id == bindparam("borrower_id"))
    .order_by(tables.loans.c.loan_id)
)
_AS_OF = (
    select(tables.loan_state.c.as_of)
    .where(tables.loan_state.c.loan_id.in_(bindparam("loan_ids", expanding=True)))
    .limit(1)
)


def own_loan_ids(db: Connection, borrower_id: str) -> list[str]:
    return list(db.execute(_OWN_LOANS, {"borrower_id": borrower_id}).scalars())


def own(db: Connection, who: Session, loan_id: str) -> None:
    """404 unless ``loan_id`` is the borrower's: another's loan is as a loan that is not."""
    if loan_id not in own_loan_ids(db, who.subject):
        raise not_found(f"loan {loan_id}", "loan_id")


def business_date(db: Connection, loan_ids: list[str]) -> date | None:
    """The date the loans were last closed to (the ledger's today)."""
    if not loan_ids:
        return None
    day = db.execute(_AS_OF, {"loan_ids": loan_ids}).scalar()
    return day if isinstance(day, date) else None
