"""What a borrower owes and what happens next if they pay nothing: a dry run of the close.

The forecast does not restate the policy's or the gate's rules. It copies the borrower's own
records (loans, ledger, schedule, case, contacts, promises, plans, evidence chain, profile)
with the lender's shared ones (products, collectors, the closes run so far) into a scratch
SQLite database, and runs the real close there, day by day, with the same policies, packs and
settings. What that close plans, blocks and routes is the forecast, by construction the same
steps on the same dates as the close will take while nothing is paid (tested over 30 days).

Two things the scratch close cannot know: other borrowers (the agents' call capacity is shared,
so a call may come a day later when the queue is full), and what people do (an agent may reach
the borrower, who may pay or promise). The credit part is the credit rules' own view
(``core.credit.view``): what will be reported on which date if nothing is paid.

For each step, what would stop it: paying what is overdue the day before (the amount is the
scratch ledger's), and the pauses the policy honours (a promise to pay, an agreed plan, a
dispute, and hardship where the policy pauses for it).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select

from arrears.core.credit.codes import NEGATIVE
from arrears.core.jsonable import jsonable
from arrears.core.ledger.account import Account, payoff_amount
from arrears.core.lender.settings import Lender
from arrears.core.money import fmt
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.core.strategy.assign import assign
from arrears.core.texts import render_parts
from arrears.services import evidence as log
from arrears.services.accounts import (
    LoanRecord,
    borrower_accounts_and_state,
    load_accounts_and_state,
)
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.credit import borrower_credit_view
from arrears.services.texts import text_set
from arrears.store import tables
from arrears.store.case_tables import case_routings
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade
from arrears.store.tables import metadata

MAX_DAYS = 90
# Shared by every borrower and small: copied whole.
SHARED = (
    "products",
    "agencies",
    "collectors",
    "collector_training",
    "close_runs",
    "evidence_roots",
)
# In flight only while a close runs (a scratch close starts its own), or the API's sign-ins
# and answers, which no close reads.
SKIPPED = ("close_progress", "api_sessions", "idempotency_keys", "staff_users", "pii_reads")


@dataclass(frozen=True, slots=True)
class LoanOwed:
    loan_id: str
    currency: str
    dpd: int
    overdue_principal: int
    overdue_interest: int
    overdue_penalty: int
    outstanding: int
    payoff: int  # what settles the loan today

    @property
    def overdue(self) -> int:
        return self.overdue_principal + self.overdue_interest + self.overdue_penalty


@dataclass(frozen=True, slots=True)
class Stop:
    """One way to stop a step: ``kind`` pay (``amount`` by ``by``), promise, plan, dispute,
    hardship."""

    kind: str
    amount: int | None = None
    by: date | None = None


@dataclass(frozen=True, slots=True)
class Next:
    """One thing the close will do on ``on`` if nothing is paid."""

    on: date
    kind: str  # contact | blocked | routing
    step: str  # the policy step, or the routing kind (visit_approval, legal, ...)
    channel: str | None
    party: str | None
    loan_id: str | None
    dpd: int  # the lead loan's days past due that day
    rules: tuple[str, ...] = ()  # a blocked contact: the rules against it
    stops: tuple[Stop, ...] = ()


@dataclass(frozen=True, slots=True)
class Forecast:
    borrower_id: str
    as_of: date
    days: int
    policy: str
    loans: tuple[LoanOwed, ...]
    next: tuple[Next, ...]
    credit: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        for loan, row in zip(self.loans, out["loans"], strict=True):
            for k in (
                "overdue_principal",
                "overdue_interest",
                "overdue_penalty",
                "outstanding",
                "payoff",
            ):
                row[k] = fmt(getattr(loan, k))
            row["overdue"] = fmt(loan.overdue)
        for step in out["next"]:
            for stop in step["stops"]:
                if stop["amount"] is not None:
                    stop["amount"] = fmt(stop["amount"])
        return out


@functools.cache
def _empty_schema() -> Path:
    """A migrated, empty SQLite file (the evidence log's triggers too), made once a process
    and copied for each forecast: migrating takes most of a second."""
    folder = Path(tempfile.mkdtemp(prefix="arrears-schema-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "empty.db"
    engine = make_engine(str(path))
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last connection closed: the WAL is folded into the file
    return path


def _loan_ids(conn: Connection, borrower_id: str) -> list[str]:
    q = select(tables.loans.c.loan_id).where(tables.loans.c.borrower_id == borrower_id)
    return list(conn.execute(q.order_by(tables.loans.c.loan_id)).scalars())


def _selection(table: Table, borrower_id: str, loan_ids: list[str], entries: Any) -> Any | None:
    """The rows of ``table`` the borrower's close reads, or None for a table not copied."""
    cols = table.c
    if table.name in SKIPPED:
        return None
    if table.name in SHARED:
        return select(table)
    if "borrower_id" in cols:
        return select(table).where(cols.borrower_id == borrower_id)
    if "loan_id" in cols:
        return select(table).where(cols.loan_id.in_(loan_ids))
    if table.name == "postings":
        return select(table).where(cols.entry_id.in_(entries))
    raise AssertionError(f"table {table.name}: say how a forecast copies it")  # a new table


Rows = list[tuple[Table, list[dict[str, Any]]]]


def borrower_rows(source: Connection, borrower_id: str) -> Rows:
    """What the close reads of one borrower, table by table in dependency order."""
    loan_ids = _loan_ids(source, borrower_id)
    entries = select(tables.journal_entries.c.entry_id).where(
        tables.journal_entries.c.loan_id.in_(loan_ids)
    )
    out: Rows = []
    for table in metadata.sorted_tables:
        query = _selection(table, borrower_id, loan_ids, entries)
        if query is not None:
            # In key order: an evidence chain must go in seq by seq (its link trigger checks
            # each record against the one before), and PostgreSQL returns no order unasked.
            ordered = query.order_by(*table.primary_key.columns)
            out.append((table, [dict(r._mapping) for r in source.execute(ordered)]))
    return out


def copy_borrower(source: Connection, scratch: Connection, borrower_id: str) -> int:
    """Copy what the close reads of one borrower into an empty schema; rows copied."""
    return _write(scratch, borrower_rows(source, borrower_id))


def _write(scratch: Connection, rows: Rows) -> int:
    copied = 0
    for table, found in rows:
        if found:
            scratch.execute(insert(table), found)
            copied += len(found)
    return copied


def _fingerprint(rows: Rows, *asked: object) -> str:
    """A digest of everything a forecast is computed from: the rows the scratch close starts
    with and what was asked. The same digest is the same forecast (the scratch close reads
    nothing else, and its clock is the day's), so a forecast is worked out once per state
    of the borrower's records; any payment, promise, plan, contact or close changes a row."""
    h = hashlib.sha256(repr(asked).encode())
    for table, found in rows:
        h.update(table.name.encode())
        for line in sorted(repr(sorted(r.items())) for r in found):
            h.update(line.encode())
    return h.hexdigest()


class _Worked:
    """Forecasts worked out lately, by fingerprint, for each close configuration (a page
    read twice, or by the borrower and then an agent, costs one dry run, not two)."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._found: OrderedDict[tuple[int, str], tuple[CloseConfig, Forecast]] = OrderedDict()

    def get(self, config: CloseConfig, key: str) -> Forecast | None:
        with self._lock:
            hit = self._found.get((id(config), key))
            if hit is None or hit[0] is not config:
                return None
            self._found.move_to_end((id(config), key))
            return hit[1]

    def put(self, config: CloseConfig, key: str, forecast: Forecast) -> None:
        with self._lock:
            self._found[(id(config), key)] = (config, forecast)
            while len(self._found) > self._size:
                self._found.popitem(last=False)


WORKED = _Worked()


def owed_today(conn: Connection, loan_ids: list[str], on: date) -> tuple[LoanOwed, ...]:
    """Each loan's overdue amounts and days past due as the last close left them, and its
    payoff on ``on``."""
    return _owed(load_accounts_and_state(conn, loan_ids), lambda _: on)


def owed_by(conn: Connection, borrower_id: str) -> tuple[LoanOwed, ...]:
    """``owed_today`` for each of the borrower's loans that has been closed, its payoff on the
    date its last close reached (the ledger's today), by loan id."""
    return _owed(borrower_accounts_and_state(conn, borrower_id), lambda acct: acct.as_of)


def _owed(
    found: dict[str, tuple[LoanRecord, Account, Any]], on: Callable[[Account], date]
) -> tuple[LoanOwed, ...]:
    out = []
    for loan_id, (rec, acct, s) in sorted(found.items()):
        payoff = payoff_amount(acct, rec.product, on(acct)) if s.status == "active" else 0
        outstanding = s.outstanding_principal + s.outstanding_interest + s.outstanding_penalty
        out.append(
            LoanOwed(
                loan_id,
                rec.currency,
                s.dpd,
                s.overdue_principal,
                s.overdue_interest,
                s.overdue_penalty,
                outstanding,
                payoff,
            )
        )
    return tuple(out)


def _lead(conn: Connection, loan_ids: list[str]) -> tuple[int, int]:
    """The borrower's highest days past due and their overdue total, as the scratch ledger
    has them after its last close."""
    s = tables.loan_state
    row = conn.execute(
        select(func.max(s.c.dpd), func.sum(tables.overdue_total())).where(s.c.loan_id.in_(loan_ids))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def _pauses(config: CloseConfig, borrower_id: str) -> tuple[Stop, ...]:
    policy = config.policies.get(assign(borrower_id, config.policies))
    kinds = ["promise", "plan", "dispute"] + (
        ["hardship"] if policy.hardship_pauses_contact else []
    )
    return tuple(Stop(k) for k in kinds)


def _day_events(
    scratch: Connection, borrower_id: str, seen: int, on: date, dpd: int, stops: tuple[Stop, ...]
) -> tuple[list[Next], int]:
    found: list[Next] = []
    chain = log.load_chain(scratch, borrower_id)
    for r in chain[seen:]:
        p = r.payload if isinstance(r.payload, dict) else {}
        if r.kind not in ("contact.planned", "contact.blocked"):
            continue
        rules = tuple(p.get("rules", ())) if r.kind == "contact.blocked" else ()
        found.append(
            Next(
                on,
                "contact" if r.kind == "contact.planned" else "blocked",
                str(p.get("step", "")),
                p.get("channel"),
                p.get("party"),
                p.get("loan_id"),
                dpd,
                rules,
                stops if p.get("purpose") != "plan_reminder" else (),
            )
        )
    return found, len(chain)


def _routings(
    scratch: Connection, loan_ids: list[str], on: date, dpd: int, stops: tuple[Stop, ...]
) -> list[Next]:
    r = case_routings.c
    rows = scratch.execute(
        select(r.kind, r.loan_id).where(r.loan_id.in_(loan_ids), r.routed_on == on).order_by(r.kind)
    ).all()
    return [
        Next(on, "routing", kind, None, None, loan_id, dpd, (), stops) for kind, loan_id in rows
    ]


def borrower_forecast(
    engine: Engine,
    borrower_id: str,
    config: CloseConfig,
    *,
    days: int = 30,
    as_of: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Result[Forecast]:
    """What ``borrower_id`` owes on ``as_of`` (default: the last close) and what the close will
    do over the next ``days`` if nothing is paid."""
    record = f"borrower {borrower_id}"
    if not 1 <= days <= MAX_DAYS:
        return fail(Problem(record, "days", f"must be 1 to {MAX_DAYS}"))
    # Read the borrower in one short transaction and let it go before the scratch closes
    # run: on SQLite every transaction holds the write lock (BEGIN IMMEDIATE), and a payment
    # or a sign-in waited for the whole forecast behind it.
    with engine.connect() as conn:
        loan_ids = _loan_ids(conn, borrower_id)
        if not loan_ids:
            return fail(not_found(record, "no loans found", "borrower_id"))
        closed = conn.execute(
            select(func.max(tables.loan_state.c.as_of)).where(
                tables.loan_state.c.loan_id.in_(loan_ids)
            )
        ).scalar()
        if closed is None:
            return fail(Problem(record, "as_of", "no close has aged these loans yet"))
        start = as_of or closed
        if start < closed:
            return fail(Problem(record, "as_of", f"must be on or after the last close, {closed}"))
        rows = borrower_rows(conn, borrower_id)
        credit = borrower_credit_view(conn, borrower_id, start)[0] or {}
    key = _fingerprint(rows, borrower_id, start, days)
    worked = WORKED.get(config, key)
    if worked is not None:
        return ok(replace(worked, credit=credit))
    with tempfile.TemporaryDirectory(prefix="arrears-forecast-") as folder:
        target = Path(folder) / "forecast.db"
        shutil.copyfile(_empty_schema(), target)
        scratch_engine = make_engine(str(target))
        try:
            with scratch_engine.begin() as scratch:
                _write(scratch, rows)
            owed, nexts, policy = _run(
                scratch_engine, borrower_id, loan_ids, config, closed, start, days, progress
            )
        finally:
            scratch_engine.dispose()
    forecast = Forecast(borrower_id, start, days, policy, owed, nexts, credit)
    WORKED.put(config, key, forecast)
    return ok(forecast)


def _run(
    scratch_engine: Engine,
    borrower_id: str,
    loan_ids: list[str],
    config: CloseConfig,
    closed: date,
    start: date,
    days: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[tuple[LoanOwed, ...], tuple[Next, ...], str]:
    def close(day: date) -> None:
        close_business_day(scratch_engine, day, config, now=datetime.combine(day, time(0, 30), UTC))

    day = closed
    while day < start:  # up to the day asked about, said nothing of
        day += timedelta(days=1)
        close(day)
    with scratch_engine.connect() as scratch:
        owed = owed_today(scratch, loan_ids, start)
        seen = len(log.load_chain(scratch, borrower_id))
    pauses = _pauses(config, borrower_id)
    policy = config.policies.get(assign(borrower_id, config.policies)).name
    nexts: list[Next] = []
    for k in range(1, days + 1):
        with scratch_engine.connect() as scratch:
            _, overdue_before = _lead(scratch, loan_ids)
        day = start + timedelta(days=k)
        close(day)
        stops = (
            (Stop("pay", overdue_before, day - timedelta(days=1)),) if overdue_before else ()
        ) + pauses
        with scratch_engine.connect() as scratch:
            dpd, _ = _lead(scratch, loan_ids)
            found, seen = _day_events(scratch, borrower_id, seen, day, dpd, stops)
            nexts += found + _routings(scratch, loan_ids, day, dpd, stops)
        if progress is not None:
            progress(k, days)
    return owed, tuple(nexts), policy


def explain_forecast(f: Forecast, language: str, lender: Lender) -> str:
    """The forecast in plain words in ``language`` (zh-CN or en), for the borrower."""
    data = f.as_dict()
    days: list[dict[str, Any]] = []
    for step in data["next"]:
        if not days or days[-1]["on"] != step["on"]:
            pay = next((s for s in step["stops"] if s["kind"] == "pay"), None)
            days.append({"on": step["on"], "events": [], "pay": pay})
        days[-1]["events"].append(step)
    credit = [
        {"loan_id": loan["loan_id"], **m}
        for loan in data["credit"].get("loans", [])
        for m in loan.get("if_nothing_is_paid", [])
        if m["status"] in NEGATIVE
    ]
    pauses = [s.kind for s in f.next[0].stops if s.kind != "pay"] if f.next else []
    context = {
        "f": data,
        "days": days,
        "credit": credit,
        "pauses": pauses,
        "lender": lender.name.get(language),
        "hotline": lender.hotline,
    }
    parts = render_parts(text_set("borrower"), language, "show", context, ("body",))
    lines = [line.rstrip() for line in parts["body"].splitlines()]
    return "\n".join(line for k, line in enumerate(lines) if line or (k and lines[k - 1]))
