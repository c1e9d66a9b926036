"""The borrower's evidence pack as a use case: gathered from the database, signed with the
lender's key, written as JSON and as a readable HTML page (``core.evidence.pack``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from markupsafe import Markup
from sqlalchemy import Connection, select

from arrears.core.evidence import pack as evidence_pack
from arrears.core.evidence.chain import format_at
from arrears.core.money import fmt
from arrears.core.problem import Result, fail, not_found, ok
from arrears.core.texts import render_page
from arrears.services import evidence as log
from arrears.services.collection.complaints import list_complaints
from arrears.services.collection.plans import Plan, list_plans
from arrears.services.own_records import own_records
from arrears.services.texts import report_css, report_texts
from arrears.store import tables
from arrears.store.case_tables import complaints as complaints_table


@dataclass(frozen=True, slots=True)
class Pack:
    borrower_id: str
    data: dict[str, Any]  # the signed pack

    @property
    def text(self) -> str:
        """The file's text: indented for a person, checked as parsed JSON."""
        return json.dumps(self.data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    @property
    def records(self) -> int:
        return len(self.data["chain"])


def _loans(conn: Connection, borrower_id: str) -> list[dict[str, Any]]:
    loans, s = tables.loans, tables.loan_state
    rows = conn.execute(
        select(loans.c.loan_id, loans.c.currency, s)
        .select_from(loans.join(s, s.c.loan_id == loans.c.loan_id))
        .where(loans.c.borrower_id == borrower_id)
        .order_by(loans.c.loan_id)
    )
    return [
        {
            "loan_id": r.loan_id,
            "currency": r.currency,
            "as_of": r.as_of.isoformat(),
            "status": r.status,
            "dpd": r.dpd,
            "overdue": {
                "principal": r.overdue_principal,
                "interest": r.overdue_interest,
                "penalty": r.overdue_penalty,
            },
            "outstanding": {
                "principal": r.outstanding_principal,
                "interest": r.outstanding_interest,
                "penalty": r.outstanding_penalty,
            },
        }
        for r in rows
    ]


def _complaints(conn: Connection, borrower_id: str) -> list[dict[str, Any]]:
    texts = dict(
        conn.execute(
            select(complaints_table.c.complaint_id, complaints_table.c.text).where(
                complaints_table.c.borrower_id == borrower_id
            )
        ).all()
    )
    out = []
    for c in list_complaints(conn, borrower_id=borrower_id):
        row = c.as_dict()
        row.pop("already_recorded")
        out.append({**row, "text": texts[c.complaint_id]})
    return out


def _plan_row(plan: Plan) -> dict[str, Any]:
    row = plan.as_dict()
    row.pop("already_recorded")
    return row


def build_pack(
    conn: Connection, borrower_id: str, at: datetime, key: Ed25519PrivateKey, lender: str
) -> Result[Pack]:
    """Everything recorded about ``borrower_id``, signed with the lender's ``key``."""
    lines = list(log.export_chain(conn, borrower_id))
    chain = [line for line in lines if not line.startswith('{"anchor"')]
    if not chain:
        return fail(not_found(f"borrower {borrower_id}", "no evidence recorded", "borrower_id"))
    anchor = next((line for line in lines if line.startswith('{"anchor"')), None)
    records = [json.loads(line) for line in chain]
    own = []
    for r in own_records(conn, borrower_id):
        row = r.as_dict()
        row.pop("already_recorded")
        own.append(row)
    body = {
        "format": evidence_pack.FORMAT,
        "borrower_id": borrower_id,
        "lender": lender,
        "created_at": format_at(at),
        "chain": chain,
        "anchor": anchor,
        "contacts": evidence_pack.contact_rows(records),
        "loans": _loans(conn, borrower_id),
        "complaints": _complaints(conn, borrower_id),
        "own_records": own,
        "plans": [_plan_row(p) for p in list_plans(conn, borrower_id=borrower_id)],
    }
    return ok(Pack(borrower_id, evidence_pack.sign(body, key)))


def _money(fen: int) -> str:
    return fmt(fen)


def render_pack_html(pack: Pack, language: str) -> str:
    """The pack as one readable page in ``language`` (zh-CN or en); the JSON is the evidence."""
    data = pack.data
    records = [json.loads(line) for line in data["chain"]]
    check = evidence_pack.check_pack(pack.text)
    return render_page(
        report_texts(),
        language,
        "evidence_pack",
        {
            "p": data,
            "records": records,
            "intact": check.intact,
            "money": _money,
            "css": Markup(report_css()),
        },
    )
