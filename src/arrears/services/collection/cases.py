"""Cases and the contact history, in the database: what the close and the dispatcher call.

* ``open_or_update_cases`` / ``close_cases``: one open case per overdue borrower.
* ``record_attempts``: the bulk insert of contacts made (the gate's history), idempotent by key.
* ``history_for`` / ``context_for``: the compliance gate's two inputs besides the proposal,
  for many borrowers at once.
* ``case_views``: the per-borrower facts the collection policy decides on, in a few queries.

Every write appends the matching evidence record in the caller's transaction; nothing here
commits.
"""

from __future__ import annotations

import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from queue import Empty, SimpleQueue
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from sqlalchemy import (
    Connection,
    Select,
    and_,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from arrears.core.compliance.model import Contact, Context
from arrears.core.contact.cases import (
    CLOSE_REASONS,
    CaseInput,
    OpenCase,
    case_changes,
    cases_to_close,
)
from arrears.core.contact.history import is_reachable, refused_numbers
from arrears.core.evidence.chain import Entry, Kind
from arrears.core.strategy.case import LAST_SENT_SCHEMA
from arrears.services import evidence as log
from arrears.services.collection.common import (
    Problem,
    chunks,
    from_db,
    join_ids,
    maybe_from_db,
    split_ids,
    to_utc,
)
from arrears.services.debt_disputes import verification_pending
from arrears.services.moratoria import gate_moratoria
from arrears.store import tables
from arrears.store.adbc import pg_connect
from arrears.store.case_tables import (
    cases,
    collector_training,
    collectors,
    contact_attempts,
    promises,
    visits,
)
from arrears.store.membership import batches, one_of
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

DEFAULT_ZONE = "Asia/Shanghai"
UNREACHABLE_AFTER_DAYS = 7  # default: the policy can pass its own threshold
_WRITE_BATCH = 10_000  # rows per bulk statement: bounded memory, few round trips


# ---------------------------------------------------------------------------------------------
# Cases


def _open_cases(conn: Connection, borrower_ids: Iterable[str] | None = None) -> dict[str, OpenCase]:
    query = select(cases.c.case_id, cases.c.borrower_id, cases.c.opened_on, cases.c.priority).where(
        cases.c.closed_on.is_(None)
    )
    out: dict[str, OpenCase] = {}
    groups = [None] if borrower_ids is None else list(chunks(sorted(set(borrower_ids))))
    for batch in groups:
        q = query if batch is None else query.where(cases.c.borrower_id.in_(batch))
        for r in conn.execute(q):
            out[r.borrower_id] = OpenCase(r.case_id, r.borrower_id, r.opened_on, r.priority)
    return out


def _at_end_of(day: date) -> datetime:
    # Case events belong to the business date's close; the evidence needs an instant.
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CasesSynced:
    opened: int
    reprioritised: int
    closed: int


def _insert_cases(conn: Connection, business_date: date, to_open: Sequence[CaseInput]) -> None:
    """Open cases (bulk insert), one ``case.opened`` evidence record each."""
    if not to_open:
        return
    for batch in chunks(to_open, _WRITE_BATCH):
        conn.execute(
            insert(cases),
            [
                {"borrower_id": r.borrower_id, "opened_on": business_date, "priority": r.priority}
                for r in batch
            ],
        )
    log.append_many(
        conn,
        (
            Entry(
                r.borrower_id,
                "case.opened",
                {"opened_on": business_date.isoformat(), "priority": r.priority},
                _at_end_of(business_date),
            )
            for r in to_open
        ),
    )


def _set_priorities(conn: Connection, case_ids: Sequence[int], priorities: Sequence[int]) -> None:
    """New priorities of open cases: every one moves each day its borrower's DPD grows.

    PostgreSQL: one statement over two arrays (``executemany`` would still run one UPDATE per
    row on the server). SQLite: the driver's own ``executemany``, a C loop in-process
    (through SQLAlchemy, preparing each parameter set cost ten times the update itself).
    """
    if not case_ids:
        return
    if conn.dialect.name == "postgresql":
        step = _WRITE_BATCH * 10
        for k in range(0, len(case_ids), step):
            conn.execute(
                text(
                    "UPDATE cases SET priority = m.p FROM unnest(CAST(:ids AS integer[]), "
                    "CAST(:ps AS integer[])) AS m(id, p) WHERE cases.case_id = m.id"
                ),
                {"ids": list(case_ids[k : k + step]), "ps": list(priorities[k : k + step])},
            )
        return
    if not conn.in_transaction():
        conn.begin()
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(
            "UPDATE cases SET priority = ? WHERE case_id = ?",
            zip(priorities, case_ids, strict=True),
        )
    finally:
        cursor.close()


def _close(
    conn: Connection, business_date: date, closing: Sequence[tuple[int, str]], reason: str
) -> None:
    """Close (case id, borrower) pairs for ``reason``, one ``case.closed`` record each."""
    for batch in chunks([c for c, _ in closing]):
        conn.execute(
            update(cases)
            .where(cases.c.case_id.in_(batch))
            .values(closed_on=business_date, close_reason=reason)
        )
    log.append_many(
        conn,
        (
            Entry(
                b,
                "case.closed",
                {"closed_on": business_date.isoformat(), "reason": reason},
                _at_end_of(business_date),
            )
            for _, b in closing
        ),
    )


def open_or_update_cases(
    conn: Connection, business_date: date, rows: Iterable[CaseInput]
) -> CasesSynced:
    """Open a case for each overdue borrower without one; update the others' priority."""
    wanted = list(rows)
    current = _open_cases(conn, [r.borrower_id for r in wanted])
    changes = case_changes(current, wanted)
    _insert_cases(conn, business_date, changes.to_open)
    moved = changes.to_reprioritise
    _set_priorities(conn, [c.case_id for c, _ in moved], [p for _, p in moved])
    return CasesSynced(len(changes.to_open), len(changes.to_reprioritise), 0)


def close_cases(
    conn: Connection,
    business_date: date,
    still_overdue: Iterable[str] | None = None,
    *,
    borrower_ids: Iterable[str] | None = None,
    reason: str = "cured",
) -> int | Problem:
    """Close open cases of borrowers no longer overdue.

    With ``borrower_ids`` those borrowers' cases close for ``reason``; otherwise every open
    case whose borrower is not in ``still_overdue`` closes as ``cured``. ``still_overdue``
    defaults to the borrowers with an active loan overdue in ``loan_state``.
    """
    if reason not in CLOSE_REASONS:
        return Problem("cases", "reason", f"must be one of {', '.join(CLOSE_REASONS)}")
    if borrower_ids is not None:
        closing = list(_open_cases(conn, borrower_ids).values())
    else:
        overdue = set(still_overdue) if still_overdue is not None else overdue_borrowers(conn)
        closing = cases_to_close(_open_cases(conn), overdue)
    _close(conn, business_date, [(c.case_id, c.borrower_id) for c in closing], reason)
    return len(closing)


def _overdue_by_borrower() -> Select[Any]:
    """Borrowers with an active loan past due, and their highest DPD."""
    loan_state, loans = tables.loan_state, tables.loans
    return (
        select(loans.c.borrower_id, func.max(loan_state.c.dpd))
        .select_from(loan_state.join(loans, loans.c.loan_id == loan_state.c.loan_id))
        .where(loan_state.c.status == "active", loan_state.c.dpd > 0)
        .group_by(loans.c.borrower_id)
    )


def overdue_borrowers(conn: Connection) -> set[str]:
    q = (
        select(tables.loans.c.borrower_id)
        .select_from(
            tables.loan_state.join(
                tables.loans, tables.loans.c.loan_id == tables.loan_state.c.loan_id
            )
        )
        .where(tables.loan_state.c.status == "active", tables.loan_state.c.dpd > 0)
        .distinct()
    )
    return set(conn.execute(q).scalars())


def sync_cases(conn: Connection, business_date: date) -> CasesSynced:
    """Open cases for every overdue borrower in ``loan_state``, close the cured ones.

    Priority is the borrower's highest DPD (the policy may pass its own via
    ``open_or_update_cases``). Two reads (overdue borrowers, open cases) compared in Polars,
    then bulk writes: new cases and closed ones in borrower order, each with its evidence
    record; changed priorities in one statement run for many parameter sets.
    """
    s, i64 = pl.String(), pl.Int64()
    overdue = read_frame(conn, _overdue_by_borrower(), {"borrower_id": s, "priority": i64})
    current = read_frame(
        conn,
        select(cases.c.case_id, cases.c.borrower_id, cases.c.priority).where(
            cases.c.closed_on.is_(None)
        ),
        {"case_id": i64, "borrower_id": s, "current": i64},
    )
    to_open = overdue.join(current, on="borrower_id", how="anti").sort("borrower_id")
    moved = current.join(overdue, on="borrower_id", how="inner").filter(
        pl.col("priority") != pl.col("current")
    )
    closing = current.join(overdue, on="borrower_id", how="anti").sort("borrower_id")
    _insert_cases(conn, business_date, [CaseInput(b, p) for b, p in to_open.iter_rows()])
    _set_priorities(conn, moved["case_id"].to_list(), moved["priority"].to_list())
    _close(conn, business_date, list(closing.select("case_id", "borrower_id").iter_rows()), "cured")
    return CasesSynced(to_open.height, moved.height, closing.height)


# ---------------------------------------------------------------------------------------------
# Contact attempts: the gate's history


@dataclass(frozen=True, slots=True)
class Recording:
    location: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """A contact made (or an SMS sent) for ``borrower_id``; ``key`` applies once."""

    key: str
    borrower_id: str
    contact: Contact
    on_date: date
    policy: str | None = None
    step: str | None = None
    agent: str | None = None
    recording: Recording | None = None


def content_sha256(content: str) -> str | None:
    return hashlib.sha256(content.encode()).hexdigest() if content else None


def _attempt_row(a: Attempt) -> dict[str, Any]:
    c = a.contact
    return {
        "key": a.key,
        "borrower_id": a.borrower_id,
        "debt_id": c.debt_id,
        "at": to_utc(c.at),
        "on_date": a.on_date,
        "channel": c.channel,
        "party": c.party,
        "number": c.number,
        "connected": c.connected,
        "conversation": c.conversation,
        "consent_until": None if c.consent_until is None else to_utc(c.consent_until),
        "outcome": c.outcome,
        "content_sha256": content_sha256(c.content),
        "collectors": join_ids(c.collectors),
        "purpose": c.purpose,
        "policy": a.policy,
        "step": a.step,
        "agent": a.agent,
        "recording_location": a.recording.location if a.recording else None,
        "recording_sha256": a.recording.sha256 if a.recording else None,
    }


def attempt_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "key",
        "debt_id",
        "channel",
        "party",
        "number",
        "connected",
        "conversation",
        "outcome",
        "content_sha256",
        "purpose",
        "policy",
        "step",
        "agent",
        "recording_location",
        "recording_sha256",
    )
    out = {k: row[k] for k in keep if row.get(k) is not None}
    out["collectors"] = list(split_ids(row.get("collectors", "")))
    out["on_date"] = row["on_date"].isoformat()
    return out


def record_attempts(conn: Connection, attempts: Sequence[Attempt]) -> int:
    """Insert the attempts whose key is new, with one evidence record each; return how many.

    Keys already recorded (a rerun close, a redelivered callback) are skipped, so the same
    attempt is recorded once. Keys repeated inside ``attempts`` are a caller's bug.
    """
    new = new_attempts(conn, attempts)
    if not new:
        return 0
    insert_attempts(conn, [row for _, row in new])
    log.append_many(conn, attempt_entries(new))
    return len(new)


def new_attempts(
    conn: Connection, attempts: Sequence[Attempt]
) -> list[tuple[Attempt, dict[str, Any]]]:
    """The attempts whose key is not on record yet, each with its row."""
    keys = [a.key for a in attempts]
    if len(set(keys)) != len(keys):
        raise ValueError("record_attempts: duplicate keys in one batch")
    seen: set[str] = set()
    for key_batch in batches(conn, keys):
        seen.update(
            conn.execute(
                select(contact_attempts.c.key).where(
                    one_of(conn, contact_attempts.c.key, key_batch)
                )
            ).scalars()
        )
    return [(a, _attempt_row(a)) for a in attempts if a.key not in seen]


def insert_attempts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    for row_batch in chunks(list(rows), 2000):
        conn.execute(insert(contact_attempts), row_batch)


def attempt_entries(new: Sequence[tuple[Attempt, dict[str, Any]]]) -> list[Entry]:
    """The evidence record of each attempt."""
    return [
        Entry(a.borrower_id, Kind.CONTACT_ATTEMPT, attempt_payload(row), a.contact.at)
        for a, row in new
    ]


def contact_from_row(r: Any) -> Contact:
    return Contact(
        at=from_db(r.at),
        debt_id=r.debt_id,
        channel=r.channel,
        party=r.party,
        number=r.number,
        connected=bool(r.connected),
        conversation=bool(r.conversation),
        consent_until=maybe_from_db(r.consent_until),
        outcome=r.outcome,
        collectors=split_ids(r.collectors or ""),
        purpose=r.purpose,
    )


_HISTORY_COLUMNS = (
    contact_attempts.c.borrower_id,
    contact_attempts.c.at,
    contact_attempts.c.debt_id,
    contact_attempts.c.channel,
    contact_attempts.c.party,
    contact_attempts.c.number,
    contact_attempts.c.connected,
    contact_attempts.c.conversation,
    contact_attempts.c.consent_until,
    contact_attempts.c.outcome,
    contact_attempts.c.collectors,
    contact_attempts.c.purpose,
)


def history_for(
    conn: Connection, borrower_ids: Iterable[str], since: datetime | None = None
) -> dict[str, list[Contact]]:
    """Each borrower's contacts (lender and agencies, every debt), oldest first.

    ``since`` trims the debtor's old contacts for speed: the caps look back at most 7 days,
    and refusals reach the gate through ``context_for`` (``Context.refused``). Contacts with
    third parties are kept whatever their age: Regulation F allows one location contact per
    person, ever, unless they ask for another, and only the whole history can show that.
    """
    ids = sorted(set(borrower_ids))
    out: dict[str, list[Contact]] = {b: [] for b in ids}
    for batch in batches(conn, ids):
        q = select(*_HISTORY_COLUMNS).where(one_of(conn, contact_attempts.c.borrower_id, batch))
        if since is not None:
            q = q.where(
                or_(contact_attempts.c.at >= to_utc(since), contact_attempts.c.party != "debtor")
            )
        rows = conn.execute(
            q.order_by(
                contact_attempts.c.borrower_id, contact_attempts.c.at, contact_attempts.c.attempt_id
            )
        ).all()
        # Positional unpacking: attribute access on 100k+ rows costs more than the query.
        for b, at, debt, channel, party, number, conn_, conv, consent, outcome, coll, purp in rows:
            out[b].append(
                Contact(
                    at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
                    debt_id=debt,
                    channel=channel,
                    party=party,
                    number=number,
                    connected=bool(conn_),
                    conversation=bool(conv),
                    consent_until=maybe_from_db(consent),
                    outcome=outcome,
                    collectors=tuple(coll.split(",")) if coll else (),
                    purpose=purp,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# The gate's context


@functools.lru_cache(maxsize=1024)
def zones(text: str) -> tuple[tzinfo, ...]:
    """The profile's comma-separated IANA zones; an unknown name falls back to the default so
    that a typo cannot make a borrower uncontactable by crashing the close."""
    out: list[tzinfo] = []
    for name in (x.strip() for x in text.split(",")):
        if not name:
            continue
        try:
            out.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            out.append(ZoneInfo(DEFAULT_ZONE))
    return tuple(out) or (ZoneInfo(DEFAULT_ZONE),)


def collector_registry(conn: Connection) -> Mapping[str, date]:
    """Registered collector -> latest training date (collectors never trained are left out)."""
    q = (
        select(collector_training.c.collector_id, func.max(collector_training.c.trained_on))
        .select_from(
            collector_training.join(
                collectors, collectors.c.collector_id == collector_training.c.collector_id
            )
        )
        .where(collectors.c.registered.is_(True))
        .group_by(collector_training.c.collector_id)
    )
    return MappingProxyType({cid: d for cid, d in conn.execute(q)})


def profile_rows(conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
    """Each borrower's ``borrower_profiles`` row, by id (borrowers without one are left out)."""
    out: dict[str, Any] = {}
    for batch in batches(conn, ids):
        q = select(borrower_profiles).where(one_of(conn, borrower_profiles.c.borrower_id, batch))
        out.update({r.borrower_id: r for r in conn.execute(q).all()})
    return out


def _last_conversations(conn: Connection, ids: list[str]) -> dict[str, date]:
    out: dict[str, date] = {}
    for batch in batches(conn, ids):
        q = (
            select(contact_attempts.c.borrower_id, func.max(contact_attempts.c.on_date))
            .where(
                one_of(conn, contact_attempts.c.borrower_id, batch),
                contact_attempts.c.party == "debtor",
                contact_attempts.c.conversation.is_(True),
            )
            .group_by(contact_attempts.c.borrower_id)
        )
        out.update({b: d for b, d in conn.execute(q).all()})
    return out


def _case_rows(conn: Connection, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in batches(conn, ids):
        q = select(cases).where(
            one_of(conn, cases.c.borrower_id, batch), cases.c.closed_on.is_(None)
        )
        out.update({r.borrower_id: r for r in conn.execute(q).all()})
    return out


def _refused(conn: Connection, ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for batch in batches(conn, ids):
        q = (
            select(contact_attempts.c.borrower_id, contact_attempts.c.number)
            .where(
                one_of(conn, contact_attempts.c.borrower_id, batch),
                contact_attempts.c.party != "debtor",
                contact_attempts.c.outcome == "refused",
            )
            .distinct()
        )
        for b, n in conn.execute(q).all():
            out[b].add(n)
    return out


def _live_visits(conn: Connection, ids: list[str]) -> dict[str, Any]:
    """Each borrower's latest visit that is approved and not yet reported or cancelled."""
    out: dict[str, Any] = {}
    for batch in batches(conn, ids):
        q = (
            select(visits)
            .where(
                one_of(conn, visits.c.borrower_id, batch),
                visits.c.status.in_(("approved", "assigned", "noticed")),
            )
            .order_by(visits.c.visit_id)
        )
        out.update({r.borrower_id: r for r in conn.execute(q).all()})
    return out


def context_for(
    conn: Connection,
    borrower_ids: Iterable[str],
    at: datetime,
    *,
    unreachable_after_days: int = UNREACHABLE_AFTER_DAYS,
    profiles: Mapping[str, Any] | None = None,
    histories: Mapping[str, Sequence[Contact]] | None = None,
) -> dict[str, Context]:
    """The gate's ``Context`` for each borrower as of ``at``, in a handful of bulk queries.

    ``profiles``: the borrowers' ``borrower_profiles`` rows (``profile_rows``), and
    ``histories``: their contacts as ``history_for`` reads them (third parties' whatever their
    age, so the refusals are all there), when the caller has read them already.

    Not known here (left at their defaults for the owners of those records to fill in):
    ``consent_late_hours``, ``contact_preferences``, ``credit_notices``, ``entrustments``.
    """
    ids = sorted(set(borrower_ids))
    if profiles is None:
        profiles = profile_rows(conn, ids)
    open_cases = _case_rows(conn, ids)
    talked = _last_conversations(conn, ids)
    refused = (
        _refused(conn, ids)
        if histories is None
        else {b: set(refused_numbers(histories.get(b, ()))) for b in ids}
    )
    live = _live_visits(conn, ids)
    registry = collector_registry(conn)
    # Holds the law names (services.moratoria, services.debt_disputes); a day's margin for the
    # borrower's zones, the rules check each contact's local dates.
    held = gate_moratoria(conn, ids, at.date() - timedelta(days=1))
    pending = verification_pending(conn, ids)
    out: dict[str, Context] = {}
    for b in ids:
        prof = profiles.get(b)
        tz = zones(prof.timezones if prof is not None else DEFAULT_ZONE)
        on = at.astimezone(tz[0]).date()
        case = open_cases.get(b)
        visit = live.get(b)
        out[b] = Context(
            timezones=tz,
            reachable=is_reachable(
                talked.get(b),
                case.opened_on if case is not None else None,
                on,
                unreachable_after_days,
            ),
            vulnerable=bool(prof.vulnerable) if prof is not None else False,
            plan_in_force=bool(case.plan_in_force) if case is not None else False,
            dispute_open=bool(case.dispute) if case is not None else False,
            collectors=registry,
            visit_approved=visit is not None and visit.approved_by is not None,
            visit_notice_at=maybe_from_db(visit.notice_sent_at) if visit is not None else None,
            refused=frozenset(refused.get(b, ())),
            moratoria=held.get(b, ()),
            verification_pending=pending.get(b, frozenset()),
        )
    return out


# ---------------------------------------------------------------------------------------------
# What the policy decides on

# The per-borrower facts ``case_views`` returns, as frame columns (``last_step_on`` is the
# separate last-sent frame). Amounts are integer fen.
VIEW_SCHEMA: Mapping[str, pl.DataType] = MappingProxyType(
    {
        "borrower_id": pl.String(),
        "loan_id": pl.String(),
        "loans": pl.Int64(),
        "dpd": pl.Int64(),
        "days_to_due": pl.Int64(),
        "overdue": pl.Int64(),
        "outstanding": pl.Int64(),
        "risk_score": pl.Int64(),
        "prior_cases": pl.Int64(),
        "case_id": pl.Int64(),
        "case_opened_on": pl.Date(),
        "priority": pl.Int64(),
        "assigned_agent": pl.String(),
        "promise_until": pl.Date(),
        "promise_broken_on": pl.Date(),
        "hardship": pl.Boolean(),
        "dispute": pl.Boolean(),
        "plan_in_force": pl.Boolean(),
        "unreachable_days": pl.Int64(),
        "last_conversation_on": pl.Date(),
        "visit_approved": pl.Boolean(),
        "emergency_contacts": pl.Int64(),
    }
)
DEFAULT_RISK_SCORE = 500  # a borrower without a profile score


@dataclass(frozen=True)
class CaseFrames:
    """The policy's input for a business date, as ``strategy.frame.choose_frame`` takes it.

    ``cases``: ``strategy.case.CASE_SCHEMA``, one row per borrower with an active loan, by
    borrower id (code point order); ``last_sent``: ``LAST_SENT_SCHEMA``; ``open_cases``: how
    many of those borrowers have an open case (the report's figure).
    """

    cases: pl.DataFrame
    last_sent: pl.DataFrame
    open_cases: int


def read_frame(
    conn: Connection, query: Select[Any], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """A query's rows as a frame with ``schema`` (the query's columns, in that order).

    Straight from the driver's cursor: SQLAlchemy's per-row objects and result processors cost
    more than the query itself on a million rows. SQLite hands dates back as ISO text and
    booleans as 0/1; they are converted here, a column at a time. The query's values are
    rendered inline (dates, status names: no parameter style to translate per driver), so
    this is for the close's fixed queries, not for values a user typed.
    """
    sqlite = conn.dialect.name == "sqlite"
    if not conn.in_transaction():
        conn.begin()  # as ``conn.execute`` would: the reads share one transaction
    text_ = inline_sql(conn, query)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(text_)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    stored = {"Date": pl.String(), "Boolean": pl.Int64()} if sqlite else {}
    raw = {n: stored.get(str(d), d) for n, d in schema.items()}
    frame = pl.DataFrame(rows, schema=raw, orient="row")
    fixes = [
        pl.col(n).str.to_date("%Y-%m-%d") if d == pl.Date() else pl.col(n).cast(d)
        for n, d in schema.items()
        if raw[n] != d
    ]
    return frame.with_columns(fixes) if fixes else frame


def inline_sql(conn: Connection, query: Select[Any]) -> str:
    """The query's SQL with its values inline (dates, a few status names: no driver-specific
    parameter styles), for ``exec_driver_sql``; for the close's fixed queries, never values
    a user typed."""
    sql = query.compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True, "render_postcompile": True}
    )
    text_ = str(sql)
    if "%" in text_:  # psycopg would read it as a placeholder escape: not for this helper
        raise ValueError("inline_sql: '%' in the query")
    return text_


READERS = 2  # connections reading at once (read_frames, PostgreSQL)


def read_frames(
    conn: Connection, queries: Sequence[tuple[Select[Any], Mapping[str, pl.DataType]]]
) -> list[pl.DataFrame]:
    """Each query's frame, as ``read_frame`` reads it.

    On PostgreSQL, when ``conn`` is not inside a transaction, the queries run on ``READERS``
    ADBC connections at once, Arrow straight into Polars with no row in Python: read with
    psycopg one after another, the choose phase's whole-book reads took 10 s at a million
    loans. Outside a transaction nothing is pending on ``conn``, and under READ COMMITTED each
    statement sees what was committed when it started on whichever connection it runs, as in
    one transaction. Inside one (it may hold writes the others would not see) they run on
    ``conn``.
    """
    if conn.dialect.name != "postgresql" or conn.in_transaction():
        return [read_frame(conn, q, schema) for q, schema in queries]
    texts = [inline_sql(conn, q) for q, _ in queries]
    todo: SimpleQueue[int] = SimpleQueue()
    for k in range(len(texts)):
        todo.put(k)
    out: dict[int, pl.DataFrame] = {}

    def reader() -> None:
        db = pg_connect(conn.engine)
        try:
            cur = db.cursor()
            while True:
                try:
                    k = todo.get_nowait()
                except Empty:
                    break
                cur.execute(texts[k])
                table = pl.from_arrow(cur.fetch_arrow_table())
                assert isinstance(table, pl.DataFrame)
                schema = queries[k][1]
                table.columns = list(schema)
                out[k] = table.with_columns(pl.col(n).cast(d) for n, d in schema.items())
            cur.close()
            db.rollback()
        finally:
            db.close()

    with ThreadPoolExecutor(READERS) as pool:
        for done in [pool.submit(reader) for _ in range(min(READERS, len(texts)))]:
            done.result()
    return [out[k] for k in range(len(texts))]


def _view_frames(
    conn: Connection, business_date: date, due_within: int | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(views with ``VIEW_SCHEMA``, last-sent with ``LAST_SENT_SCHEMA``) for ``business_date``.

    ``due_within``: the next due date is looked for only that many days ahead (``days_to_due``
    is null beyond); None: however far.

    One query per fact, each a single scan grouped in the database (SQLite nests scans of
    materialised groups when they are joined, and window functions sort the portfolio once
    per window); the per-loan rows are folded per borrower and the facts joined in Polars.
    """
    loan_state, loan_table, inst = tables.loan_state, tables.loans, tables.installments
    overdue = (
        loan_state.c.overdue_principal
        + loan_state.c.overdue_interest
        + loan_state.c.overdue_penalty
    )
    os_ = (
        loan_state.c.outstanding_principal
        + loan_state.c.outstanding_interest
        + loan_state.c.outstanding_penalty
    )
    s, i64, day = pl.String(), pl.Int64(), pl.Date()
    Query = tuple[Select[Any], Mapping[str, pl.DataType]]
    loans_q: Query = (
        select(loan_table.c.borrower_id, loan_table.c.loan_id, loan_state.c.dpd, overdue, os_)
        .select_from(loan_state.join(loan_table, loan_table.c.loan_id == loan_state.c.loan_id))
        .where(loan_state.c.status == "active"),
        {"borrower_id": s, "loan_id": s, "dpd": i64, "overdue": i64, "outstanding": i64},
    )
    steps_q: Query = (
        select(
            contact_attempts.c.borrower_id,
            contact_attempts.c.step,
            func.max(contact_attempts.c.on_date),
        )
        .where(contact_attempts.c.step.is_not(None))
        .group_by(contact_attempts.c.borrower_id, contact_attempts.c.step),
        LAST_SENT_SCHEMA,
    )

    def fact(query: Select[Any], name: str, dtype: pl.DataType) -> Query:
        return (query, {"borrower_id": s, name: dtype})

    # Each loan's next unpaid due date first (read in installment-key order), then the
    # borrower's: joined the other way round, SQLite searched the due-date index and sorted
    # every unpaid installment by borrower (17 s against 2 s at a million loans).
    # Bounded, it is a few days' installments by the index on due date; unbounded, every
    # future installment of the book (the largest of these reads: 0.3 s at 100k loans).
    window = (
        [] if due_within is None else [inst.c.due_date <= business_date + timedelta(due_within)]
    )
    next_due = (
        select(inst.c.loan_id, func.min(inst.c.due_date).label("due"))
        .where(
            inst.c.due_date >= business_date,
            *window,
            or_(
                inst.c.paid_principal < inst.c.principal,
                inst.c.paid_interest < inst.c.interest,
            ),
        )
        .group_by(inst.c.loan_id)
        .subquery()
    )
    fact_queries = [
        fact(
            select(loan_table.c.borrower_id, func.min(next_due.c.due))
            .select_from(next_due.join(loan_table, loan_table.c.loan_id == next_due.c.loan_id))
            .group_by(loan_table.c.borrower_id),
            "next_due",
            day,
        ),
        fact(
            select(cases.c.borrower_id, func.count())
            .where(cases.c.closed_on.is_not(None))
            .group_by(cases.c.borrower_id),
            "prior_cases",
            i64,
        ),
        fact(
            select(promises.c.borrower_id, func.max(promises.c.due_on))
            .where(promises.c.status == "open")
            .group_by(promises.c.borrower_id),
            "promise_until",
            day,
        ),
        fact(
            select(promises.c.borrower_id, func.max(promises.c.due_on))
            .where(promises.c.status.in_(("broken", "partly_kept")))
            .group_by(promises.c.borrower_id),
            "promise_broken_on",
            day,
        ),
        fact(
            select(contact_attempts.c.borrower_id, func.max(contact_attempts.c.on_date))
            .where(contact_attempts.c.party == "debtor", contact_attempts.c.conversation.is_(True))
            .group_by(contact_attempts.c.borrower_id),
            "last_conversation_on",
            day,
        ),
        fact(
            select(emergency_contacts.c.borrower_id, func.count()).group_by(
                emergency_contacts.c.borrower_id
            ),
            "emergency_contacts",
            i64,
        ),
        fact(
            select(visits.c.borrower_id, func.count())
            .where(visits.c.status.in_(("approved", "assigned", "noticed")))
            .group_by(visits.c.borrower_id),
            "visits_live",
            i64,
        ),
        fact(
            select(borrower_profiles.c.borrower_id, borrower_profiles.c.risk_score),
            "risk",
            i64,
        ),
        (
            select(
                cases.c.borrower_id,
                cases.c.case_id,
                cases.c.opened_on,
                cases.c.priority,
                cases.c.assigned_agent,
                cases.c.hardship,
                cases.c.dispute,
                cases.c.plan_in_force,
            ).where(cases.c.closed_on.is_(None)),
            {
                "borrower_id": s,
                "case_id": i64,
                "case_opened_on": day,
                "priority": i64,
                "assigned_agent": s,
                "hardship": pl.Boolean(),
                "dispute": pl.Boolean(),
                "plan_in_force": pl.Boolean(),
            },
        ),
    ]
    # The biggest reads first, so that the readers finish together.
    loans, steps, *facts = read_frames(conn, [loans_q, steps_q, *fact_queries])
    # The lead loan is the most overdue: highest DPD, then largest overdue amount, then id.
    views = loans.group_by("borrower_id").agg(
        pl.col("loan_id")
        .sort_by(["dpd", "overdue", "loan_id"], descending=[True, True, False])
        .first(),
        pl.len().cast(pl.Int64).alias("loans"),
        pl.col("dpd").max(),
        pl.col("overdue").sum(),
        pl.col("outstanding").sum(),
    )
    for frame in facts:
        views = views.join(frame, on="borrower_id", how="left")
    has_case = pl.col("case_id").is_not_null()
    since = pl.coalesce("last_conversation_on", "case_opened_on")
    views = views.with_columns(
        pl.max_horizontal(pl.col("dpd"), pl.lit(0)).alias("dpd"),
        (pl.col("next_due") - pl.lit(business_date)).dt.total_days().alias("days_to_due"),
        pl.col("risk").fill_null(DEFAULT_RISK_SCORE).alias("risk_score"),
        pl.col("prior_cases").fill_null(0),
        pl.col("priority").fill_null(0),
        pl.col("hardship").fill_null(False),
        pl.col("dispute").fill_null(False),
        pl.col("plan_in_force").fill_null(False),
        # ``contact.history.unreachable_days``: from the last conversation, else the opening.
        pl.when(has_case & since.is_not_null())
        .then(pl.max_horizontal((pl.lit(business_date) - since).dt.total_days(), pl.lit(0)))
        .otherwise(0)
        .alias("unreachable_days"),
        (pl.col("visits_live").fill_null(0) > 0).alias("visit_approved"),
        pl.col("emergency_contacts").fill_null(0),
    )
    views = views.select(pl.col(n).cast(d) for n, d in VIEW_SCHEMA.items()).sort("borrower_id")
    steps = steps.join(views.select("borrower_id"), on="borrower_id", how="semi")
    return views, steps


def case_frames(conn: Connection, business_date: date, due_within: int | None = None) -> CaseFrames:
    """``case_views`` as the policy's frames (see ``CaseFrames``), without a row in Python.

    ``days_to_due`` is kept only while the borrower is current (DPD 0): the policy's pre-due
    reminders count to the next due date, overdue steps by DPD. ``due_within``: null beyond
    that many days (the close passes ``PolicySet.due_horizon``: a step fires on an exact
    number of days, so one farther than every step's is as good as unknown).
    """
    views, sent = _view_frames(conn, business_date, due_within)
    cases_ = views.select(
        "borrower_id",
        "loan_id",
        pl.lit(business_date, dtype=pl.Date()).alias("business_date"),
        "dpd",
        pl.when(pl.col("dpd") == 0).then(pl.col("days_to_due")).alias("days_to_due"),
        pl.col("overdue").alias("overdue_amount"),
        pl.col("outstanding").alias("outstanding_amount"),
        "risk_score",
        "prior_cases",
        "promise_until",
        "promise_broken_on",
        "hardship",
        "dispute",
        "plan_in_force",
        "unreachable_days",
        "visit_approved",
        "emergency_contacts",
    )
    return CaseFrames(cases_, sent, int(views["case_id"].is_not_null().sum()))


def case_views(conn: Connection, business_date: date) -> list[dict[str, Any]]:
    """One row per borrower with an active loan, sorted by borrower id.

    Amounts are fen summed over the borrower's active loans; ``loan_id`` is the lead loan (the
    most overdue: highest DPD, then largest overdue amount, then id), the one actions name.
    ``days_to_due`` counts to the nearest unpaid installment due on or after the date (None
    if there is none). Case fields are None/False for borrowers without an open case.
    ``last_step_on`` maps each policy step to the last business date it was actioned.

    A fixed number of queries whatever the portfolio size (one per fact, each one scan). The
    close uses ``case_frames`` (the same facts, never leaving Polars); this is for readers
    that want rows.
    """
    views, sent = _view_frames(conn, business_date)
    steps: dict[str, dict[str, date]] = defaultdict(dict)
    for borrower, step, last in sent.iter_rows():
        steps[borrower][step] = last
    return [
        {**v, "last_step_on": steps.get(v["borrower_id"], {})} for v in views.iter_rows(named=True)
    ]


def set_case_flag(conn: Connection, borrower_id: str, flag: str, value: bool = True) -> bool:
    """Set ``hardship``, ``dispute`` or ``plan_in_force`` on the open case; False if none."""
    if flag not in ("hardship", "dispute", "plan_in_force"):
        raise ValueError(f"unknown case flag {flag}")
    res = conn.execute(
        update(cases)
        .where(and_(cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None)))
        .values({flag: value})
    )
    return bool(res.rowcount)
