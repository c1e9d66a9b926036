"""What the collection policy decides on, as Polars frames read in a few queries.

``case_frames`` gives the per-borrower views (``VIEW_SCHEMA``) and the last-sent frame;
``case_views`` the same as dicts. ``read_frame`` / ``read_frames`` read SQL into frames
(ADBC on PostgreSQL, several connections at once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from queue import Empty, SimpleQueue
from types import MappingProxyType
from typing import Any

import polars as pl
from sqlalchemy import (
    Connection,
    Select,
    func,
    or_,
    select,
    union_all,
)

from arrears.core.strategy.case import LAST_SENT_SCHEMA
from arrears.core.strategy.choose import VISIT_REASON_STEP
from arrears.services.collection.history import last_reached
from arrears.store import tables
from arrears.store.adbc import pg_connect
from arrears.store.case_tables import (
    cases,
    contact_attempts,
    promises,
    visits,
)
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles, emergency_contacts

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


_Query = tuple[Select[Any], Mapping[str, pl.DataType]]  # a query and its columns' types
_TEXT, _INT, _DAY = pl.String(), pl.Int64(), pl.Date()


def _loans_query() -> _Query:
    """Every active loan with its borrower, DPD, overdue and outstanding amounts."""
    loan_state, loans = tables.loan_state, tables.loans
    overdue = tables.overdue_total()
    outstanding = tables.outstanding_total()
    return (
        select(loans.c.borrower_id, loans.c.loan_id, loan_state.c.dpd, overdue, outstanding)
        .select_from(loan_state.join(loans, loans.c.loan_id == loan_state.c.loan_id))
        .where(loan_state.c.status == "active"),
        {"borrower_id": _TEXT, "loan_id": _TEXT, "dpd": _INT, "overdue": _INT, "outstanding": _INT},
    )


def _last_sent_query() -> _Query:
    """Each borrower's last contact per policy step: made, or a message still on its way
    (queued, being sent, sent), so that a step's cadence counts from when it was planned. A
    message that failed or expired did not reach the borrower: the step is due again."""
    a, o = contact_attempts, outbox
    made = select(a.c.borrower_id, a.c.step, a.c.on_date.label("on_date")).where(
        a.c.step.is_not(None)
    )
    underway = select(o.c.borrower_id, o.c.step, o.c.business_date.label("on_date")).where(
        o.c.status.in_(("queued", "sending", "sent"))
    )
    both = union_all(made, underway).subquery()
    return (
        select(both.c.borrower_id, both.c.step, func.max(both.c.on_date)).group_by(
            both.c.borrower_id, both.c.step
        ),
        LAST_SENT_SCHEMA,
    )


def _visit_requests_query() -> _Query:
    """The visits the policy asked for: a visit step's cadence counts from its request (the
    request is the step's contact; without this a borrower visited and reported was asked
    for again four days later, with a cadence of thirty, seen running the demo)."""
    v = visits.c
    return (
        select(v.borrower_id, v.key, v.reason).where(
            func.substr(v.requested_by, 1, 7) == "policy:"
        ),
        {"borrower_id": _TEXT, "key": _TEXT, "reason": _TEXT},
    )


def _visit_steps(requests: pl.DataFrame) -> pl.DataFrame:
    """Visit requests as ``LAST_SENT_SCHEMA`` rows: the step from the reason, the day from the
    key (``<business date>:<borrower>:visit_request``)."""
    return (
        requests.select(
            "borrower_id",
            pl.col("reason").str.extract(VISIT_REASON_STEP, 1).alias("step"),
            pl.col("key").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias("d"),
        )
        .drop_nulls()
        .group_by("borrower_id", "step")
        .agg(pl.col("d").max())
        .rename({"d": "last_date"})
        .select(list(LAST_SENT_SCHEMA))
    )


def _fact(query: Select[Any], name: str, dtype: pl.DataType) -> _Query:
    """A per-borrower fact: ``borrower_id`` and one column."""
    return (query, {"borrower_id": _TEXT, name: dtype})


def _next_due_query(business_date: date, due_within: int | None) -> _Query:
    """Each borrower's next unpaid due date on or after the day (within ``due_within`` days)."""
    inst, loans = tables.installments, tables.loans
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
    return _fact(
        select(loans.c.borrower_id, func.min(next_due.c.due))
        .select_from(next_due.join(loans, loans.c.loan_id == next_due.c.loan_id))
        .group_by(loans.c.borrower_id),
        "next_due",
        _DAY,
    )


def _record_fact_queries() -> list[_Query]:
    """What the borrower's records say: closed cases, promises, the last conversation."""
    return [
        _fact(
            select(cases.c.borrower_id, func.count())
            .where(cases.c.closed_on.is_not(None))
            .group_by(cases.c.borrower_id),
            "prior_cases",
            _INT,
        ),
        _fact(
            select(promises.c.borrower_id, func.max(promises.c.due_on))
            .where(promises.c.status == "open")
            .group_by(promises.c.borrower_id),
            "promise_until",
            _DAY,
        ),
        _fact(
            select(promises.c.borrower_id, func.max(promises.c.due_on))
            .where(promises.c.status.in_(("broken", "partly_kept")))
            .group_by(promises.c.borrower_id),
            "promise_broken_on",
            _DAY,
        ),
        _fact(last_reached(), "last_conversation_on", _DAY),
    ]


def _profile_fact_queries() -> list[_Query]:
    """What the borrower's profile says: emergency contacts, live visits, the risk score."""
    return [
        _fact(
            select(emergency_contacts.c.borrower_id, func.count()).group_by(
                emergency_contacts.c.borrower_id
            ),
            "emergency_contacts",
            _INT,
        ),
        _fact(
            select(visits.c.borrower_id, func.count())
            .where(visits.c.status.in_(("approved", "assigned", "noticed")))
            .group_by(visits.c.borrower_id),
            "visits_live",
            _INT,
        ),
        _fact(
            select(borrower_profiles.c.borrower_id, borrower_profiles.c.risk_score),
            "risk",
            _INT,
        ),
    ]


def _open_case_query() -> _Query:
    """The open case's id, opening, priority, agent and flags."""
    return (
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
            "borrower_id": _TEXT,
            "case_id": _INT,
            "case_opened_on": _DAY,
            "priority": _INT,
            "assigned_agent": _TEXT,
            "hardship": pl.Boolean(),
            "dispute": pl.Boolean(),
            "plan_in_force": pl.Boolean(),
        },
    )


def _per_borrower(loans: pl.DataFrame) -> pl.DataFrame:
    """The loans folded per borrower; the lead loan is the most overdue: highest DPD, then
    largest overdue amount, then id."""
    return loans.group_by("borrower_id").agg(
        pl.col("loan_id")
        .sort_by(["dpd", "overdue", "loan_id"], descending=[True, True, False])
        .first(),
        pl.len().cast(pl.Int64).alias("loans"),
        pl.col("dpd").max(),
        pl.col("overdue").sum(),
        pl.col("outstanding").sum(),
    )


def _with_defaults(views: pl.DataFrame, business_date: date) -> pl.DataFrame:
    """The joined facts as ``VIEW_SCHEMA``: derived columns, defaults for missing facts."""
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
    return views.select(pl.col(n).cast(d) for n, d in VIEW_SCHEMA.items()).sort("borrower_id")


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
    fact_queries = [
        _next_due_query(business_date, due_within),
        *_record_fact_queries(),
        *_profile_fact_queries(),
        _open_case_query(),
    ]
    # The biggest reads first, so that the readers finish together.
    loans, steps, requests, *facts = read_frames(
        conn, [_loans_query(), _last_sent_query(), _visit_requests_query(), *fact_queries]
    )
    steps = (
        pl.concat([steps, _visit_steps(requests)])
        .group_by("borrower_id", "step")
        .agg(pl.col("last_date").max())
    )
    views = _per_borrower(loans)
    for frame in facts:
        views = views.join(frame, on="borrower_id", how="left")
    views = _with_defaults(views, business_date)
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
