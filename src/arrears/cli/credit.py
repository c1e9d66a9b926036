"""``arrears credit``: status history, bureau files, notices, settlements, disputes, the
borrower's view."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    fail,
    open_db,
    parse_date,
    parse_instant,
    print_json,
    unwrap,
)
from arrears.core.credit.report import history_json, read_history
from arrears.services import credit as svc

app = typer.Typer(
    help="Credit reporting: history, bureau files, notices, disputes.", no_args_is_help=True
)
dispute_app = typer.Typer(
    help="Borrowers' disputes (异议) of reported items.", no_args_is_help=True
)
app.add_typer(dispute_app, name="dispute")


@app.command("history")
def history(
    loan_id: str,
    as_of: Annotated[str | None, typer.Option(help="Read as of this date (default today)")] = None,
    months: Annotated[int, typer.Option(help="Window: 24 or 60 months")] = 24,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A loan's monthly credit statuses (PBOC style), oldest month first."""
    if months not in (24, 60):
        fail(f"months: must be 24 or 60, got {months}", EXIT_BAD_INPUT)
    on = parse_date(as_of, "as_of") if as_of else date.today()
    with open_db(db).connect() as conn:
        facts = unwrap(svc.loan_facts(conn, loan_id))
    data = history_json(read_history(facts, on, months), facts.currency)
    if json_out:
        print_json(data)
        return
    typer.echo(
        f"{loan_id} as of {data['as_of']}: {data['status_string'] or '(no months yet)'}  "
        f"overdue periods {data['overdue_periods']} (max {data['max_overdue_periods']}), "
        f"largest overdue {data['largest_overdue_amount']}, {data['classification']}"
    )
    for m in data["months"]:
        typer.echo(f"  {m['month']}  {m['status']}  dpd {m['dpd']:>4}  {m['overdue_amount']:>12}")


@app.command("export")
def export(
    month: Annotated[str, typer.Option(help="Reporting month, YYYY-MM")],
    format: Annotated[str, typer.Option("--format", help="jsonl or metro2")],
    out: Annotated[Path, typer.Option(help="File to write (whole or not at all)")],
    furnisher: Annotated[str, typer.Option(help="Metro 2 identification number")] = "ARREARS",
    workers: Annotated[int, typer.Option(help="Processes reading loans (same bytes)")] = 1,
    full: Annotated[
        bool, typer.Option("--full", help="Replay every loan; ignore the checkpoints")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the bureau file for a month: one record per reportable account."""
    unwrap(svc.parse_month(month))
    if format not in ("jsonl", "metro2"):
        fail(f"format: must be jsonl or metro2, got {format!r}", EXIT_BAD_INPUT)
    engine = open_db(db)
    with Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=json_out,
        transient=True,
    ) as bar:
        task = bar.add_task("export", total=None)
        res = unwrap(
            svc.export_month(
                engine,
                month,
                "jsonl" if format == "jsonl" else "metro2",
                out,
                furnisher,
                lambda done, total: bar.update(task, completed=done, total=total),
                workers,
                resume=not full,
            )
        )
    data = {
        "month": res.month,
        "format": res.format,
        "out": str(res.path),
        "records": res.records,
        "sha256": res.sha256,
        "withheld": [
            {"loan_id": w.loan_id, "month": w.month, "reasons": list(w.reasons)}
            for w in res.withheld
        ],
    }
    if json_out:
        print_json(data)
        return
    typer.echo(f"wrote {res.records} records to {res.path} (sha256 {res.sha256[:16]}...)")
    for w in res.withheld:
        typer.echo(f"  withheld {w.loan_id}: {'; '.join(w.reasons)}")


@app.command("notices")
def notices(
    on: Annotated[str, typer.Option("--on", help="Business date (YYYY-MM-DD)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The credit notices due on a business date (planned actions; the outbox sends them)."""
    day = parse_date(on, "on")
    with open_db(db).connect() as conn:
        actions = svc.planned_notices(conn, day)
    rows = [
        {
            "borrower_id": a.borrower_id,
            "loan_id": a.loan_id,
            "business_date": a.business_date.isoformat(),
            "channel": a.channel,
            "template": a.template,
            "party": a.party,
            "purpose": a.purpose,
        }
        for a in actions
    ]
    if json_out:
        print_json({"actions": rows})
        return
    for r in rows:
        typer.echo(f"{r['loan_id']}  {r['borrower_id']}  {r['channel']}  {r['template']}")
    typer.echo(f"{len(rows)} notice(s) due on {day}")


@app.command("notice-sent")
def notice_sent(
    loan_id: str,
    channel: Annotated[str, typer.Option(help="sms or letter")],
    key: Annotated[str, typer.Option(help="Idempotency key (e.g. the outbox message id)")],
    at: Annotated[str | None, typer.Option(help="When it was delivered (ISO 8601)")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record that a credit notice reached the borrower."""
    sent = parse_instant(at, "at")
    with open_db(db).begin() as conn:
        res = unwrap(svc.record_notice(conn, loan_id, sent, channel, key))
    data = {
        "loan_id": res.loan_id,
        "key": res.key,
        "sent_at": res.sent_at.isoformat(),
        "channel": res.channel,
        "already_recorded": res.already_recorded,
    }
    if json_out:
        print_json(data)
    else:
        typer.echo(f"notice {key} for {loan_id} recorded at {data['sent_at']}")


@app.command("settlement")
def settlement(
    loan_id: str,
    payment_ref: str,
    kind: Annotated[str, typer.Option(help="guarantor or assets")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Mark a payment as made by a guarantor (D) or with assets (Z)."""
    with open_db(db).begin() as conn:
        res = unwrap(svc.mark_settlement(conn, loan_id, payment_ref, kind))
    if json_out:
        print_json({"payment_ref": payment_ref, "kind": kind, "already_marked": not res})
    else:
        typer.echo(f"payment {payment_ref} marked as by {kind}")


def _dispute_json(d: Any) -> dict[str, Any]:
    return {
        "dispute_id": d.dispute_id,
        "loan_id": d.loan_id,
        "month": d.month,
        "reason": d.reason,
        "opened_at": d.opened_at.isoformat(),
        "deadline": d.deadline.isoformat(),
        "outcome": d.outcome,
        "outcome_reason": d.outcome_reason,
        "corrected_status": d.corrected_status,
        "resolved_at": None if d.resolved_at is None else d.resolved_at.isoformat(),
    }


@dispute_app.command("open")
def dispute_open(
    loan_id: str,
    month: Annotated[str, typer.Option(help="The disputed month, YYYY-MM")],
    reason: Annotated[str, typer.Option(help="The borrower's reason")],
    key: Annotated[str, typer.Option(help="Idempotency key")],
    at: Annotated[str | None, typer.Option(help="When it was received (ISO 8601)")] = None,
    days: Annotated[int | None, typer.Option(help="Answer within N days (<= the pack's)")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Open a dispute of one month's item; it is flagged in exports until answered."""
    opened = parse_instant(at, "at")
    with open_db(db).begin() as conn:
        res = unwrap(svc.open_dispute(conn, loan_id, month, reason, opened, key, days))
    if json_out:
        print_json(_dispute_json(res))
    else:
        typer.echo(f"dispute {res.dispute_id} opened; answer due by {res.deadline}")


@dispute_app.command("resolve")
def dispute_resolve(
    dispute_id: int,
    outcome: Annotated[str, typer.Option(help="corrected or upheld")],
    reason: Annotated[str, typer.Option(help="Why")],
    status: Annotated[str | None, typer.Option(help="Corrected status code")] = None,
    at: Annotated[str | None, typer.Option(help="When it was decided (ISO 8601)")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a dispute's outcome; a correction is re-reported in later exports."""
    resolved = parse_instant(at, "at")
    with open_db(db).begin() as conn:
        res = unwrap(svc.resolve_dispute(conn, dispute_id, outcome, reason, resolved, status))
    if json_out:
        print_json(_dispute_json(res))
    else:
        typer.echo(f"dispute {dispute_id}: {res.outcome}")


@app.command("view")
def view(
    borrower_id: str,
    as_of: Annotated[str | None, typer.Option(help="Read as of this date (default today)")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """For the borrower: what was reported, what will be if nothing is paid, drop-off dates."""
    on = parse_date(as_of, "as_of") if as_of else date.today()
    with open_db(db).connect() as conn:
        data = unwrap(svc.borrower_credit_view(conn, borrower_id, on))
    if json_out:
        print_json(data)
        return
    for loan in data["loans"]:
        typer.echo(f"{loan['loan_id']} ({loan['pack']}):")
        typer.echo("  reported: " + "".join(m["status"] for m in loan["reported"]))
        for m in loan["if_nothing_is_paid"]:
            typer.echo(f"  if nothing is paid, {m['reporting_date']} reads {m['status']}")
        for i in loan["negative_items"]:
            typer.echo(f"  {i['month']} {i['status']} drops off {i['drops_off'] or 'not yet set'}")
