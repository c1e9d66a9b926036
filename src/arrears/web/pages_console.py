"""The collection console: the agent's queue and the call they hold (the borrower at a glance,
the script in the borrower's language, what the compliance gate allows now, the outcome form),
the case page, search, field visits and the supervisors' approvals.

Each page calls the service functions the staff API routes and the CLI call. An agent sees
only their own calls and cases (anything else is a 404 page); a field collector only their
visits; compliance reads and is shown no form that changes anything (and a form posted anyway
is refused: the routes that change things do not admit the role). Phone numbers are masked
except for the agent holding the call, and each number or address shown is on the PII log.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Connection

from arrears.api.deps import business_date, now, own_loan_ids
from arrears.core.contact.outcomes import Outcome
from arrears.core.money import MoneyError, parse_amount
from arrears.core.people.masking import mask_address, mask_phone
from arrears.core.problem import Problem
from arrears.services.collection import console
from arrears.services.collection.case_file import case_file
from arrears.services.collection.complaints import list_complaints
from arrears.services.collection.gate_context import DEFAULT_ZONE
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.plans import decide_plan, list_plans
from arrears.services.collection.queue import get_item, list_queue, next_item
from arrears.services.collection.visits import (
    VISIT_OUTCOMES,
    Visit,
    approve_visit,
    assign_visit,
    get_visit,
    list_visits,
    report_visit,
)
from arrears.services.credit import borrower_credit_view
from arrears.services.pii_audit import record_reads
from arrears.services.restructuring import default_rules as restructuring_rules
from arrears.services.restructuring import list_restructures, restructure
from arrears.web.pages import (
    PageRefused,
    Visitor,
    checked_form,
    config_of,
    money_in,
    page,
    staff_page,
)
from arrears.web.render import render_page

router = APIRouter(include_in_schema=False)

# Who may look (compliance reads everything) and who may change (the API's Agents, Deciders).
Readers = Annotated[Visitor, staff_page("agent", "supervisor", "admin", "compliance")]
Callers = Annotated[Visitor, staff_page("agent", "supervisor")]
Deciders = Annotated[Visitor, staff_page("supervisor", "admin")]
VisitReaders = Annotated[
    Visitor, staff_page("supervisor", "admin", "compliance", "field_collector")
]
FieldCollectors = Annotated[Visitor, staff_page("field_collector")]
ApprovalReaders = Annotated[Visitor, staff_page("supervisor", "admin", "compliance")]

OUTCOMES = tuple(o.value for o in Outcome)
WHOLE_QUEUE = 100  # rows of the whole queue a supervisor's page shows


def _me(visitor: Visitor) -> str:
    assert visitor.session is not None
    return visitor.session.subject


def _not_found() -> PageRefused:
    return PageRefused(404, "not_found")


def _shown(
    db: Connection, visitor: Visitor, route: str, borrower_ids: list[str], fields: list[str]
) -> None:
    assert visitor.session is not None
    record_reads(
        db,
        username=visitor.session.subject,
        role=visitor.role,
        route=route,
        borrower_ids=borrower_ids,
        fields=fields,
        at=now(),
    )


def clock(home: Mapping[str, tzinfo], default: tzinfo) -> Callable[..., str]:
    """``local(at, borrower_id="", seconds=False)`` for templates: an instant as the borrower's
    home clock shows it (``home``; else the first borrower's; else ``default``)."""

    def local(at: datetime | None, borrower_id: str = "", seconds: bool = False) -> str:
        if at is None:
            return ""
        zone = home.get(borrower_id) or next(iter(home.values()), default)
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    return local


def _clock_of(db: Connection, borrower_ids: list[str]) -> Callable[..., str]:
    zones = {b: console.home_zone(db, b) for b in sorted(set(borrower_ids))}
    return clock(zones, ZoneInfo(DEFAULT_ZONE))


def _problem_field(problems: tuple[Problem, ...] | list[Problem]) -> str:
    return problems[0].field if problems else ""


# ---------------------------------------------------------------------------------------------
# The queue and the call


@router.get("/console")
def queue_page(request: Request, me: Readers, done: int | None = None, none: int = 0) -> Response:
    """The agent's calls held and cases assigned; the supervisor's whole open queue."""
    with config_of(request).engine.connect() as db:
        if me.role == "agent":
            items = list_queue(db, agent=_me(me))
            assigned = console.assigned_cases(db, _me(me))
        else:
            items = list_queue(db)[:WHOLE_QUEUE]
            assigned = []
    context = {
        "items": items,
        "assigned": assigned,
        "masked": {i.item_id: mask_phone(i.number) for i in items},
        "done": done,
        "nothing_due": bool(none),
        "may_call": me.role in ("agent", "supervisor"),
    }
    return page(request, me, "console_queue", context)


@router.post("/console/next")
async def take_next(request: Request, me: Callers) -> Response:
    await checked_form(request, me)
    with config_of(request).engine.begin() as db:
        item = next_item(db, _me(me), now())
    if item is None:
        return RedirectResponse("/console?none=1", status_code=303)
    return RedirectResponse(f"/console/calls/{item.item_id}", status_code=303)


def _held(db: Connection, me: Visitor, item_id: int) -> Any:
    item = get_item(db, item_id)
    if item is None or item.claimed_by != _me(me):
        raise _not_found()
    return item


def _call_context(
    db: Connection, request: Request, me: Visitor, item: Any, errors: Mapping[str, str]
) -> dict[str, Any]:
    config = config_of(request)
    b = item.borrower_id
    borrower = console.borrower_row(db, b)
    language = console.language_of(db, b)
    books = console.borrower_books(db, b)
    case = console.open_case(db, b)
    overdue = sum(
        x.state.overdue_principal + x.state.overdue_interest + x.state.overdue_penalty
        for x in books
        if x.state is not None
    )
    currency = books[0].currency if books else "CNY"
    at = now()
    decision = console.call_gate(db, item, at, dict(config.close.settings))
    lender = config.lender
    script = render_page(
        "_call_script",
        language,
        {
            "script": item.script,
            "party": item.party,
            "name": borrower.name if borrower is not None else "",
            "amount": money_in(language)(overdue, currency),
            "dpd": item.dpd,
            "lender_name": lender.name.get(language),
            "hotline": lender.hotline,
        },
    )
    files = case_file(db, b)[0]
    promises = files.promises if files is not None else ()
    return {
        "item": item,
        "borrower": borrower,
        "borrower_language": language,
        "books": books,
        "case": case,
        "overdue": overdue,
        "currency": currency,
        "decision": decision,
        "script": Markup(script),
        "promises": promises,
        "outcomes": OUTCOMES,
        "errors": errors,
        "form": {},
        "today": at.date().isoformat(),
    }


@router.get("/console/calls/{item_id}")
def call_page(request: Request, me: Callers, item_id: int) -> Response:
    """The call the agent holds: the number in clear (on the PII log), the script, the gate."""
    with config_of(request).engine.begin() as db:
        item = _held(db, me, item_id)
        context = _call_context(db, request, me, item, {})
        if item.done_at is None:
            _shown(db, me, f"GET /console/calls/{item_id}", [item.borrower_id], ["number"])
    return page(request, me, "console_call", context)


def _promise(form: Mapping[str, str]) -> tuple[tuple[date, int] | None, dict[str, str]]:
    """The promise on the form (outcome promise_to_pay), or what is wrong with it, by field."""
    errors: dict[str, str] = {}
    amount_text = form.get("promise_amount", "").strip()
    date_text = form.get("promise_date", "").strip()
    amount = day = None
    try:
        amount = parse_amount(amount_text)
        if amount <= 0:
            errors["promise_amount"] = "positive"
    except MoneyError:
        errors["promise_amount"] = "amount"
    try:
        day = date.fromisoformat(date_text)
    except ValueError:
        errors["promise_date"] = "date"
    if day is not None and day < now().date():
        errors["promise_date"] = "past"
    if errors or amount is None or day is None:
        return None, errors
    return (day, amount), {}


@router.post("/console/calls/{item_id}/outcome")
async def call_outcome(request: Request, me: Callers, item_id: int) -> Response:
    form = await checked_form(request, me)
    outcome = form.get("outcome", "")
    errors: dict[str, str] = {}
    promise = None
    if outcome not in OUTCOMES:
        errors["outcome"] = "choose"
    elif outcome == Outcome.PROMISE_TO_PAY.value:
        promise, errors = _promise(form)
    engine = config_of(request).engine
    if not errors:
        with engine.begin() as db:
            _held(db, me, item_id)
            done, problems = record_outcome(
                db, outcome=outcome, at=now(), item_id=item_id, agent=_me(me), promise=promise
            )
            if done is not None:
                return RedirectResponse(f"/console?done={item_id}", status_code=303)
            db.rollback()
        errors = {_problem_field(problems) or "outcome": "refused"}
    with engine.connect() as db:
        item = _held(db, me, item_id)
        context = _call_context(db, request, me, item, errors)
    context["form"] = dict(form)
    return page(request, me, "console_call", context, status=422)


# ---------------------------------------------------------------------------------------------
# The case page and search


def _may_open(db: Connection, me: Visitor, borrower_id: str) -> bool:
    if me.role != "agent":
        return console.borrower_row(db, borrower_id) is not None
    return console.agent_may_open(db, _me(me), borrower_id)


def _case_context(db: Connection, me: Visitor, borrower_id: str) -> dict[str, Any]:
    if not _may_open(db, me, borrower_id):
        raise _not_found()
    files, _ = case_file(db, borrower_id)
    day = business_date(db, own_loan_ids(db, borrower_id))
    credit = borrower_credit_view(db, borrower_id, day)[0] if day else None
    return {
        "borrower": console.borrower_row(db, borrower_id),
        "case": console.open_case(db, borrower_id),
        "files": files,
        "books": console.borrower_books(db, borrower_id),
        "plans": list_plans(db, borrower_id=borrower_id),
        "complaints": list_complaints(db, borrower_id=borrower_id),
        "restructures": [
            r for lid in own_loan_ids(db, borrower_id) for r in list_restructures(db, lid)
        ],
        "credit": credit,
        "as_of": day,
        "mask": mask_phone,
        "local": _clock_of(db, [borrower_id]),
        "may_restructure": me.role in ("supervisor", "admin"),
        "reasons": restructuring_rules().reasons,
        "form_key": secrets.token_hex(8),
        "errors": {},
        "form": {},
        "done": "",
    }


@router.get("/console/cases/{borrower_id}")
def case_page(request: Request, me: Readers, borrower_id: str, done: str = "") -> Response:
    """Schedule, ledger, contact history, promises, plans, complaints and the credit record;
    a supervisor may restructure a loan here."""
    with config_of(request).engine.connect() as db:
        context = _case_context(db, me, borrower_id)
    context["done"] = done
    return page(request, me, "console_case", context)


def _fen(text: str) -> int | None:
    try:
        return parse_amount(text.strip() or "0")
    except MoneyError:
        return None


@router.post("/console/loans/{loan_id}/restructure")
async def restructure_loan(request: Request, me: Deciders, loan_id: str) -> Response:
    """A supervisor restructures a loan (``services.restructuring``): new months and rate,
    interest and penalty waived; the same form sent twice applies once (its key)."""
    form = await checked_form(request, me)
    errors: dict[str, str] = {}
    months = form.get("months", "").strip()
    if not months.isdigit():
        errors["months"] = "months"
    waive_interest, waive_penalty = (
        _fen(form.get("waive_interest", "")),
        _fen(form.get("waive_penalty", "")),
    )
    if waive_interest is None:
        errors["waive_interest"] = "amount"
    if waive_penalty is None:
        errors["waive_penalty"] = "amount"
    engine = config_of(request).engine
    with engine.connect() as db:
        owner = console.loan_owner(db, loan_id)
        if owner is None or not _may_open(db, me, owner):
            raise _not_found()
    if not errors and waive_interest is not None and waive_penalty is not None:
        with engine.begin() as db:
            done, problems = restructure(
                db,
                key=f"web/{form.get('key', '')[:64]}",
                loan_id=loan_id,
                approved_by=_me(me),
                reason=form.get("reason", ""),
                at=now(),
                months=int(months),
                rate=form.get("rate", "").strip() or None,
                waive_interest=waive_interest,
                waive_penalty=waive_penalty,
                note=form.get("note", "")[:2000],
            )
            if done is not None:
                return RedirectResponse(
                    f"/console/cases/{owner}?done=restructured", status_code=303
                )
            db.rollback()
        errors = {p.field: p.reason for p in problems} or {"loan_id": "refused"}
    with engine.connect() as db:
        context = _case_context(db, me, owner)
    context.update(errors=errors, form={**form, "loan_id": loan_id})
    return page(request, me, "console_case", context, status=422)


@router.get("/console/search")
def search_page(
    request: Request, me: Readers, q: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    """By borrower id, loan id or the last digits of a phone number; an agent finds only
    their own cases."""
    with config_of(request).engine.connect() as db:
        found = console.search(db, q)
        if me.role == "agent":
            found = [f for f in found if console.agent_may_open(db, _me(me), f.borrower_id)]
    context = {"q": q, "found": found, "mask": mask_phone}
    return page(request, me, "console_search", context)


# ---------------------------------------------------------------------------------------------
# Field visits


def _visible(me: Visitor, v: Visit) -> bool:
    return me.role != "field_collector" or _me(me) in v.collectors


def _goes(me: Visitor) -> bool:
    """The address is for those who go (the field collector) and the supervisor who sends."""
    return me.role in ("field_collector", "supervisor")


@router.get("/console/visits")
def visits_board(request: Request, me: VisitReaders) -> Response:
    with config_of(request).engine.connect() as db:
        found = [v for v in list_visits(db) if _visible(me, v)]
        local = _clock_of(db, [v.borrower_id for v in found])
    columns = ("requested", "approved", "assigned", "noticed", "reported", "cancelled")
    board = {s: [v for v in found if v.status == s] for s in columns}
    context = {"board": board, "columns": columns, "local": local}
    return page(request, me, "console_visits", context)


def _visit_context(
    db: Connection, me: Visitor, visit_id: int, errors: Mapping[str, str]
) -> dict[str, Any]:
    v = get_visit(db, visit_id)
    if v is None or not _visible(me, v):
        raise _not_found()
    address = v.address or ""
    if address and _goes(me):
        _shown(db, me, f"GET /console/visits/{visit_id}", [v.borrower_id], ["address"])
    elif address:
        address = mask_address(address)
    return {
        "v": v,
        "address": address,
        "outcomes": VISIT_OUTCOMES,
        "errors": errors,
        "may_assign": me.role in ("supervisor", "admin") and v.status == "approved",
        "may_approve": me.role in ("supervisor", "admin") and v.status == "requested",
        "may_report": me.role == "field_collector" and v.status == "noticed",
        "form": {},
        "local": _clock_of(db, [v.borrower_id]),
    }


@router.get("/console/visits/{visit_id}")
def visit_page(request: Request, me: VisitReaders, visit_id: int) -> Response:
    with config_of(request).engine.begin() as db:
        context = _visit_context(db, me, visit_id, {})
    return page(request, me, "console_visit", context)


def _visit_refused(
    request: Request, me: Visitor, visit_id: int, errors: dict[str, str], form: Mapping[str, str]
) -> Response:
    with config_of(request).engine.begin() as db:
        context = _visit_context(db, me, visit_id, errors)
    context["form"] = dict(form)
    return page(request, me, "console_visit", context, status=422)


@router.post("/console/visits/{visit_id}/approve")
async def visit_approve(request: Request, me: Deciders, visit_id: int) -> Response:
    await checked_form(request, me)
    with config_of(request).engine.begin() as db:
        done, problems = approve_visit(db, visit_id, _me(me), now())
        if done is None:
            db.rollback()
    if done is None:
        return _visit_refused(request, me, visit_id, {"approve": problems[0].reason}, {})
    return RedirectResponse(f"/console/visits/{visit_id}", status_code=303)


def _local(text: str, zone: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


@router.post("/console/visits/{visit_id}/assign")
async def visit_assign(request: Request, me: Deciders, visit_id: int) -> Response:
    """Two collectors and a window, in the borrower's home time; checked by the gate."""
    form = await checked_form(request, me)
    errors: dict[str, str] = {}
    collectors = tuple(
        c for c in (form.get("first", "").strip(), form.get("second", "").strip()) if c
    )
    if len(collectors) < 2 or collectors[0] == collectors[1]:
        errors["second"] = "two"
    engine = config_of(request).engine
    with engine.connect() as db:
        v = get_visit(db, visit_id)
        if v is None:
            raise _not_found()
        zone = console.home_zone(db, v.borrower_id)
    start = _local(form.get("start", ""), zone)
    end = _local(form.get("end", ""), zone)
    if start is None:
        errors["start"] = "time"
    if end is None or (start is not None and end <= start):
        errors["end"] = "after"
    if errors or start is None or end is None:
        return _visit_refused(request, me, visit_id, errors, form)
    with engine.begin() as db:
        done, problems = assign_visit(db, visit_id, collectors, start, end, now())
        if done is None:
            db.rollback()
    if done is None:
        return _visit_refused(request, me, visit_id, {"assign": problems[0].reason}, form)
    return RedirectResponse(f"/console/visits/{visit_id}", status_code=303)


@router.post("/console/visits/{visit_id}/report")
async def visit_report(request: Request, me: FieldCollectors, visit_id: int) -> Response:
    form = await checked_form(request, me)
    outcome, report = form.get("outcome", ""), form.get("report", "").strip()
    errors: dict[str, str] = {}
    if outcome not in VISIT_OUTCOMES:
        errors["outcome"] = "choose"
    if not report:
        errors["report"] = "empty"
    engine = config_of(request).engine
    with engine.connect() as db:
        v = get_visit(db, visit_id)
        if v is None or not _visible(me, v):
            raise _not_found()
    if not errors:
        with engine.begin() as db:
            done, problems = report_visit(db, visit_id, now(), report, outcome)
            if done is None:
                db.rollback()
        if done is not None:
            return RedirectResponse(f"/console/visits/{visit_id}", status_code=303)
        errors = {"report_refused": problems[0].reason}
    return _visit_refused(request, me, visit_id, errors, form)


# ---------------------------------------------------------------------------------------------
# Approvals


@router.get("/console/approvals")
def approvals_page(request: Request, me: ApprovalReaders, decided: str = "") -> Response:
    """Plans waiting for a decision, visits waiting for approval, restructurings recorded."""
    with config_of(request).engine.connect() as db:
        context = {
            "plans": list_plans(db, status="pending"),
            "visits": [v for v in list_visits(db) if v.status == "requested"],
            "restructures": list_restructures(db)[-20:],
            "may_decide": me.role in ("supervisor", "admin"),
            "decided": decided,
            "error": "",
        }
    return page(request, me, "console_approvals", context)


@router.post("/console/plans/{plan_id}/decision")
async def plan_decision(request: Request, me: Deciders, plan_id: int) -> Response:
    form = await checked_form(request, me)
    decision = form.get("decision", "")
    if decision not in ("approve", "reject"):
        raise PageRefused(422, "decision")
    with config_of(request).engine.begin() as db:
        done, problems = decide_plan(
            db, plan_id, decision=decision, by=_me(me), at=now(), note=form.get("note", "")[:2000]
        )
        if done is None:
            db.rollback()
    if done is None:
        with config_of(request).engine.connect() as db:
            context = {
                "plans": list_plans(db, status="pending"),
                "visits": [v for v in list_visits(db) if v.status == "requested"],
                "restructures": list_restructures(db)[-20:],
                "may_decide": True,
                "decided": "",
                "error": problems[0].reason if problems else "",
            }
        return page(request, me, "console_approvals", context, status=422)
    return RedirectResponse(f"/console/approvals?decided=plan-{plan_id}", status_code=303)
