"""The Regulation F validation notice, planned by the close and recorded when it is enqueued.

12 CFR 1006.34: a debt collector sends the consumer a validation notice in the initial
communication or within five days after it, stating the itemisation date, the itemised
amounts and the end of the validation period. The close plans one (template
``validation_notice``) for every active loan of a borrower under the ``us-reg-f`` pack that
has had a communication (a contact attempt on record) and has no notice yet; the gate checks
it like any message; when the gate phase enqueues it, :func:`record_enqueued` writes the
``validation_notices`` row and a ``regf.validation_notice`` evidence record in the same
transaction. A notice enqueued later than five days after the first communication is
recorded with ``late`` true in its evidence, not dated back.

The day it is enqueued is taken as the day it is sent (the validation period runs from
there); a notice the outbox then lets expire undelivered is not yet noticed here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select

from arrears.core.compliance.model import Channel
from arrears.core.compliance.validation import (
    ValidationFacts,
    itemize,
    send_by,
    validation_end,
)
from arrears.core.contact.action import PlannedAction
from arrears.core.ledger.journal import receivable
from arrears.core.loans.product import Component
from arrears.services import evidence as log
from arrears.store import tables
from arrears.store.case_tables import contact_attempts
from arrears.store.hold_tables import validation_notices
from arrears.store.membership import one_of
from arrears.store.profile_tables import borrower_profiles

TEMPLATE = STEP = "validation_notice"
POLICY = "reg-f"
PACK = "us-reg-f"
EVIDENCE_KIND = "regf.validation_notice"


def _candidates(conn: Connection, default_pack: str) -> dict[str, tuple[str, date, Channel]]:
    """loan id -> (borrower, first communication, channel) for the loans that need a notice."""
    ls, loans, p, ca, vn = (
        tables.loan_state,
        tables.loans,
        borrower_profiles,
        contact_attempts,
        validation_notices,
    )
    pack = func.coalesce(p.c.rule_pack, default_pack)
    # Only US borrowers' attempts are grouped: a book without any costs one empty probe.
    us: ColumnElement[bool] = ca.c.borrower_id.in_(
        select(p.c.borrower_id).where(p.c.rule_pack == PACK)
    )
    if default_pack == PACK:  # borrowers without a profile fall under the default pack
        us = or_(us, ~ca.c.borrower_id.in_(select(p.c.borrower_id)))
    first = (
        select(ca.c.debt_id, func.min(ca.c.on_date).label("first_on"))
        .where(ca.c.party == "debtor", us)
        .group_by(ca.c.debt_id)
        .subquery()
    )
    q = (
        select(loans.c.loan_id, loans.c.borrower_id, first.c.first_on, p.c.address, p.c.email)
        .join(ls, ls.c.loan_id == loans.c.loan_id)
        .join(first, first.c.debt_id == loans.c.loan_id)
        .outerjoin(p, p.c.borrower_id == loans.c.borrower_id)
        .outerjoin(vn, vn.c.loan_id == loans.c.loan_id)
        .where(ls.c.status == "active", vn.c.loan_id.is_(None), pack == PACK)
    )
    out: dict[str, tuple[str, date, Channel]] = {}
    for loan_id, borrower_id, first_on, address, email in conn.execute(q).all():
        # A letter where there is an address, else an email (§1006.42), else a text.
        channel: Channel = "letter" if address else "email" if email else "sms"
        out[loan_id] = (borrower_id, first_on, channel)
    return out


def _movements(conn: Connection, loan_ids: Sequence[str]) -> dict[str, list[tuple[str, date, int]]]:
    """Each loan's receivable movements (entry kind, effective date, amount)."""
    je, po = tables.journal_entries, tables.postings
    q = (
        select(je.c.loan_id, je.c.kind, je.c.effective_on, po.c.account, po.c.amount)
        .join(po, po.c.entry_id == je.c.entry_id)
        .where(one_of(conn, je.c.loan_id, loan_ids))
    )
    out: dict[str, list[tuple[str, date, int]]] = defaultdict(list)
    for loan_id, kind, on, account, amount in conn.execute(q).all():
        if account in _receivables(loan_id):
            out[loan_id].append((kind, on, int(amount)))
    return out


def _receivables(loan_id: str) -> frozenset[str]:
    return frozenset(receivable(loan_id, c) for c in Component)


def due_notices(
    conn: Connection, day: date, default_pack: str, local_time: time = time(10, 0)
) -> tuple[list[PlannedAction], dict[str, ValidationFacts]]:
    """Today's validation notices and the figures each states, by loan."""
    found = _candidates(conn, default_pack)
    if not found:
        return [], {}
    ids = sorted(found)
    moves = _movements(conn, ids)
    ls, loans = tables.loan_state, tables.loans
    facts_q = (
        select(loans.c.loan_id, loans.c.disbursed_on, ls.c.penalty_unposted)
        .join(ls, ls.c.loan_id == loans.c.loan_id)
        .where(one_of(conn, loans.c.loan_id, ids))
    )
    actions: list[PlannedAction] = []
    facts: dict[str, ValidationFacts] = {}
    for loan_id, disbursed_on, unposted in conn.execute(facts_q).all():
        borrower_id, _, channel = found[loan_id]
        itemization = itemize(moves.get(loan_id, ()), disbursed_on, int(unposted))
        facts[loan_id] = ValidationFacts(itemization, validation_end(day))
        actions.append(
            PlannedAction(
                borrower_id, loan_id, day, POLICY, STEP, channel, "debtor", TEMPLATE, local_time
            )
        )
    return sorted(actions, key=lambda a: a.loan_id), facts


def record_enqueued(
    conn: Connection,
    outbox_rows: Sequence[Mapping[str, Any]],
    facts: Mapping[str, ValidationFacts],
    day: date,
    now: datetime,
) -> int:
    """Record the validation notices among ``outbox_rows`` (just enqueued); how many."""
    sent = [r for r in outbox_rows if r["template"] == TEMPLATE and r["loan_id"] in facts]
    if not sent:
        return 0
    ids = [str(r["loan_id"]) for r in sent]
    ca = contact_attempts
    firsts = dict(
        conn.execute(
            select(ca.c.debt_id, func.min(ca.c.on_date))
            .where(one_of(conn, ca.c.debt_id, ids), ca.c.party == "debtor")
            .group_by(ca.c.debt_id)
        ).all()
    )
    rows = []
    for r in sent:
        f = facts[str(r["loan_id"])]
        i = f.itemization
        first = firsts.get(r["loan_id"], day)
        rows.append(
            {
                "loan_id": r["loan_id"],
                "borrower_id": r["borrower_id"],
                "message_key": r["message_key"],
                "first_communication": first,
                "enqueued_on": day,
                "itemization_date": i.itemization_date,
                "amount_on_itemization": i.amount_on_itemization,
                "interest_since": i.interest_since,
                "fees_since": i.fees_since,
                "payments_since": i.payments_since,
                "credits_since": i.credits_since,
                "current_amount": i.current_amount,
                "validation_end": f.validation_end,
                "recorded_at": now,
            }
        )
        payload = {
            k: v.isoformat() if isinstance(v, date) else v
            for k, v in rows[-1].items()
            if k not in ("recorded_at", "borrower_id")
        }
        payload["late"] = day > send_by(first)  # §1006.34(a)(1): within 5 days of the first
        log.append(conn, str(r["borrower_id"]), EVIDENCE_KIND, payload, now)
    conn.execute(insert(validation_notices), rows)
    return len(rows)


def validation_ends(conn: Connection, loan_ids: Sequence[str]) -> dict[str, date]:
    vn = validation_notices
    q = select(vn.c.loan_id, vn.c.validation_end).where(one_of(conn, vn.c.loan_id, loan_ids))
    return {loan_id: end for loan_id, end in conn.execute(q).all()}
