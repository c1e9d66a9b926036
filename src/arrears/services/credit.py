"""The database side of credit reporting: load a loan's facts, record notices, settlements and
disputes, plan notices, and write bureau files. Functions take a Connection (the caller's
transaction) or an Engine (they open one); nothing else touches the database.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import multiprocessing as mp
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from arrears.core.contact.action import PlannedAction
from arrears.core.credit import checkpoint
from arrears.core.credit.codes import CODES, Code
from arrears.core.credit.disputes import Dispute, Outcome
from arrears.core.credit.history import CreditHistory, reporting_date
from arrears.core.credit.metro2 import Metro2Account, base_segment
from arrears.core.credit.notices import TEMPLATE as NOTICE_TEMPLATE
from arrears.core.credit.notices import LoanOutlook, NoticeDue, due_notices
from arrears.core.credit.report import LoanFacts, Reported, Withheld, month_record, record_json
from arrears.core.credit.rules import CreditRules, rules_for
from arrears.core.credit.view import borrower_view
from arrears.core.evidence.chain import Kind, sha256_hex
from arrears.core.ledger.plan import reschedule_event
from arrears.core.ledger.replay import Event, Payment, Waiver, WriteOff
from arrears.core.loans.product import Component, Method, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis, minor_per_major
from arrears.core.problem import Problem as Problem
from arrears.core.problem import Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.store import credit_tables, profile_tables, tables
from arrears.store.outbox_tables import outbox

DISPUTE_OUTCOME_KIND = "credit.dispute_outcome"
Format = Literal["jsonl", "metro2"]
Progress = Callable[[int, int], None]


def utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def parse_month(text: str) -> Result[tuple[int, int]]:
    try:
        year, month = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-" or not 1 <= month <= 12 or year < 1900:
            raise ValueError
    except ValueError:
        return fail(Problem(f"month {text!r}", "month", "must be YYYY-MM"))
    return ok((year, month))


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True, slots=True)
class RawFacts:
    """The rows credit facts are built from, as plain tuples: cheap to read, to hand to worker
    processes and to slice by loan. ``LoanFacts`` are built from them where they are used."""

    products: dict[str, str]  # product_id -> spec (JSON)
    loans: list[tuple[Any, ...]]  # _LOAN_COLUMNS, in loan id order
    events: dict[str, list[tuple[Any, ...]]]  # loan_id -> _EVENT_COLUMNS rows, recorded order
    settlements: dict[str, dict[str, str]]  # loan_id -> payment_ref -> kind
    notices: dict[str, datetime]  # loan_id -> first notice (UTC)
    disputes: dict[str, list[Dispute]]  # loan_id -> disputes in id order
    # loan_id -> the business day the first notice was given (the outbox's, else its UTC day)
    notice_on: dict[str, date] = field(default_factory=dict)


def _loan_columns() -> list[Any]:
    c = tables.loans.c
    return [
        c.loan_id,
        c.borrower_id,
        c.product_id,
        c.currency,
        c.principal,
        c.rate,
        c.rate_basis,
        c.months,
        c.method,
        c.disbursed_on,
        c.due_day,
        profile_tables.borrower_profiles.c.rule_pack,
    ]


def _where(q: Any, column: Any, ids: Sequence[str] | None) -> Any:
    return q if ids is None else q.where(column.in_(ids))


def read_raw(conn: Connection, loan_ids: Sequence[str] | None = None) -> RawFacts:
    """Every loan's rows (or those of ``loan_ids``), in a handful of queries."""
    chunks: list[Sequence[str] | None] = (
        [None]
        if loan_ids is None
        else [loan_ids[k : k + 2000] for k in range(0, len(loan_ids), 2000)]
    )
    products = {r.product_id: r.spec for r in conn.execute(select(tables.products))}
    raw = RawFacts(products, [], defaultdict(list), defaultdict(dict), {}, defaultdict(list))
    le, cs, cn, cd = (
        tables.loan_events.c,
        credit_tables.credit_settlements.c,
        credit_tables.credit_notices.c,
        credit_tables.credit_disputes.c,
    )
    for ids in chunks:
        lq = select(*_loan_columns()).outerjoin(
            profile_tables.borrower_profiles,
            profile_tables.borrower_profiles.c.borrower_id == tables.loans.c.borrower_id,
        )
        raw.loans.extend(tuple(r) for r in conn.execute(_where(lq, tables.loans.c.loan_id, ids)))
        eq = select(
            le.loan_id,
            le.kind,
            le.ref,
            le.reverses,
            le.amount,
            le.component,
            le.effective_on,
            le.months,
            le.first_due,
            le.waive_interest,
            le.rate,
        ).order_by(le.seq)
        for r in conn.execute(_where(eq, le.loan_id, ids)):
            raw.events[r[0]].append(tuple(r))
        for r in conn.execute(_where(select(cs.loan_id, cs.payment_ref, cs.kind), cs.loan_id, ids)):
            raw.settlements[r[0]][r[1]] = r[2]
        nq = select(cn.loan_id, cn.sent_at, outbox.c.business_date).outerjoin(
            outbox, outbox.c.message_key == cn.key
        )
        for loan_id, sent_at, given_on in conn.execute(_where(nq, cn.loan_id, ids)):
            at = utc(sent_at)
            if loan_id not in raw.notices or at < raw.notices[loan_id]:
                raw.notices[loan_id] = at
                raw.notice_on[loan_id] = given_on or at.date()
        dq = select(credit_tables.credit_disputes).order_by(cd.dispute_id)
        for r in conn.execute(_where(dq, cd.loan_id, ids)):
            raw.disputes[r.loan_id].append(_dispute(r))
    raw.loans.sort(key=lambda r: r[0])
    return raw


def _events(rows: Iterable[tuple[Any, ...]]) -> tuple[Event, ...]:
    """Live events in recorded order (as ``services.accounts.load_events``)."""
    rows = list(rows)
    reversed_refs = {r[3] for r in rows if r[1] == "reversal"}
    evs: list[Event] = []
    for _loan, kind, ref, _reverses, amount, component, on, months, first_due, w, rate in rows:
        if kind == "reversal" or ref in reversed_refs:
            continue
        if kind == "payment":
            evs.append(Payment(ref, amount, on))
        elif kind == "waiver":
            evs.append(Waiver(ref, Component(component), amount, on))
        elif kind == "write_off":
            evs.append(WriteOff(ref, on))
        elif kind == "reschedule":
            evs.append(reschedule_event(ref, on, months, first_due, amount, w, rate))
    return tuple(evs)


def build_facts(raw: RawFacts, loans: Iterable[tuple[Any, ...]] | None = None) -> list[LoanFacts]:
    """``LoanFacts`` of ``loans`` (rows of ``raw.loans``; default all), in the order given."""
    prods = {pid: Product.from_json(spec) for pid, spec in raw.products.items()}
    rates: dict[tuple[str, str], Rate] = {}  # parsing a rate is costly; portfolios share a few
    out: list[LoanFacts] = []
    for row in raw.loans if loans is None else loans:
        loan_id, borrower, product, currency, principal, rate, basis = row[:7]
        months, method, disbursed_on, due_day, pack = row[7:]
        r = rates.get((rate, basis))
        if r is None:
            r = rates[rate, basis] = Rate(Fraction(rate), RateBasis(basis))
        out.append(
            LoanFacts(
                LoanTerms(loan_id, principal, r, months, Method(method), disbursed_on, due_day),
                prods[product],
                borrower,
                currency,
                rules_for(pack or "cn"),
                _events(raw.events.get(loan_id, ())),
                raw.settlements.get(loan_id, {}),
                raw.notices.get(loan_id),
                tuple(raw.disputes.get(loan_id, ())),
                raw.notice_on.get(loan_id),
            )
        )
    return out


def load_facts(conn: Connection, loan_ids: Sequence[str] | None = None) -> dict[str, LoanFacts]:
    """Every loan's credit facts (or those of ``loan_ids``), in a handful of queries."""
    return {f.terms.loan_id: f for f in build_facts(read_raw(conn, loan_ids))}


def _dispute(r: Any) -> Dispute:
    return Dispute(
        r.dispute_id,
        r.loan_id,
        r.month,
        r.reason,
        utc(r.opened_at),
        r.deadline,
        r.outcome,
        r.outcome_reason,
        r.corrected_status,
        None if r.resolved_at is None else utc(r.resolved_at),
    )


def loan_facts(conn: Connection, loan_id: str) -> Result[LoanFacts]:
    found = load_facts(conn, [loan_id]).get(loan_id)
    if found is None:
        return fail(not_found(f"loan {loan_id}", field="loan_id"))
    return ok(found)


def borrower_credit_view(conn: Connection, borrower_id: str, as_of: date) -> Result[dict[str, Any]]:
    """What the borrower's credit record shows over all their loans (``core.credit.view``);
    not_found when the borrower has no loan."""
    loan_ids = list(
        conn.execute(
            select(tables.loans.c.loan_id).where(tables.loans.c.borrower_id == borrower_id)
        ).scalars()
    )
    if not loan_ids:
        return fail(not_found(f"borrower {borrower_id}", "no loans found", "borrower_id"))
    return ok(borrower_view(borrower_id, list(load_facts(conn, loan_ids).values()), as_of))


# ---------------------------------------------------------------------------------------------
# Notices


@dataclass(frozen=True, slots=True)
class NoticeRecorded:
    loan_id: str
    key: str
    sent_at: datetime
    channel: str
    already_recorded: bool


def record_notice(
    conn: Connection, loan_id: str, sent_at: datetime, channel: str, key: str
) -> Result[NoticeRecorded]:
    """Record that a credit notice reached the borrower (called when the outbox delivers).

    The same ``key`` with the same content records once; with other content it is refused.
    """
    rec = f"notice {key}"
    if not key.strip() or len(key) > 128:
        return fail(Problem(rec, "key", "must be 1..128 characters"))
    if channel not in ("sms", "letter"):
        return fail(Problem(rec, "channel", f"must be sms or letter, got {channel!r}"))
    if sent_at.utcoffset() is None:
        return fail(Problem(rec, "sent_at", "must carry a time zone"))
    if (
        conn.execute(
            select(tables.loans.c.loan_id).where(tables.loans.c.loan_id == loan_id)
        ).first()
        is None
    ):
        return fail(not_found(rec, f"loan {loan_id!r} not found", "loan_id"))
    at = sent_at.astimezone(UTC)
    row = conn.execute(
        select(credit_tables.credit_notices).where(credit_tables.credit_notices.c.key == key)
    ).first()
    if row is not None:
        if (row.loan_id, utc(row.sent_at), row.channel) != (loan_id, at, channel):
            return fail(Problem(rec, "key", "already used for another notice", "conflict"))
        return ok(NoticeRecorded(loan_id, key, at, channel, True))
    conn.execute(
        insert(credit_tables.credit_notices),
        [{"key": key, "loan_id": loan_id, "sent_at": at, "channel": channel}],
    )
    return ok(NoticeRecorded(loan_id, key, at, channel, False))


def outlooks(
    conn: Connection, as_of: date, months: int = 2, loan_ids: Sequence[str] | None = None
) -> list[LoanOutlook]:
    """Every active loan's (or these loans') coming reporting dates, if nothing is paid."""
    if loan_ids is None:
        active = select(tables.loan_state.c.loan_id).where(tables.loan_state.c.status == "active")
        ids = list(conn.execute(active).scalars())
    else:
        ids = list(loan_ids)
    raw = read_raw(conn, ids)
    stored = _checkpoints(conn, [r[0] for r in raw.loans])
    out: list[LoanOutlook] = []
    for f in build_facts(raw):
        if f.terms.disbursed_on > as_of:
            continue
        text = stored.get(f.terms.loan_id)
        cp = None if text is None else checkpoint.decode(f.terms, text)
        coming = checkpoint.forecast_with_checkpoint(
            f.terms, f.product, f.events, as_of, months, f.settlements, cp
        )
        out.append(
            LoanOutlook(
                f.terms.loan_id, f.borrower_id, f.rules, tuple(coming), due_day=f.terms.due_day
            )
        )
    return out


def _checkpoints(conn: Connection, loan_ids: Sequence[str]) -> dict[str, str]:
    cp = credit_tables.credit_checkpoints.c
    out: dict[str, str] = {}
    for k in range(0, len(loan_ids), 2000):
        q = select(cp.loan_id, cp.state).where(cp.loan_id.in_(loan_ids[k : k + 2000]))
        out.update((r[0], r[1]) for r in conn.execute(q))
    return out


@dataclass(frozen=True, slots=True)
class NoticesInFlight:
    """The credit notices in the outbox not yet on the credit record, by loan."""

    # Loans with a notice queued, being sent, or sent and not yet on the record: plan no other.
    pending: frozenset[str]
    failed: dict[str, int]  # loan -> notices that failed or expired undelivered


def notices_in_flight(conn: Connection) -> NoticesInFlight:
    """What the outbox holds of credit notices: one per loan and item waits there however long
    dispatch is down, and only one that failed is followed by another."""
    o = outbox.c
    rows = conn.execute(
        select(o.loan_id, o.status, func.count())
        .where(o.template == NOTICE_TEMPLATE)
        .group_by(o.loan_id, o.status)
    ).all()
    pending = frozenset(loan for loan, status, _ in rows if status != "failed")
    failed: dict[str, int] = {}
    for loan, status, count in rows:
        if status == "failed":
            failed[loan] = failed.get(loan, 0) + int(count)
    return NoticesInFlight(pending, failed)


def due_notices_on(
    conn: Connection, business_date: date, loan_ids: Sequence[str] | None = None
) -> list[NoticeDue]:
    """The credit notices to send on ``business_date`` (of ``loan_ids``; default every active
    loan): none for a loan with a notice on record or one still waiting in the outbox."""
    notices = {
        r.loan_id: utc(r.sent_at) for r in conn.execute(select(credit_tables.credit_notices))
    }
    flight = notices_in_flight(conn)
    looks = outlooks(conn, business_date, loan_ids=loan_ids)
    return due_notices(looks, notices, business_date, pending=flight.pending, failed=flight.failed)


def planned_notices(conn: Connection, business_date: date) -> list[PlannedAction]:
    return [n.action for n in due_notices_on(conn, business_date)]


# ---------------------------------------------------------------------------------------------
# Settlements by a guarantor or with assets


def mark_settlement(conn: Connection, loan_id: str, payment_ref: str, kind: str) -> Result[bool]:
    """Mark a payment as made by a guarantor or with assets. True if newly marked."""
    rec = f"payment {payment_ref}"
    if kind not in ("guarantor", "assets"):
        return fail(Problem(rec, "kind", f"must be guarantor or assets, got {kind!r}"))
    row = conn.execute(
        select(tables.loan_events.c.loan_id, tables.loan_events.c.kind).where(
            tables.loan_events.c.ref == payment_ref
        )
    ).first()
    if row is None or row.kind != "payment":
        return fail(not_found(rec, "payment not found", "payment_ref"))
    if row.loan_id != loan_id:
        return fail(Problem(rec, "loan_id", f"the payment belongs to loan {row.loan_id}"))
    have = conn.execute(
        select(credit_tables.credit_settlements.c.kind).where(
            credit_tables.credit_settlements.c.payment_ref == payment_ref
        )
    ).scalar_one_or_none()
    if have is not None:
        if have != kind:
            return fail(Problem(rec, "kind", f"already marked as {have}", "conflict"))
        return ok(False)
    conn.execute(
        insert(credit_tables.credit_settlements),
        [{"payment_ref": payment_ref, "loan_id": loan_id, "kind": kind}],
    )
    return ok(True)


# ---------------------------------------------------------------------------------------------
# Disputes


def open_dispute(
    conn: Connection,
    loan_id: str,
    month: str,
    reason: str,
    opened_at: datetime,
    key: str,
    dispute_days: int | None = None,
) -> Result[Dispute]:
    """Open a dispute on one month of a loan; it goes to the borrower's evidence chain too.

    The same ``key`` for the same loan and month returns the dispute already open.
    """
    rec = f"dispute {key}"
    if not key.strip() or len(key) > 128:
        return fail(Problem(rec, "key", "must be 1..128 characters"))
    if not reason.strip():
        return fail(Problem(rec, "reason", "must not be empty"))
    if opened_at.utcoffset() is None:
        return fail(Problem(rec, "opened_at", "must carry a time zone"))
    ym, bad_month = parse_month(month)
    if ym is None:
        return fail(Problem(rec, "month", bad_month[0].reason))
    facts, missing = loan_facts(conn, loan_id)
    if facts is None:
        return fail(not_found(rec, missing[0].reason, "loan_id"))
    at = opened_at.astimezone(UTC)
    r = reporting_date(facts.terms, *ym)
    if r < facts.terms.disbursed_on or r >= at.date():
        return fail(Problem(rec, "month", f"loan {loan_id} has no reported item for {month}"))
    existing = conn.execute(
        select(credit_tables.credit_disputes).where(credit_tables.credit_disputes.c.key == key)
    ).first()
    if existing is not None:
        if (existing.loan_id, existing.month) != (loan_id, month):
            return fail(Problem(rec, "key", "already used for another dispute", "conflict"))
        return ok(_dispute(existing))
    try:
        rules: CreditRules = facts.rules.with_settings(dispute_days=dispute_days)
    except ValueError as exc:
        return fail(Problem(rec, "dispute_days", str(exc)))
    deadline = rules.dispute_deadline(at.date())
    dispute_id = conn.execute(
        insert(credit_tables.credit_disputes).returning(credit_tables.credit_disputes.c.dispute_id),
        [
            {
                "key": key,
                "loan_id": loan_id,
                "month": month,
                "reason": reason,
                "opened_at": at,
                "deadline": deadline,
            }
        ],
    ).scalar_one()
    log.append(
        conn,
        facts.borrower_id,
        Kind.BORROWER_REQUEST,
        {
            "type": "credit_dispute",
            "dispute_id": dispute_id,
            "loan_id": loan_id,
            "month": month,
            # the borrower's words, which may name people: the chain outlives erasure
            "reason_sha256": sha256_hex(reason),
            "deadline": deadline.isoformat(),
        },
        at,
    )
    return ok(Dispute(dispute_id, loan_id, month, reason, at, deadline))


def resolve_dispute(
    conn: Connection,
    dispute_id: int,
    outcome: str,
    reason: str,
    resolved_at: datetime,
    corrected_status: str | None = None,
) -> Result[Dispute]:
    """Record a dispute's outcome (``corrected`` with the new status, or ``upheld``) and why."""
    rec = f"dispute {dispute_id}"
    row = conn.execute(
        select(credit_tables.credit_disputes).where(
            credit_tables.credit_disputes.c.dispute_id == dispute_id
        )
    ).first()
    if row is None:
        return fail(not_found(rec, field="dispute_id"))
    d = _dispute(row)
    if d.outcome is not None:
        return fail(Problem(rec, "outcome", f"already {d.outcome}", "conflict"))
    if outcome not in ("corrected", "upheld"):
        return fail(Problem(rec, "outcome", f"must be corrected or upheld, got {outcome!r}"))
    if not reason.strip():
        return fail(Problem(rec, "reason", "must not be empty"))
    if resolved_at.utcoffset() is None:
        return fail(Problem(rec, "resolved_at", "must carry a time zone"))
    at = resolved_at.astimezone(UTC)
    if at < d.opened_at:
        return fail(Problem(rec, "resolved_at", "is before the dispute was opened"))
    code: Code | None = None
    if outcome == "corrected":
        if corrected_status not in CODES:
            return fail(Problem(rec, "corrected_status", f"must be one of {''.join(CODES)}"))
        code = corrected_status  # type: ignore[assignment]
    elif corrected_status is not None:
        return fail(Problem(rec, "corrected_status", "only a corrected outcome has one"))
    conn.execute(
        update(credit_tables.credit_disputes)
        .where(credit_tables.credit_disputes.c.dispute_id == dispute_id)
        .values(outcome=outcome, outcome_reason=reason, corrected_status=code, resolved_at=at)
    )
    borrower = conn.execute(
        select(tables.loans.c.borrower_id).where(tables.loans.c.loan_id == d.loan_id)
    ).scalar_one()
    log.append(
        conn,
        borrower,
        DISPUTE_OUTCOME_KIND,
        {
            "dispute_id": dispute_id,
            "loan_id": d.loan_id,
            "month": d.month,
            "outcome": outcome,
            "reason_sha256": sha256_hex(reason),
            "corrected_status": code,
            "late": at.date() > d.deadline,
        },
        at,
    )
    out: Outcome = "corrected" if outcome == "corrected" else "upheld"
    return ok(
        Dispute(
            d.dispute_id,
            d.loan_id,
            d.month,
            d.reason,
            d.opened_at,
            d.deadline,
            out,
            reason,
            code,
            at,
        )
    )


def disputes_of(conn: Connection, loan_id: str) -> list[Dispute]:
    q = (
        select(credit_tables.credit_disputes)
        .where(credit_tables.credit_disputes.c.loan_id == loan_id)
        .order_by(credit_tables.credit_disputes.c.dispute_id)
    )
    return [_dispute(r) for r in conn.execute(q)]


# ---------------------------------------------------------------------------------------------
# Bureau files


@dataclass(frozen=True, slots=True)
class ExportSummary:
    month: str
    format: str
    path: Path
    records: int
    withheld: tuple[Withheld, ...]
    sha256: str


def export_lines(
    facts: Iterable[LoanFacts],
    month: str,
    fmt: Format,
    furnisher: str = "ARREARS",
    engine: str = "fast",
    progress: Progress | None = None,
    total: int = 0,
    checkpoints: Mapping[str, str] | None = None,
) -> tuple[list[str], list[Withheld], dict[str, str]]:
    """The file's lines (loan order), the records withheld with their reasons, and the encoded
    checkpoints to keep (only when ``checkpoints`` is given: resume from those still valid)."""
    lines: list[str] = []
    withheld: list[Withheld] = []
    kept: dict[str, str] = {}
    for k, f in enumerate(sorted(facts, key=lambda f: f.terms.loan_id), 1):
        if checkpoints is None:
            rec = month_record(f, month, engine=engine)
        else:
            rec = month_record(f, month, ledger_history=_resumer(f, checkpoints, kept))
        if rec is not None:
            if isinstance(rec, Withheld):
                withheld.append(rec)
                if fmt == "jsonl":
                    lines.append(_json_line(record_json(rec, month)))
            elif fmt == "jsonl":
                lines.append(_json_line(record_json(rec, month)))
            else:
                lines.append(base_segment(_metro2(rec, furnisher)))
        if progress is not None and (k % 1000 == 0 or k == total):
            progress(k, total)
    return lines, withheld, kept


def _resumer(
    f: LoanFacts, checkpoints: Mapping[str, str], kept: dict[str, str]
) -> Callable[[date], CreditHistory]:
    def ledger_history(as_of: date) -> CreditHistory:
        loan_id = f.terms.loan_id
        text = checkpoints.get(loan_id)
        cp = None if text is None else checkpoint.decode(f.terms, text)
        history, new = checkpoint.history_with_checkpoint(
            f.terms, f.product, f.events, as_of, f.settlements, cp
        )
        if new is not None:
            kept[loan_id] = checkpoint.encode(new)
        return history

    return ledger_history


def _json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _metro2(rec: Reported, furnisher: str) -> Metro2Account:
    f = rec.facts
    months = rec.history.months
    last = months[-1]
    scheduled = max((m.scheduled for m in months), default=0)
    charge_off = last.balance if last.status == "G" else 0
    return Metro2Account(
        furnisher_id=furnisher,
        loan_id=f.terms.loan_id,
        opened_on=f.terms.disbursed_on,
        original_amount=f.terms.principal,
        terms_months=f.terms.months,
        scheduled_payment=scheduled,
        month=last,
        previous=months[:-1],
        disputed=bool(rec.disputes),
        dispute_resolved=rec.resolved_dispute,
        original_charge_off=charge_off,
        minor_per_major=minor_per_major(f.currency),
    )


def write_atomically(path: Path, lines: Sequence[str]) -> str:
    """Write the whole file under a temporary name, then rename it into place; its sha256."""
    data = "".join(line + "\n" for line in lines).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


# What forked workers read (set by ``export_month`` just before its pool forks them): the
# parent's rows are inherited, not pickled, so only loan index ranges cross the pipe.
_SHARED: tuple[RawFacts, Mapping[str, str] | None] | None = None

_Chunk = tuple[int, int, str, Format, str, tuple[RawFacts, Mapping[str, str] | None] | None]


def _export_chunk(args: _Chunk) -> tuple[list[str], list[Withheld], dict[str, str]]:
    lo, hi, month, fmt, furnisher, own = args
    shared = own if own is not None else _SHARED
    assert shared is not None
    raw, stored = shared
    facts = build_facts(raw, raw.loans[lo:hi])
    return export_lines(facts, month, fmt, furnisher, checkpoints=stored)


def _slice(
    raw: RawFacts, stored: Mapping[str, str] | None, lo: int, hi: int, rest: tuple[str, Format, str]
) -> _Chunk:
    """A chunk that carries its own rows (for a start method that does not fork)."""
    loans = raw.loans[lo:hi]
    ids = [r[0] for r in loans]
    part = RawFacts(
        raw.products,
        loans,
        {i: raw.events[i] for i in ids if i in raw.events},
        {i: raw.settlements[i] for i in ids if i in raw.settlements},
        {i: raw.notices[i] for i in ids if i in raw.notices},
        {i: raw.disputes[i] for i in ids if i in raw.disputes},
        {i: raw.notice_on[i] for i in ids if i in raw.notice_on},
    )
    cps = None if stored is None else {i: stored[i] for i in ids if i in stored}
    return (0, len(loans), *rest, (part, cps))


def export_month(
    engine: Engine,
    month: str,
    fmt: Format,
    out: Path,
    furnisher: str = "ARREARS",
    progress: Progress | None = None,
    workers: int = 1,
    resume: bool = True,
) -> Result[ExportSummary]:
    """Write the month's bureau file (whole or not at all) and say which records were withheld.

    ``workers`` > 1 reads loans in that many processes; chunks are joined in loan order, so the
    bytes do not depend on it. With ``resume`` each loan resumes from its checkpoint (where it
    stood at the last export) when still valid, and the new checkpoints are stored after the
    file is in place; the bytes do not depend on it either.
    """
    ym, bad_month = parse_month(month)
    if ym is None:
        return fail(*bad_month)
    if fmt not in ("jsonl", "metro2"):
        return fail(Problem(f"format {fmt!r}", "format", "must be jsonl or metro2"))
    if fmt == "metro2" and (not furnisher.isascii() or not 1 <= len(furnisher) <= 20):
        return fail(Problem(f"furnisher {furnisher!r}", "furnisher", "1..20 ASCII characters"))
    if workers < 1:
        return fail(Problem(f"workers {workers}", "workers", "must be at least 1"))
    with _few_collections(), engine.connect() as conn:
        raw = read_raw(conn)
        stored: dict[str, str] | None = None
        if resume:
            cp = credit_tables.credit_checkpoints.c
            stored = {r[0]: r[1] for r in conn.execute(select(cp.loan_id, cp.state))}
    with _few_collections():
        return ok(_export(engine, raw, stored, month, fmt, out, furnisher, progress, workers))


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """The export allocates millions of small acyclic objects (rows, accounts, months): with
    the default thresholds the cycle collector runs thousands of times and rescans the rows
    each time (about 7% of the CPU). Collect less often while it runs; restore after."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _export(
    engine: Engine,
    raw: RawFacts,
    stored: dict[str, str] | None,
    month: str,
    fmt: Format,
    out: Path,
    furnisher: str,
    progress: Progress | None,
    workers: int,
) -> ExportSummary:
    global _SHARED
    resume = stored is not None
    total = len(raw.loans)
    kept: dict[str, str] = {}
    if workers == 1:
        lines, withheld, kept = export_lines(
            build_facts(raw), month, fmt, furnisher, progress=progress, total=total,
            checkpoints=stored,
        )  # fmt: skip
    else:
        size = 2000
        fork = "fork" in mp.get_all_start_methods()
        chunks: list[_Chunk] = []
        for lo in range(0, total, size):
            hi = min(lo + size, total)
            if fork:
                chunks.append((lo, hi, month, fmt, furnisher, None))
            else:
                chunks.append(_slice(raw, stored, lo, hi, (month, fmt, furnisher)))
        lines, withheld = [], []
        _SHARED = (raw, stored)
        gc.freeze()  # the rows the workers inherit: never rescanned, their pages stay shared
        try:
            ctx = mp.get_context("fork" if fork else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
                for k, (got, held, cps) in enumerate(pool.map(_export_chunk, chunks), 1):
                    lines.extend(got)
                    withheld.extend(held)
                    kept.update(cps)
                    if progress is not None:
                        progress(min(k * size, total), total)
        finally:
            gc.unfreeze()
            _SHARED = None
    digest = write_atomically(out, lines)
    if resume and kept:
        save_checkpoints(engine, kept)
    records = len(lines) - (len(withheld) if fmt == "jsonl" else 0)
    return ExportSummary(month, fmt, out, records, tuple(withheld), digest)


def save_checkpoints(engine: Engine, states: Mapping[str, str]) -> None:
    """Replace the stored checkpoints of these loans (a cache: losing it only costs time)."""
    ids = sorted(states)
    with engine.begin() as conn:
        for k in range(0, len(ids), 2000):
            chunk = ids[k : k + 2000]
            conn.execute(
                delete(credit_tables.credit_checkpoints).where(
                    credit_tables.credit_checkpoints.c.loan_id.in_(chunk)
                )
            )
            conn.execute(
                insert(credit_tables.credit_checkpoints),
                [{"loan_id": i, "state": states[i]} for i in chunk],
            )
