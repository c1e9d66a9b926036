"""A borrower's complaints: filed against a contact, a collector or an amount, linked to records
of their evidence chain, answered by the deadline of their rule pack, counted by collector,
agency and rule.

Every step goes into the borrower's evidence log as a ``borrower.request`` record (the
complaint, with the SHA-256 of its words) or a ``complaint.decided`` record (the outcome), so
the chain shows what was complained of and what the lender did about it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any, Literal

import yaml
from sqlalchemy import Connection, case, func, insert, select, update

from arrears.core.compliance.packs import PACKS
from arrears.core.evidence.chain import Kind
from arrears.core.jsonable import jsonable
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.core.requests import request_problems
from arrears.services import evidence as log
from arrears.services.collection.gate_context import zones
from arrears.store import tables
from arrears.store.case_tables import collectors, complaints
from arrears.store.evidence_tables import evidence_records
from arrears.store.instants import from_db, maybe_from_db, to_utc
from arrears.store.profile_tables import borrower_profiles

C = complaints
AGAINST = ("contact", "collector", "amount")
OUTCOMES = ("upheld", "rejected", "withdrawn")
MAX_TEXT = 2000

Against = Literal["contact", "collector", "amount"]


@functools.cache
def deadline_days() -> dict[str, int]:
    """Pack id -> days to answer, from ``data/borrower/complaints.yaml`` (every pack tested)."""
    path = resources.files("arrears") / "data" / "borrower" / "complaints.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["deadline_days"].items()}


@dataclass(frozen=True, slots=True)
class Complaint:
    complaint_id: int
    key: str
    borrower_id: str
    loan_id: str | None
    against: str
    collector_id: str | None
    rule: str | None
    evidence: tuple[int, ...]
    received_at: datetime
    due_on: date
    status: str
    outcome: str
    decided_at: datetime | None
    already_recorded: bool = False

    def overdue(self, on: date) -> bool:
        return self.status == "open" and on > self.due_on

    def as_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def _complaint(row: Any, already: bool = False) -> Complaint:
    seqs = tuple(int(s) for s in row.evidence.split(",") if s)
    return Complaint(
        row.complaint_id,
        row.key,
        row.borrower_id,
        row.loan_id,
        row.against,
        row.collector_id,
        row.rule,
        seqs,
        from_db(row.received_at),
        row.due_on,
        row.status,
        row.outcome,
        maybe_from_db(row.decided_at),
        already,
    )


def _checked(
    record: str,
    key: str,
    at: datetime,
    against: str,
    text: str,
    collector_id: str | None,
    evidence: Sequence[int],
) -> list[Problem]:
    problems = request_problems(record, key, at)
    if against not in AGAINST:
        problems.append(Problem(record, "against", f"must be one of {', '.join(AGAINST)}"))
    if against == "collector" and collector_id is None:
        problems.append(
            Problem(record, "collector_id", "a complaint against a collector names one")
        )
    if not text.strip():
        problems.append(Problem(record, "text", "must say what happened"))
    elif len(text) > MAX_TEXT:
        problems.append(Problem(record, "text", f"must be at most {MAX_TEXT} characters"))
    if any(s < 1 for s in evidence) or len(set(evidence)) != len(evidence):
        problems.append(Problem(record, "evidence", "must be distinct record numbers from 1"))
    return problems


def _same(row: Any, want: dict[str, Any]) -> bool:
    return all(getattr(row, k) == v for k, v in want.items())


def _references(
    conn: Connection,
    record: str,
    borrower_id: str,
    loan_id: str | None,
    collector_id: str | None,
    rule: str | None,
    evidence: Sequence[int],
) -> tuple[str, list[Problem]]:
    """The borrower's pack, and a problem for each reference that is not theirs or not there."""
    problems: list[Problem] = []
    profile = conn.execute(
        select(borrower_profiles.c.rule_pack).where(borrower_profiles.c.borrower_id == borrower_id)
    ).first()
    pack_id = profile.rule_pack if profile is not None else "cn"
    if loan_id is not None:
        owner = conn.execute(
            select(tables.loans.c.borrower_id).where(tables.loans.c.loan_id == loan_id)
        ).scalar()
        if owner != borrower_id:  # another borrower's loan is as unknown as a missing one
            problems.append(not_found(record, f"no loan {loan_id} of {borrower_id}", "loan_id"))
    if collector_id is not None:
        known = conn.execute(
            select(collectors.c.collector_id).where(collectors.c.collector_id == collector_id)
        ).first()
        if known is None:
            problems.append(not_found(record, f"no collector {collector_id}", "collector_id"))
    if rule is not None and rule not in {r.id for r in PACKS[pack_id].rules}:
        problems.append(Problem(record, "rule", f"{rule!r} is not a rule of pack {pack_id}"))
    if evidence:
        E = evidence_records
        found = set(
            conn.execute(
                select(E.c.seq).where(E.c.borrower_id == borrower_id, E.c.seq.in_(list(evidence)))
            ).scalars()
        )
        missing = sorted(set(evidence) - found)
        if missing:
            problems.append(
                Problem(record, "evidence", f"no record {missing} in {borrower_id}'s chain")
            )
    return pack_id, problems


def file_complaint(
    conn: Connection,
    *,
    key: str,
    borrower_id: str,
    at: datetime,
    against: str,
    text: str,
    loan_id: str | None = None,
    collector_id: str | None = None,
    rule: str | None = None,
    evidence: Sequence[int] = (),
) -> Result[Complaint]:
    """Record a complaint; the same ``key`` with the same complaint records nothing more, with
    another is refused. Its deadline is the borrower's pack's, counted from their local date."""
    record = f"complaint {key}"
    problems = _checked(record, key, at, against, text, collector_id, evidence)
    if problems:
        return fail(*problems)
    seqs = ",".join(str(s) for s in sorted(evidence))
    want = {
        "borrower_id": borrower_id,
        "loan_id": loan_id,
        "against": against,
        "collector_id": collector_id,
        "rule": rule,
        "evidence": seqs,
        "text": text,
    }
    prior = conn.execute(select(C).where(C.c.key == key)).first()
    if prior is not None:
        if not _same(prior, want):
            return fail(Problem(record, "key", "already used for another complaint", "conflict"))
        return ok(_complaint(prior, already=True))
    if (
        conn.execute(
            select(tables.borrowers.c.borrower_id).where(
                tables.borrowers.c.borrower_id == borrower_id
            )
        ).first()
        is None
    ):
        return fail(not_found(record, f"no borrower {borrower_id}", "borrower_id"))
    pack_id, problems = _references(
        conn, record, borrower_id, loan_id, collector_id, rule, evidence
    )
    if problems:
        return fail(*problems)
    zone_text = conn.execute(
        select(borrower_profiles.c.timezones).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    received_on = at.astimezone(zones(zone_text or "")[0]).date()
    due_on = received_on + timedelta(days=deadline_days()[pack_id])
    conn.execute(
        insert(C).values(**want, key=key, received_at=to_utc(at), due_on=due_on, status="open")
    )
    complaint_id = int(conn.execute(select(C.c.complaint_id).where(C.c.key == key)).scalar_one())
    log.append(
        conn,
        borrower_id,
        Kind.BORROWER_REQUEST,
        {
            "kind": "complaint",
            "complaint_id": complaint_id,
            "key": key,
            "against": against,
            "loan_id": loan_id,
            "collector_id": collector_id,
            "rule": rule,
            "evidence": list(sorted(evidence)),
            "due_on": due_on.isoformat(),
            "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        },
        at,
    )
    row = conn.execute(select(C).where(C.c.complaint_id == complaint_id)).one()
    return ok(_complaint(row))


def decide_complaint(
    conn: Connection, complaint_id: int, *, outcome: str, note: str, by: str, at: datetime
) -> Result[Complaint]:
    """Close an open complaint as upheld, rejected or withdrawn, with the lender's note to the
    borrower; a decided complaint is not decided again."""
    record = f"complaint {complaint_id}"
    problems: list[Problem] = []
    if outcome not in OUTCOMES:
        problems.append(Problem(record, "outcome", f"must be one of {', '.join(OUTCOMES)}"))
    if not note.strip() or len(note) > MAX_TEXT:
        problems.append(Problem(record, "note", f"must be 1-{MAX_TEXT} characters"))
    if not by.strip():
        problems.append(Problem(record, "by", "must name who decided"))
    if at.utcoffset() is None:
        problems.append(Problem(record, "at", "must carry a time-zone offset"))
    if problems:
        return fail(*problems)
    row = conn.execute(select(C).where(C.c.complaint_id == complaint_id)).first()
    if row is None:
        return fail(not_found(record, "no such complaint", "complaint_id"))
    if row.status != "open":
        return fail(Problem(record, "status", f"already {row.status}", "conflict"))
    if to_utc(at) < from_db(row.received_at):
        return fail(Problem(record, "at", "is before the complaint was received"))
    conn.execute(
        update(C)
        .where(C.c.complaint_id == complaint_id)
        .values(status=outcome, outcome=note, decided_at=to_utc(at), decided_by=by)
    )
    late = at.date() > row.due_on
    log.append(
        conn,
        row.borrower_id,
        Kind.COMPLAINT_DECIDED,
        {
            "complaint_id": complaint_id,
            "outcome": outcome,
            "by": by,
            "late": late,
            "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest(),
        },
        at,
    )
    return ok(_complaint(conn.execute(select(C).where(C.c.complaint_id == complaint_id)).one()))


def list_complaints(
    conn: Connection,
    *,
    borrower_id: str | None = None,
    open_only: bool = False,
    overdue_on: date | None = None,
) -> list[Complaint]:
    """Complaints by id; ``overdue_on``: only those still open after their deadline that day."""
    q = select(C).order_by(C.c.complaint_id)
    if borrower_id is not None:
        q = q.where(C.c.borrower_id == borrower_id)
    if open_only or overdue_on is not None:
        q = q.where(C.c.status == "open")
    if overdue_on is not None:
        q = q.where(C.c.due_on < overdue_on)
    return [_complaint(r) for r in conn.execute(q)]


@dataclass(frozen=True, slots=True)
class Count:
    name: str  # the collector id, the agency, or the rule id ("" for none named)
    complaints: int
    open: int
    upheld: int


@dataclass(frozen=True, slots=True)
class Counts:
    by_collector: tuple[Count, ...]
    by_agency: tuple[Count, ...]
    by_rule: tuple[Count, ...]

    def as_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[no-any-return]


def complaint_counts(conn: Connection) -> Counts:
    """Complaints counted by collector, by agency (the lender's own staff as "") and by rule,
    most complained of first; complaints naming none are left out of that count."""

    def grouped(column: Any, joined: bool = False) -> tuple[Count, ...]:
        base = C.join(collectors, collectors.c.collector_id == C.c.collector_id) if joined else C
        name = func.coalesce(column, "").label("name")
        q = (
            select(
                name,
                func.count(),
                func.sum(case((C.c.status == "open", 1), else_=0)),
                func.sum(case((C.c.status == "upheld", 1), else_=0)),
            )
            .select_from(base)
            .group_by(name)
        )
        if not joined:
            q = q.where(column.is_not(None))
        rows = [Count(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in conn.execute(q)]
        return tuple(sorted(rows, key=lambda c: (-c.complaints, c.name)))

    return Counts(grouped(C.c.collector_id), grouped(collectors.c.agency, True), grouped(C.c.rule))
