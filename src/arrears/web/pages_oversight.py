"""The dashboards and the compliance view: read-only pages.

The dashboards are the ``arrears dashboard`` report's own figures and charts
(``services.dashboards``), each chart beside a table of the same figures. The compliance view
shows the contacts the gate blocked with their rules (the ``contact.blocked`` evidence
records), complaints and their deadlines, the evidence chains' last root and a verification
on request, and the log of personal data shown to staff. Nothing here changes a record.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from arrears.api.deps import now
from arrears.services import evidence
from arrears.services.collection import console
from arrears.services.collection.complaints import complaint_counts, list_complaints
from arrears.services.collection.gate_context import DEFAULT_ZONE
from arrears.services.dashboards import dashboard, dashboard_charts, dashboard_data
from arrears.services.pii_audit import count_reads, list_reads
from arrears.web.pages import Visitor, config_of, page, staff_page
from arrears.web.pages_console import clock

router = APIRouter(include_in_schema=False)

Overseers = Annotated[Visitor, staff_page("supervisor", "admin", "compliance")]
Compliance = Annotated[Visitor, staff_page("compliance", "admin", "supervisor")]
Auditors = Annotated[Visitor, staff_page("compliance", "admin")]

# Staff read times by the lender's clock (its home zone, the gate's default).
LENDER_CLOCK = clock({}, ZoneInfo(DEFAULT_ZONE))
SHOWN = 200  # rows of a long list a page shows (newest first)


@router.get("/dashboards")
def dashboards_page(request: Request, me: Overseers) -> Response:
    with config_of(request).engine.connect() as db:
        d = dashboard(db)
        counts = complaint_counts(db)
    language = me.language if me.language in ("zh-CN", "en") else "zh-CN"
    context = {
        "d": dashboard_data(d),
        "charts": dashboard_charts(d, language),
        "counts": counts,
    }
    return page(request, me, "dashboards", context)


@router.get("/compliance")
def compliance_page(request: Request, me: Compliance) -> Response:
    with config_of(request).engine.connect() as db:
        today = now().date()
        context = {
            "blocked": console.blocked_contacts(db, limit=SHOWN),
            "blocked_total": console.blocked_count(db),
            "complaints": [c for c in list_complaints(db) if c.status == "open"],
            "today": today,
            "root": evidence.get_root(db),
            "reads": list_reads(db, latest=20),
            "local": LENDER_CLOCK,
            "may_audit": me.role in ("compliance", "admin"),
        }
    return page(request, me, "compliance", context)


@router.get("/compliance/evidence")
def evidence_page(request: Request, me: Compliance) -> Response:
    """The chains verified now against the last root: a read, however long it takes."""
    with config_of(request).engine.connect() as db:
        report = evidence.verify_report(db)
    return page(request, me, "compliance_evidence", {"report": report})


@router.get("/compliance/reads")
def reads_page(
    request: Request,
    me: Auditors,
    username: Annotated[str, Query(max_length=64)] = "",
    borrower: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Every time staff were shown a number or an address unmasked, newest first."""
    with config_of(request).engine.connect() as db:
        whose, by = borrower or None, username or None
        reads = list_reads(db, latest=SHOWN, borrower_id=whose, username=by)
        total = count_reads(db, borrower_id=whose, username=by)
    context = {
        "reads": reads,
        "total": total,
        "username": username,
        "borrower": borrower,
        "local": LENDER_CLOCK,
    }
    return page(request, me, "compliance_reads", context)
