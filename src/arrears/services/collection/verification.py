"""Checking a visiting collector by a one-time code, in the database.

``issue_code``: the lender gives a collector a code for one loan's borrower and a time window.
``verify_code``: the borrower types the code; we say who the collector is and whether they are
assigned to the borrower, or that the visitor could not be verified, with the seed's advice,
and record a suspected-impostor incident for the lender. Guessing is limited per borrower and
across the code space (``arrears.core.people.guessing``). Every step is on the borrower's
evidence chain; the code itself never is, nor is it stored (only its keyed hash).

Each function runs in the caller's transaction; nothing here commits. The clock and the
randomness come from the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, func, insert, select, update

from arrears.core.people import codes
from arrears.core.people.advice import Language, language_of, not_verified
from arrears.core.people.guessing import DEFAULT_LIMITS, Gate, GuessLimits, gate
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services import evidence as log
from arrears.services.collection.common import for_update, from_db, split_ids, to_utc
from arrears.services.references import recipient_ref
from arrears.store import tables as t
from arrears.store.case_tables import cases, collector_training, collectors, visits
from arrears.store.people_tables import agencies, code_attempts, collector_codes, impostor_incidents
from arrears.store.profile_tables import borrower_profiles

CC = collector_codes
CA = code_attempts
MAX_VALID_MINUTES = 24 * 60
# Live codes a borrower may hold at once: bounds what one guess can hit (docs/verification.md).
MAX_LIVE_CODES = 10
_ISSUE_TRIES = 5


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str  # as the collector reads it out: 7KQ2M-XD94R
    code_id: int
    collector_id: str
    loan_id: str
    borrower_id: str
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class CollectorCard:
    """What the borrower is shown about a verified collector."""

    collector_id: str
    name: str
    employee_no: str  # masked: enough to compare with a badge, not to copy one
    agency: str | None
    last_trained_on: date | None
    status: str


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    verified: bool
    language: Language
    collector: CollectorCard | None = None
    assigned: bool = False
    valid_until: datetime | None = None
    advice: tuple[str, ...] = ()
    locked_until: datetime | None = None
    incident_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """What the borrower is told, as the command line prints it and the API returns it."""
        if not self.verified:
            out: dict[str, Any] = {"verified": False, "advice": list(self.advice)}
            if self.locked_until is not None:
                out["locked_until"] = self.locked_until.isoformat()
            return out
        card = self.collector
        assert card is not None, "a verified code names its collector"
        trained = card.last_trained_on
        return {
            "verified": True,
            "collector": {
                "id": card.collector_id,
                "name": card.name,
                "employee_no": card.employee_no,
                "agency": card.agency,
                "last_trained_on": None if trained is None else str(trained),
                "status": card.status,
            },
            "assigned": self.assigned,
            "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
        }


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def mask(employee_no: str) -> str:
    shown = min(4, len(employee_no) // 2)
    return "*" * (len(employee_no) - shown) + employee_no[len(employee_no) - shown :]


def collector_active(conn: Connection, collector_id: str) -> bool | None:
    """None: no such collector; else whether they and their agency are active."""
    row = conn.execute(
        select(collectors.c.status, collectors.c.registered, agencies.c.status.label("agency"))
        .select_from(collectors.outerjoin(agencies, agencies.c.name == collectors.c.agency))
        .where(collectors.c.collector_id == collector_id)
    ).first()
    if row is None:
        return None
    return row.status == "active" and bool(row.registered) and row.agency in (None, "active")


def issue_code(
    conn: Connection,
    collector_id: str,
    loan_id: str,
    now: datetime,
    secret: bytes,
    random_bytes: Callable[[int], bytes],
    valid_minutes: int = 60,
) -> Result[IssuedCode]:
    """A new code for ``collector_id`` to show the borrower of ``loan_id``, valid from ``now``
    for ``valid_minutes`` (1 to 1440)."""
    record = f"code for collector {collector_id}"
    if not 1 <= valid_minutes <= MAX_VALID_MINUTES:
        return fail(Problem(record, "valid_minutes", f"must be 1-{MAX_VALID_MINUTES}"))
    active = collector_active(conn, collector_id)
    if active is None:
        return fail(not_found(record, "no such collector", "collector_id"))
    if not active:
        return fail(Problem(record, "collector_id", "is deactivated", "conflict"))
    loan = conn.execute(select(t.loans.c.borrower_id).where(t.loans.c.loan_id == loan_id)).first()
    if loan is None:
        return fail(not_found(record, f"no such loan {loan_id}", "loan"))
    borrower_id = loan.borrower_id
    live = _live_codes(conn, borrower_id, now)
    if live >= MAX_LIVE_CODES:
        reason = f"borrower {borrower_id} holds {live} unused codes already"
        return fail(Problem(record, "loan", reason, "conflict"))
    code, digest = _fresh_code(conn, secret, random_bytes, now)
    case_id = conn.execute(
        select(cases.c.case_id).where(
            cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None)
        )
    ).scalar()
    valid_until = now + timedelta(minutes=valid_minutes)
    inserted = conn.execute(
        insert(CC).values(
            code_hmac=digest,
            collector_id=collector_id,
            loan_id=loan_id,
            borrower_id=borrower_id,
            case_id=case_id,
            issued_at=to_utc(now),
            valid_until=to_utc(valid_until),
        )
    )
    code_id = _new_id(inserted)
    payload = {
        "code_id": code_id,
        "collector_id": collector_id,
        "loan_id": loan_id,
        "valid_until": valid_until.isoformat(),
    }
    log.append(conn, borrower_id, "collector.code_issued", payload, now)
    return ok(
        IssuedCode(codes.display(code), code_id, collector_id, loan_id, borrower_id, valid_until)
    )


def _live_codes(conn: Connection, borrower_id: str, now: datetime) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(CC)
            .where(
                CC.c.borrower_id == borrower_id,
                CC.c.used_at.is_(None),
                CC.c.valid_until > to_utc(now),
            )
        ).scalar_one()
    )


def _fresh_code(
    conn: Connection, secret: bytes, random_bytes: Callable[[int], bytes], now: datetime
) -> tuple[str, str]:
    """A code whose digest no live code has (else one typed code would match two)."""
    for _ in range(_ISSUE_TRIES):
        code = codes.generate(random_bytes)
        digest = codes.digest(secret, code)
        clash = conn.execute(
            select(CC.c.code_id).where(
                CC.c.code_hmac == digest, CC.c.used_at.is_(None), CC.c.valid_until > to_utc(now)
            )
        ).first()
        if clash is None:
            return code, digest
    raise RuntimeError("the random source keeps repeating itself")  # a bug, not bad input


def borrower_language(conn: Connection, borrower_id: str) -> Language | None:
    """The borrower's language; None when there is no such borrower."""
    row = conn.execute(
        select(t.borrowers.c.borrower_id, borrower_profiles.c.language)
        .select_from(
            t.borrowers.outerjoin(
                borrower_profiles, borrower_profiles.c.borrower_id == t.borrowers.c.borrower_id
            )
        )
        .where(t.borrowers.c.borrower_id == borrower_id)
    ).first()
    return None if row is None else language_of(row.language)


def _gate(conn: Connection, borrower_id: str, now: datetime, limits: GuessLimits) -> Gate:
    # Hold the borrower's row, so that two guesses at once cannot both pass the count.
    conn.execute(
        for_update(
            conn, select(t.borrowers.c.borrower_id).where(t.borrowers.c.borrower_id == borrower_id)
        )
    )
    failures = [
        from_db(at)
        for (at,) in conn.execute(
            select(CA.c.at).where(
                CA.c.borrower_id == borrower_id,
                CA.c.outcome == "refused",
                CA.c.at > to_utc(now - limits.lookback),
            )
        )
    ]
    everyone = conn.execute(
        select(func.count())
        .select_from(CA)
        .where(CA.c.outcome == "refused", CA.c.at > to_utc(now - limits.global_window))
    ).scalar_one()
    return gate(failures, everyone, now, limits)


def _matches(conn: Connection, digest: str) -> list[codes.StoredCode]:
    rows = conn.execute(select(CC).where(CC.c.code_hmac == digest)).all()
    return [
        codes.StoredCode(
            r.code_id,
            r.collector_id,
            r.borrower_id,
            from_db(r.valid_until),
            r.used_at is not None,
            bool(collector_active(conn, r.collector_id)),
        )
        for r in rows
    ]


def collector_card(conn: Connection, collector_id: str) -> CollectorCard | None:
    row = conn.execute(select(collectors).where(collectors.c.collector_id == collector_id)).first()
    if row is None:
        return None
    trained = conn.execute(
        select(func.max(collector_training.c.trained_on)).where(
            collector_training.c.collector_id == collector_id
        )
    ).scalar()
    return CollectorCard(
        row.collector_id, row.name, mask(row.credential_no), row.agency, trained, row.status
    )


def is_assigned(conn: Connection, collector_id: str, borrower_id: str) -> bool:
    """Is the collector the agent on the borrower's open case, or on a visit to them that is
    assigned (and not yet reported or cancelled)?"""
    agent = conn.execute(
        select(cases.c.case_id).where(
            cases.c.borrower_id == borrower_id,
            cases.c.closed_on.is_(None),
            cases.c.assigned_agent == collector_id,
        )
    ).first()
    if agent is not None:
        return True
    teams = conn.execute(
        select(visits.c.collectors).where(
            visits.c.borrower_id == borrower_id, visits.c.status.in_(("assigned", "noticed"))
        )
    )
    return any(collector_id in split_ids(team or "") for (team,) in teams)


def record_incident(
    conn: Connection,
    at: datetime,
    source: str,
    reason: str,
    borrower_id: str | None,
    detail: dict[str, str],
    collector_id: str | None = None,
) -> int:
    """A suspected impostor, for the lender to follow up; on the borrower's chain too."""
    seq = None
    if borrower_id is not None:
        payload = {"source": source, "reason": reason, "collector_id": collector_id}
        payload.update(_evidence_detail(detail))
        seq = log.append(conn, borrower_id, "collector.impostor_suspected", payload, at).seq
    inserted = conn.execute(
        insert(impostor_incidents).values(
            at=to_utc(at),
            borrower_id=borrower_id,
            source=source,
            reason=reason,
            collector_id=collector_id,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
            evidence_seq=seq,
        )
    )
    return _new_id(inserted)


# What an incident's detail may hold that names someone: a number or an account the borrower
# was reached from. The incident row keeps it for the follow-up (and erasure clears it); the
# chain, which outlives erasure, holds its keyed reference.
_NAMING = ("phone", "account")


def _evidence_detail(detail: dict[str, str]) -> dict[str, str]:
    return {
        (f"{k}_ref" if k in _NAMING else k): (recipient_ref(v) if k in _NAMING else v)
        for k, v in detail.items()
    }


def verify_code(
    conn: Connection,
    code_text: str,
    borrower_id: str,
    now: datetime,
    secret: bytes,
    limits: GuessLimits = DEFAULT_LIMITS,
    language: Language | None = None,
) -> Result[CodeVerdict]:
    """Check the code a visitor gave ``borrower_id``. A verdict either way (a refused code is
    an answer, and is recorded); Problems only for an unknown borrower or a malformed code,
    and then nothing is written. The advice is in ``language`` if given (the page the
    borrower reads), else in the borrower's own."""
    own_language = borrower_language(conn, borrower_id)
    if own_language is None:
        return fail(not_found(f"borrower {borrower_id}", "no such borrower", "borrower"))
    language = language or own_language
    code, problems = codes.read(code_text, f"code for borrower {borrower_id}")
    if code is None:
        return fail(*problems)
    allowed = _gate(conn, borrower_id, now, limits)
    if not allowed.allowed:
        outcome = "busy" if allowed.busy else "locked"
        conn.execute(insert(CA).values(borrower_id=borrower_id, at=to_utc(now), outcome=outcome))
        advice = not_verified(language, locked=True)
        return ok(CodeVerdict(False, language, advice=advice, locked_until=allowed.locked_until))
    judgement = codes.judge(_matches(conn, codes.digest(secret, code)), borrower_id, now)
    found = judgement.code
    if found is None:
        return ok(_refused(conn, borrower_id, now, language, judgement))
    conn.execute(
        update(CC)
        .where(CC.c.code_id == found.code_id, CC.c.used_at.is_(None))
        .values(used_at=to_utc(now))
    )
    conn.execute(
        insert(CA).values(
            borrower_id=borrower_id, at=to_utc(now), outcome="verified", code_id=found.code_id
        )
    )
    card = collector_card(conn, found.collector_id)
    assert card is not None  # the code's foreign key
    assigned = is_assigned(conn, found.collector_id, borrower_id)
    payload = {"code_id": found.code_id, "collector_id": found.collector_id, "assigned": assigned}
    log.append(conn, borrower_id, "collector.verified", payload, now)
    return ok(CodeVerdict(True, language, card, assigned, found.valid_until))


def _refused(
    conn: Connection,
    borrower_id: str,
    now: datetime,
    language: Language,
    judgement: codes.Judgement,
) -> CodeVerdict:
    conn.execute(insert(CA).values(borrower_id=borrower_id, at=to_utc(now), outcome="refused"))
    incident = record_incident(
        conn, now, "code", judgement.reason, borrower_id, {}, judgement.collector_id
    )
    return CodeVerdict(False, language, advice=not_verified(language), incident_id=incident)
