"""Prove that every recorded contact was allowed: the gate replayed over the history, from scratch.

For each borrower, every contact attempt on record is checked, in time order, against the
history before it and the context as it stood then, under the borrower's rule pack. The
context is rebuilt only from what is on record with a time: the profile (zones, vulnerable),
the case open on the day, the last conversation before the contact, refusals before it, the
collector registry and, for a visit, its approval and notice. Flags kept without a history
(hardship, dispute, a plan) are taken as not set; that is what an auditor can check.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Connection, select

from arrears.core.compliance import Contact, Context, Violation, check
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.history import is_reachable, refused_numbers
from arrears.services.collection.common import maybe_from_db
from arrears.services.collection.gate_context import (
    UNREACHABLE_AFTER_DAYS,
    collector_registry,
    zones,
)
from arrears.services.collection.history import contact_from_row
from arrears.store.case_tables import cases, contact_attempts, visits
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles


@dataclass(frozen=True)
class Finding:
    borrower_id: str
    attempt_key: str
    at: str  # ISO 8601
    channel: str | None
    party: str
    violations: tuple[Violation, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "borrower_id": self.borrower_id,
            "attempt_key": self.attempt_key,
            "at": self.at,
            "channel": self.channel,
            "party": self.party,
            "violations": [v.as_dict() for v in self.violations],
        }


@dataclass(frozen=True)
class Audit:
    borrowers: int
    contacts: int
    findings: tuple[Finding, ...]


def _case_open_on(spans: Sequence[tuple[date, date | None]], on: date) -> date | None:
    """The opening date of the case open on ``on`` (the latest one opened by then)."""
    open_ = [a for a, b in spans if a <= on and (b is None or b >= on)]
    return max(open_) if open_ else None


def audit(
    conn: Connection,
    borrower_ids: Iterable[str] | None = None,
    default_pack: str = "cn",
    unreachable_after_days: int = UNREACHABLE_AFTER_DAYS,
) -> Audit:
    attempts = contact_attempts
    q = select(attempts).order_by(attempts.c.borrower_id, attempts.c.at, attempts.c.attempt_id)
    wanted = None if borrower_ids is None else sorted(set(borrower_ids))
    if wanted is not None:
        q = q.where(attempts.c.borrower_id.in_(wanted))
    rows = conn.execute(q).all()
    ids = sorted({r.borrower_id for r in rows})
    profiles = {
        r.borrower_id: r
        for r in conn.execute(
            select(borrower_profiles).where(borrower_profiles.c.borrower_id.in_(ids))
        )
    }
    spans: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for r in conn.execute(select(cases).where(cases.c.borrower_id.in_(ids))):
        spans[r.borrower_id].append((r.opened_on, r.closed_on))
    planned_visits = {
        (r.borrower_id, maybe_from_db(r.window_start)): r
        for r in conn.execute(select(visits).where(visits.c.borrower_id.in_(ids)))
    }
    # The history keeps a message's SHA-256, not its words; the words are in the outbox, and
    # the content rules (threats, disclosure, opt-out wording) need them.
    bodies = dict(
        conn.execute(
            select(outbox.c.message_key, outbox.c.body).where(outbox.c.borrower_id.in_(ids))
        ).all()
    )
    registry = collector_registry(conn)
    by_borrower = defaultdict(list)
    for r in rows:
        contact = contact_from_row(r)
        if r.key in bodies:
            contact = replace(contact, content=bodies[r.key])
        by_borrower[r.borrower_id].append((r, contact))
    findings: list[Finding] = []
    for b, items in by_borrower.items():
        prof = profiles.get(b)
        tz = zones(prof.timezones if prof is not None else "Asia/Shanghai")
        pack = get_pack(prof.rule_pack if prof is not None else default_pack)
        assert pack is not None, b
        history: list[Contact] = []
        last_talk: date | None = None
        for row, contact in items:
            on = contact.at.astimezone(tz[0]).date()
            visit = planned_visits.get((b, contact.at)) if contact.channel == "visit" else None
            ctx = Context(
                timezones=tz,
                reachable=is_reachable(
                    last_talk, _case_open_on(spans[b], on), on, unreachable_after_days
                ),
                vulnerable=bool(prof.vulnerable) if prof is not None else False,
                collectors=registry,
                visit_approved=visit is not None and visit.approved_by is not None,
                visit_notice_at=maybe_from_db(visit.notice_sent_at) if visit is not None else None,
                refused=refused_numbers(history),
            )
            decision = check(history, contact, ctx, pack)
            if not decision.allowed:
                findings.append(
                    Finding(
                        b,
                        row.key,
                        contact.at.isoformat(),
                        contact.channel,
                        contact.party,
                        decision.violations,
                    )
                )
            history.append(contact)
            if contact.party == "debtor" and contact.conversation:
                last_talk = on
    return Audit(len(by_borrower), len(rows), tuple(findings))
