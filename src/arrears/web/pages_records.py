"""My contact record and my complaints: the evidence chain about me (every contact, visit,
plan and complaint, hash-chained), whether it verifies, its signed export, my own notes; the
complaints I filed and the form to file one.

The same services as the API's ``/me/records``, ``/me/evidence`` and ``/me/complaints``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arrears.api.deps import now
from arrears.services import evidence as log
from arrears.services.collection.borrower_contact import reach_lender
from arrears.services.collection.complaints import AGAINST, file_complaint, list_complaints
from arrears.services.collection.evidence_pack import build_pack, render_pack_html
from arrears.services.own_records import CHANNELS, OwnRecord, add_note, own_records
from arrears.web.pages import Borrower, PageRefused, Visitor, checked_form, config_of, page
from arrears.web.portal import (
    FieldError,
    attempt_key,
    borrower_zone,
    form_value,
    from_problems,
    mine,
    own_loan,
    subject,
)

router = APIRouter(include_in_schema=False)
files = APIRouter(include_in_schema=False)  # downloads, not pages

NOTE_FIELDS = {"happened_at": "happened_at", "channel": "channel", "said": "said"}
COMPLAINT_FIELDS = {
    "against": "against",
    "text": "text",
    "loan_id": "loan",
    "evidence": "evidence",
}


def _records_page(
    request: Request,
    me: Visitor,
    errors: list[FieldError] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    config = config_of(request)
    with config.engine.connect() as db:
        zone = borrower_zone(db, subject(me))
        chain = log.load_chain(db, subject(me))
        breaks = log.verify_db(db, subject(me))
        notes = {r.seq: r for r in own_records(db, subject(me))}
    records = [
        {
            "seq": r.seq,
            "at": r.at.astimezone(zone),
            "kind": r.kind,
            "p": r.payload if isinstance(r.payload, dict) else {},
            "note": notes.get(r.seq),
            "happened": _happened(notes.get(r.seq), zone),
        }
        for r in reversed(chain)
    ]
    context = {
        "records": records,
        "count": len(chain),
        "intact": not breaks,
        "zone": str(zone),
        "channels": CHANNELS,
        "errors": errors or [],
        "typed": typed or {},
        "attempt": (typed or {}).get("attempt") or attempt_key(),
        "exportable": config.signing_key is not None and bool(chain),
        "added": request.query_params.get("added", ""),
    }
    return page(request, me, "my_records", context, status=status)


def _happened(note: OwnRecord | None, zone: tzinfo) -> datetime | None:
    return None if note is None or note.happened_at is None else note.happened_at.astimezone(zone)


@router.get("/my/records")
def my_records(request: Request, me: Borrower) -> Response:
    return _records_page(request, me)


def _local_time(text: str, zone: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


@router.post("/my/records/note")
async def my_note(request: Request, me: Borrower) -> Response:
    """Add my own note of a call or a visit to my evidence chain."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = {k: v for k, v in form.items() if k != "csrf"}
    attempt = form_value(form, "attempt", 64)
    with config.engine.connect() as db:
        zone = borrower_zone(db, subject(me))
    happened = _local_time(form_value(form, "happened_at", 40), zone)
    if happened is None:
        errors = [FieldError("happened_at", "bad_time")]
        return _records_page(request, me, errors, typed, status=422)
    with config.engine.begin() as db:
        note, problems = add_note(
            db,
            key=f"web:{subject(me)}:{attempt}",
            borrower_id=subject(me),
            at=now(),
            happened_at=happened,
            channel=form_value(form, "channel", 20),
            caller_name=form_value(form, "caller_name", 200),
            said=form_value(form, "said", 4000),
        )
    if note is None:
        errors = [
            FieldError("happened_at", "bad_time") if e.field == "happened_at" else e
            for e in from_problems(problems, NOTE_FIELDS)
        ]
        return _records_page(request, me, errors, typed, status=422)
    return RedirectResponse(f"/my/records?added={note.seq}", status_code=303)


def _pack(request: Request, me: Visitor) -> Any:
    config = config_of(request)
    if config.signing_key is None:
        raise PageRefused(404, "not_found")
    with config.engine.connect() as db:
        pack, _ = build_pack(
            db, subject(me), now(), config.signing_key, config.lender.name.get(me.language)
        )
    if pack is None:
        raise PageRefused(404, "not_found")
    return pack


@files.get("/my/records/evidence.json")
def my_evidence(request: Request, me: Borrower) -> Response:
    """Everything recorded about me, signed by the lender: the file to keep, and to check with
    ``arrears evidence verify-pack`` and the lender's published key, with no database."""
    pack = _pack(request, me)
    name = f"evidence-{pack.borrower_id}.json"
    return Response(
        pack.text,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/my/records/evidence.html")
def my_evidence_page(request: Request, me: Borrower) -> Response:
    """The same pack as one page to read or print (the JSON file is the evidence)."""
    pack = _pack(request, me)
    html = render_pack_html(pack, me.language)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _complaints_page(
    request: Request,
    me: Visitor,
    errors: list[FieldError] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with config_of(request).engine.connect() as db:
        ids, day = mine(db, me)
        found = list_complaints(db, borrower_id=subject(me))
    context = {
        "complaints": list(reversed(found)),
        "loans": ids,
        "against": AGAINST,
        "errors": errors or [],
        "typed": typed or {},
        "attempt": (typed or {}).get("attempt") or attempt_key(),
        "filed": request.query_params.get("filed", ""),
        "today": day,
    }
    return page(request, me, "my_complaints", context, status=status)


@router.get("/my/complaints")
def my_complaints(request: Request, me: Borrower) -> Response:
    return _complaints_page(request, me)


def _record_numbers(text: str) -> list[int] | None:
    parts = [p for p in text.replace("，", ",").replace(" ", ",").split(",") if p]
    if not all(p.isdigit() and 1 <= int(p) <= 2**31 - 1 for p in parts):
        return None
    return sorted({int(p) for p in parts})


@router.post("/my/complaints")
async def my_complaint(request: Request, me: Borrower) -> Response:
    """Complain about a contact, a collector or an amount; the page then says by when the
    lender must reply."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = {k: v for k, v in form.items() if k != "csrf"}
    attempt = form_value(form, "attempt", 64)
    evidence = _record_numbers(form_value(form, "evidence", 400))
    if evidence is None:
        errors = [FieldError("evidence", "record_numbers")]
        return _complaints_page(request, me, errors, typed, status=422)
    text = form_value(form, "text", 4000)
    if not text.strip():
        return _complaints_page(request, me, [FieldError("text", "required")], typed, status=422)
    with config.engine.begin() as db:
        loan = form.get("loan") or None
        loan_id = own_loan(db, me, loan) if loan else None
        complaint, problems = file_complaint(
            db,
            key=f"web:{subject(me)}:{attempt}",
            borrower_id=subject(me),
            at=now(),
            against=form_value(form, "against", 20),
            text=text,
            loan_id=loan_id,
            evidence=evidence,
        )
    if complaint is None:
        errors = from_problems(problems, COMPLAINT_FIELDS)
        return _complaints_page(request, me, errors, typed, status=422)
    return RedirectResponse(f"/my/complaints?filed={complaint.complaint_id}", status_code=303)


def _contact_page(
    request: Request,
    me: Visitor,
    errors: list[FieldError] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    with config_of(request).engine.connect() as db:
        zone = borrower_zone(db, subject(me))
    context = {
        "errors": errors or [],
        "typed": typed or {},
        "attempt": (typed or {}).get("attempt") or attempt_key(),
        "zone": str(zone),
        "sent": request.query_params.get("sent", ""),
        "when": request.query_params.get("when", ""),
    }
    return page(request, me, "my_contact", context, status=status)


@router.get("/my/contact")
def contact_form(request: Request, me: Borrower) -> Response:
    return _contact_page(request, me)


@router.post("/my/contact")
async def contact_us(request: Request, me: Borrower) -> Response:
    """Write to the lender, or ask for a call back at a time I choose (it goes to the top of
    the agents' queue): ``services.collection.borrower_contact.reach_lender``."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = {k: v for k, v in form.items() if k != "csrf"}
    attempt = form_value(form, "attempt", 64)
    with config.engine.connect() as db:
        zone = borrower_zone(db, subject(me))
    when_text = form_value(form, "callback_at", 40)
    callback = _local_time(when_text, zone) if when_text.strip() else None
    if when_text.strip() and callback is None:
        errors = [FieldError("callback_at", "bad_callback")]
        return _contact_page(request, me, errors, typed, status=422)
    with config.engine.begin() as db:
        sent, problems = reach_lender(
            db,
            key=f"web:{subject(me)}:{attempt}",
            borrower_id=subject(me),
            at=now(),
            text=form_value(form, "text", 2000),
            callback_at=callback,
        )
    if sent is None:
        errors = [
            FieldError("callback_at", "bad_callback")
            if p.field == "callback_at"
            else FieldError("text", "required")
            if p.field == "text" and not form_value(form, "text").strip()
            else FieldError(p.field if p.field in ("text",) else "", "service", p.reason)
            for p in problems
        ]
        return _contact_page(request, me, errors, typed, status=422)
    when = "" if sent.callback_at is None else sent.callback_at.astimezone(zone)
    shown = when.strftime("%Y-%m-%d %H:%M") if isinstance(when, datetime) else ""
    return RedirectResponse(f"/my/contact?sent={sent.kind}&when={quote(shown)}", status_code=303)
