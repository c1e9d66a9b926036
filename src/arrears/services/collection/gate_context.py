"""The compliance gate's context for many borrowers at once, read from the database.

``context_for`` is the gate's input besides the history and the proposal: zones, reachability,
vulnerability, the open case's flags, the collector registry, refusals and the live visit.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, tzinfo
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Connection,
    func,
    select,
)

from arrears.core.compliance.model import Contact, Context
from arrears.core.contact.history import is_reachable, refused_numbers
from arrears.services.collection.common import (
    maybe_from_db,
)
from arrears.services.collection.history import last_reached
from arrears.services.debt_disputes import verification_pending
from arrears.services.moratoria import gate_moratoria
from arrears.store.case_tables import (
    cases,
    collector_training,
    collectors,
    contact_attempts,
    visits,
)
from arrears.store.membership import batches, one_of
from arrears.store.profile_tables import borrower_profiles

DEFAULT_ZONE = "Asia/Shanghai"
UNREACHABLE_AFTER_DAYS = 7  # default: the policy can pass its own threshold


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
        q = last_reached(functools.partial(one_of, conn, values=batch))
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
