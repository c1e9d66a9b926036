"""The database side of credit reporting: load a loan's facts, record notices, settlements and
disputes, plan notices, and write bureau files. Functions take a Connection (the caller's
transaction) or an Engine (they open one); nothing else touches the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select, update

from arrears.contact.action import PlannedAction
from arrears.credit import checkpoint
from arrears.credit.codes import CODES, Code
from arrears.credit.disputes import Dispute, Outcome
from arrears.credit.history import CreditHistory, forecast, reporting_date
from arrears.credit.metro2 import Metro2Account, base_segment
from arrears.credit.notices import LoanOutlook, plan_notices
from arrears.credit.report import (
    LoanFacts,
    Reported,
    Withheld,
    month_record,
    record_json,
)
from arrears.credit.rules import CreditRules, rules_for
from arrears.evidence import log
from arrears.evidence.chain import Kind
from arrears.ledger.replay import Event, Payment, Waiver, WriteOff
from arrears.loans.product import Component, Method, Product
from arrears.loans.schedule import LoanTerms
from arrears.money import Rate, RateBasis, minor_per_major
from arrears.store import credit_tables as ct
from arrears.store import profile_tables as pt
from arrears.store import tables as t

DISPUTE_OUTCOME_KIND = "credit.dispute_outcome"
Format = Literal["jsonl", "metro2"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Problem:
    record: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.reason}"


def utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def parse_month(text: str) -> tuple[int, int] | Problem:
    try:
        year, month = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-" or not 1 <= month <= 12 or year < 1900:
            raise ValueError
    except ValueError:
        return Problem(f"month {text!r}", "month", "must be YYYY-MM")
    return year, month


# ---------------------------------------------------------------------------------------------
# Loading


def _events(rows: Iterable[Any]) -> dict[str, list[Event]]:
    """Live events per loan in recorded order (as ``services.accounts.load_events``)."""
    by_loan: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_loan[r.loan_id].append(r)
    out: dict[str, list[Event]] = {}
    for loan_id, rs in by_loan.items():
        reversed_refs = {r.reverses for r in rs if r.kind == "reversal"}
        evs: list[Event] = []
        for r in rs:
            if r.ref in reversed_refs or r.kind == "reversal":
                continue
            if r.kind == "payment":
                evs.append(Payment(r.ref, r.amount, r.effective_on))
            elif r.kind == "waiver":
                evs.append(Waiver(r.ref, Component(r.component), r.amount, r.effective_on))
            elif r.kind == "write_off":
                evs.append(WriteOff(r.ref, r.effective_on))
        out[loan_id] = evs
    return out


def load_facts(conn: Connection, loan_ids: Sequence[str] | None = None) -> dict[str, LoanFacts]:
    """Every loan's credit facts (or those of ``loan_ids``), in a handful of queries."""
    chunks: list[Sequence[str] | None] = (
        [None]
        if loan_ids is None
        else [loan_ids[k : k + 2000] for k in range(0, len(loan_ids), 2000)]
    )
    out: dict[str, LoanFacts] = {}
    prods = {r.product_id: Product.from_json(r.spec) for r in conn.execute(select(t.products))}
    for ids in chunks:
        out.update(_load_chunk(conn, ids, prods))
    return out


def _where(q: Any, column: Any, ids: Sequence[str] | None) -> Any:
    return q if ids is None else q.where(column.in_(ids))


def _load_chunk(
    conn: Connection, ids: Sequence[str] | None, prods: dict[str, Product]
) -> dict[str, LoanFacts]:
    lq = _where(
        select(t.loans, pt.borrower_profiles.c.rule_pack).outerjoin(
            pt.borrower_profiles,
            pt.borrower_profiles.c.borrower_id == t.loans.c.borrower_id,
        ),
        t.loans.c.loan_id,
        ids,
    )
    eq = _where(select(t.loan_events).order_by(t.loan_events.c.seq), t.loan_events.c.loan_id, ids)
    events = _events(conn.execute(eq))
    settlements: dict[str, dict[str, str]] = defaultdict(dict)
    for r in conn.execute(
        _where(select(ct.credit_settlements), ct.credit_settlements.c.loan_id, ids)
    ):
        settlements[r.loan_id][r.payment_ref] = r.kind
    notices: dict[str, datetime] = {}
    for r in conn.execute(_where(select(ct.credit_notices), ct.credit_notices.c.loan_id, ids)):
        at = utc(r.sent_at)
        if r.loan_id not in notices or at < notices[r.loan_id]:
            notices[r.loan_id] = at
    disputes: dict[str, list[Dispute]] = defaultdict(list)
    dq = _where(
        select(ct.credit_disputes).order_by(ct.credit_disputes.c.dispute_id),
        ct.credit_disputes.c.loan_id,
        ids,
    )
    for r in conn.execute(dq):
        disputes[r.loan_id].append(_dispute(r))
    out: dict[str, LoanFacts] = {}
    for r in conn.execute(lq):
        terms = LoanTerms(
            r.loan_id,
            r.principal,
            Rate(Fraction(r.rate), RateBasis(r.rate_basis)),
            r.months,
            Method(r.method),
            r.disbursed_on,
            r.due_day,
        )
        out[r.loan_id] = LoanFacts(
            terms,
            prods[r.product_id],
            r.borrower_id,
            r.currency,
            rules_for(r.rule_pack or "cn"),
            tuple(events.get(r.loan_id, ())),
            settlements.get(r.loan_id, {}),
            notices.get(r.loan_id),
            tuple(disputes.get(r.loan_id, ())),
        )
    return out


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


def loan_facts(conn: Connection, loan_id: str) -> LoanFacts | Problem:
    found = load_facts(conn, [loan_id]).get(loan_id)
    if found is None:
        return Problem(f"loan {loan_id}", "loan_id", "not found")
    return found


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
) -> NoticeRecorded | Problem:
    """Record that a credit notice reached the borrower (called when the outbox delivers).

    The same ``key`` with the same content records once; with other content it is refused.
    """
    rec = f"notice {key}"
    if not key.strip() or len(key) > 128:
        return Problem(rec, "key", "must be 1..128 characters")
    if channel not in ("sms", "letter"):
        return Problem(rec, "channel", f"must be sms or letter, got {channel!r}")
    if sent_at.utcoffset() is None:
        return Problem(rec, "sent_at", "must carry a time zone")
    if conn.execute(select(t.loans.c.loan_id).where(t.loans.c.loan_id == loan_id)).first() is None:
        return Problem(rec, "loan_id", f"loan {loan_id!r} not found")
    at = sent_at.astimezone(UTC)
    row = conn.execute(select(ct.credit_notices).where(ct.credit_notices.c.key == key)).first()
    if row is not None:
        if (row.loan_id, utc(row.sent_at), row.channel) != (loan_id, at, channel):
            return Problem(rec, "key", "already used for another notice")
        return NoticeRecorded(loan_id, key, at, channel, True)
    conn.execute(
        insert(ct.credit_notices),
        [{"key": key, "loan_id": loan_id, "sent_at": at, "channel": channel}],
    )
    return NoticeRecorded(loan_id, key, at, channel, False)


def outlooks(
    conn: Connection, as_of: date, months: int = 2, loan_ids: Sequence[str] | None = None
) -> list[LoanOutlook]:
    """Every active loan's (or these loans') coming reporting dates, if nothing is paid."""
    if loan_ids is None:
        active = select(t.loan_state.c.loan_id).where(t.loan_state.c.status == "active")
        ids = list(conn.execute(active).scalars())
    else:
        ids = list(loan_ids)
    out: list[LoanOutlook] = []
    for f in load_facts(conn, ids).values():
        if f.terms.disbursed_on > as_of:
            continue
        coming = forecast(
            f.terms, f.product, f.events, as_of, months, f.settlements, include_past=True
        )
        out.append(LoanOutlook(f.terms.loan_id, f.borrower_id, f.rules, tuple(coming)))
    return out


def planned_notices(conn: Connection, business_date: date) -> list[PlannedAction]:
    notices = {r.loan_id: utc(r.sent_at) for r in conn.execute(select(ct.credit_notices))}
    return plan_notices(outlooks(conn, business_date), notices, business_date)


# ---------------------------------------------------------------------------------------------
# Settlements by a guarantor or with assets


def mark_settlement(conn: Connection, loan_id: str, payment_ref: str, kind: str) -> bool | Problem:
    """Mark a payment as made by a guarantor or with assets. True if newly marked."""
    rec = f"payment {payment_ref}"
    if kind not in ("guarantor", "assets"):
        return Problem(rec, "kind", f"must be guarantor or assets, got {kind!r}")
    row = conn.execute(
        select(t.loan_events.c.loan_id, t.loan_events.c.kind).where(
            t.loan_events.c.ref == payment_ref
        )
    ).first()
    if row is None or row.kind != "payment":
        return Problem(rec, "payment_ref", "payment not found")
    if row.loan_id != loan_id:
        return Problem(rec, "loan_id", f"the payment belongs to loan {row.loan_id}")
    have = conn.execute(
        select(ct.credit_settlements.c.kind).where(
            ct.credit_settlements.c.payment_ref == payment_ref
        )
    ).scalar_one_or_none()
    if have is not None:
        if have != kind:
            return Problem(rec, "kind", f"already marked as {have}")
        return False
    conn.execute(
        insert(ct.credit_settlements),
        [{"payment_ref": payment_ref, "loan_id": loan_id, "kind": kind}],
    )
    return True


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
) -> Dispute | Problem:
    """Open a dispute on one month of a loan; it goes to the borrower's evidence chain too.

    The same ``key`` for the same loan and month returns the dispute already open.
    """
    rec = f"dispute {key}"
    if not key.strip() or len(key) > 128:
        return Problem(rec, "key", "must be 1..128 characters")
    if not reason.strip():
        return Problem(rec, "reason", "must not be empty")
    if opened_at.utcoffset() is None:
        return Problem(rec, "opened_at", "must carry a time zone")
    ym = parse_month(month)
    if isinstance(ym, Problem):
        return Problem(rec, "month", ym.reason)
    facts = loan_facts(conn, loan_id)
    if isinstance(facts, Problem):
        return Problem(rec, "loan_id", facts.reason)
    at = opened_at.astimezone(UTC)
    r = reporting_date(facts.terms, *ym)
    if r < facts.terms.disbursed_on or r >= at.date():
        return Problem(rec, "month", f"loan {loan_id} has no reported item for {month}")
    existing = conn.execute(
        select(ct.credit_disputes).where(ct.credit_disputes.c.key == key)
    ).first()
    if existing is not None:
        if (existing.loan_id, existing.month) != (loan_id, month):
            return Problem(rec, "key", "already used for another dispute")
        return _dispute(existing)
    try:
        rules: CreditRules = facts.rules.with_settings(dispute_days=dispute_days)
    except ValueError as exc:
        return Problem(rec, "dispute_days", str(exc))
    deadline = rules.dispute_deadline(at.date())
    dispute_id = conn.execute(
        insert(ct.credit_disputes).returning(ct.credit_disputes.c.dispute_id),
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
            "reason": reason,
            "deadline": deadline.isoformat(),
        },
        at,
    )
    return Dispute(dispute_id, loan_id, month, reason, at, deadline)


def resolve_dispute(
    conn: Connection,
    dispute_id: int,
    outcome: str,
    reason: str,
    resolved_at: datetime,
    corrected_status: str | None = None,
) -> Dispute | Problem:
    """Record a dispute's outcome (``corrected`` with the new status, or ``upheld``) and why."""
    rec = f"dispute {dispute_id}"
    row = conn.execute(
        select(ct.credit_disputes).where(ct.credit_disputes.c.dispute_id == dispute_id)
    ).first()
    if row is None:
        return Problem(rec, "dispute_id", "not found")
    d = _dispute(row)
    if d.outcome is not None:
        return Problem(rec, "outcome", f"already {d.outcome}")
    if outcome not in ("corrected", "upheld"):
        return Problem(rec, "outcome", f"must be corrected or upheld, got {outcome!r}")
    if not reason.strip():
        return Problem(rec, "reason", "must not be empty")
    if resolved_at.utcoffset() is None:
        return Problem(rec, "resolved_at", "must carry a time zone")
    at = resolved_at.astimezone(UTC)
    if at < d.opened_at:
        return Problem(rec, "resolved_at", "is before the dispute was opened")
    code: Code | None = None
    if outcome == "corrected":
        if corrected_status not in CODES:
            return Problem(rec, "corrected_status", f"must be one of {''.join(CODES)}")
        code = corrected_status  # type: ignore[assignment]
    elif corrected_status is not None:
        return Problem(rec, "corrected_status", "only a corrected outcome has one")
    conn.execute(
        update(ct.credit_disputes)
        .where(ct.credit_disputes.c.dispute_id == dispute_id)
        .values(outcome=outcome, outcome_reason=reason, corrected_status=code, resolved_at=at)
    )
    borrower = conn.execute(
        select(t.loans.c.borrower_id).where(t.loans.c.loan_id == d.loan_id)
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
            "reason": reason,
            "corrected_status": code,
            "late": at.date() > d.deadline,
        },
        at,
    )
    out: Outcome = "corrected" if outcome == "corrected" else "upheld"
    return Dispute(
        d.dispute_id, d.loan_id, d.month, d.reason, d.opened_at, d.deadline, out, reason, code, at
    )


def disputes_of(conn: Connection, loan_id: str) -> list[Dispute]:
    q = (
        select(ct.credit_disputes)
        .where(ct.credit_disputes.c.loan_id == loan_id)
        .order_by(ct.credit_disputes.c.dispute_id)
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


def _export_chunk(
    args: tuple[list[LoanFacts], str, Format, str, dict[str, str] | None],
) -> tuple[list[str], list[Withheld], dict[str, str]]:
    facts, month, fmt, furnisher, checkpoints = args
    return export_lines(facts, month, fmt, furnisher, checkpoints=checkpoints)


def export_month(
    engine: Engine,
    month: str,
    fmt: Format,
    out: Path,
    furnisher: str = "ARREARS",
    progress: Progress | None = None,
    workers: int = 1,
    resume: bool = True,
) -> ExportSummary | Problem:
    """Write the month's bureau file (whole or not at all) and say which records were withheld.

    ``workers`` > 1 reads loans in that many processes; chunks are joined in loan order, so the
    bytes do not depend on it. With ``resume`` each loan resumes from its checkpoint (where it
    stood at the last export) when still valid, and the new checkpoints are stored after the
    file is in place; the bytes do not depend on it either.
    """
    ym = parse_month(month)
    if isinstance(ym, Problem):
        return ym
    if fmt not in ("jsonl", "metro2"):
        return Problem(f"format {fmt!r}", "format", "must be jsonl or metro2")
    if fmt == "metro2" and (not furnisher.isascii() or not 1 <= len(furnisher) <= 20):
        return Problem(f"furnisher {furnisher!r}", "furnisher", "1..20 ASCII characters")
    if workers < 1:
        return Problem(f"workers {workers}", "workers", "must be at least 1")
    with engine.connect() as conn:
        facts = load_facts(conn)
        stored: dict[str, str] | None = None
        if resume:
            stored = {r.loan_id: r.state for r in conn.execute(select(ct.credit_checkpoints))}
    ordered = sorted(facts.values(), key=lambda f: f.terms.loan_id)
    kept: dict[str, str] = {}
    if workers == 1:
        lines, withheld, kept = export_lines(
            ordered, month, fmt, furnisher, progress=progress, total=len(ordered),
            checkpoints=stored,
        )  # fmt: skip
    else:
        size = 2000
        chunks = []
        for k in range(0, len(ordered), size):
            part = ordered[k : k + size]
            mine = None if stored is None else {
                f.terms.loan_id: stored[f.terms.loan_id]
                for f in part
                if f.terms.loan_id in stored
            }  # fmt: skip
            chunks.append((part, month, fmt, furnisher, mine))
        lines, withheld = [], []
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for k, (got, held, cps) in enumerate(pool.map(_export_chunk, chunks), 1):
                lines.extend(got)
                withheld.extend(held)
                kept.update(cps)
                if progress is not None:
                    progress(min(k * size, len(ordered)), len(ordered))
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
                delete(ct.credit_checkpoints).where(ct.credit_checkpoints.c.loan_id.in_(chunk))
            )
            conn.execute(
                insert(ct.credit_checkpoints),
                [{"loan_id": i, "state": states[i]} for i in chunk],
            )
