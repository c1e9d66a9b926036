"""``arrears case|queue|outcome|promise|visit ...``: the collection floor's commands.

Each command runs in one transaction: an error prints ``error: <record>: <field>: <reason>``,
exits 2 (bad input, or refused in this state) or 1 (not found) and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Connection

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    fail,
    parse_date,
    parse_instant,
    parse_money,
    print_json,
    transaction,
    unwrap,
)
from arrears.core.jsonable import jsonable
from arrears.core.money import fmt
from arrears.core.people.masking import mask_phone
from arrears.core.problem import Result
from arrears.services.collection.case_file import case_file
from arrears.services.collection.case_frames import case_views
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.console import assign_case, search
from arrears.services.collection.history import Recording
from arrears.services.collection.outcomes import record_outcome
from arrears.services.collection.promises import check_promises, list_promises
from arrears.services.collection.queue import item_dict, list_queue, next_item
from arrears.services.collection.visits import (
    Visit,
    approve_visit,
    assign_visit,
    list_visits,
    record_visit_notice,
    report_visit,
    request_visit,
)

T = TypeVar("T")
console = Console()

case_app = typer.Typer(help="Collection cases: one per overdue borrower.", no_args_is_help=True)
queue_app = typer.Typer(help="The agents' call queue.", no_args_is_help=True)
outcome_app = typer.Typer(help="What came of a call.", no_args_is_help=True)
promise_app = typer.Typer(help="Promises to pay.", no_args_is_help=True)
visit_app = typer.Typer(
    help="Field visits: request, approve, assign, notice, report.", no_args_is_help=True
)


AtOption = Annotated[
    str | None, typer.Option("--at", help="ISO 8601 time with offset (default now)")
]


# ---------------------------------------------------------------------------------------------
# case


@case_app.command("sync")
def case_sync(
    on: Annotated[str, typer.Option("--date", help="Business date (YYYY-MM-DD)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Open cases for overdue borrowers and close the cured ones (from the last close)."""
    day = parse_date(on, "date")
    with (
        Progress(
            SpinnerColumn(),
            TextColumn("syncing cases"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=json_out,
            transient=True,
        ),
        transaction(db) as conn,
    ):
        res = sync_cases(conn, day, datetime.now(UTC))
    data = {"opened": res.opened, "reprioritised": res.reprioritised, "closed": res.closed}
    if json_out:
        print_json(data)
    else:
        typer.echo(
            f"cases: {res.opened} opened, {res.reprioritised} re-prioritised, {res.closed} closed"
        )


@case_app.command("list")
def case_list(
    on: Annotated[str | None, typer.Option("--date", help="Business date (default today)")] = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="Borrowers without a case too")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Open cases with the facts the policy reads (DPD, amounts, flags, promises)."""
    day = parse_date(on, "date") if on else datetime.now(UTC).date()
    with transaction(db) as conn:
        views = [v for v in case_views(conn, day) if include_all or v["case_id"] is not None]
    if json_out:
        print_json(
            [
                jsonable({**v, "overdue": fmt(v["overdue"]), "outstanding": fmt(v["outstanding"])})
                for v in views
            ]
        )
        return
    table = Table(
        "borrower", "case", "dpd", "overdue", "priority", "flags", "promise until", "unreachable"
    )
    for v in views:
        flags = ",".join(f for f in ("hardship", "dispute", "plan_in_force") if v[f])
        table.add_row(
            v["borrower_id"],
            str(v["case_id"] or ""),
            str(v["dpd"]),
            fmt(v["overdue"]),
            str(v["priority"]),
            flags,
            str(v["promise_until"] or ""),
            str(v["unreachable_days"]),
        )
    console.print(table)


@case_app.command("show")
def case_show(
    borrower_id: str,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A borrower's cases, contact history, promises and visits."""
    with transaction(db) as conn:
        data = unwrap(case_file(conn, borrower_id)).as_dict()
    if json_out:
        print_json(data)
        return
    for c in data["cases"]:
        console.print(
            f"case {c['case_id']}: opened {c['opened_on']}, "
            f"closed {c['closed_on'] or '-'} {c['close_reason'] or ''}"
        )
    for c in data["contacts"]:
        console.print(
            f"  {c['at']} {c['channel']} {c['party']} {c['number']} -> {c['outcome'] or '-'}"
        )
    for p in data["promises"]:
        console.print(f"  promise {p['amount']} by {p['due_on']}: {p['status']}")
    for v in data["visits"]:
        console.print(f"  visit {v['visit_id']}: {v['status']}")


@case_app.command("assign")
def case_assign(
    borrower_id: str,
    agent: Annotated[str, typer.Option(help="The agent the open case is assigned to")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Assign a borrower's open case to an agent (the web console shows it them)."""
    with transaction(db) as conn:
        unwrap(assign_case(conn, borrower_id, agent))
    if json_out:
        print_json({"borrower_id": borrower_id, "assigned_agent": agent})
    else:
        typer.echo(f"case of {borrower_id} assigned to {agent}")


@case_app.command("search")
def case_search(
    text: str,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Borrowers by id, loan id, or the last four or more digits of their phone (masked)."""
    with transaction(db) as conn:
        found = search(conn, text)
    if json_out:
        print_json(
            [
                {
                    "borrower_id": f.borrower_id,
                    "name": f.name,
                    "phone": mask_phone(f.phone),
                    "loans": list(f.loan_ids),
                    "dpd": f.dpd,
                    "assigned_agent": f.assigned_agent,
                }
                for f in found
            ]
        )
        return
    table = Table("borrower", "name", "phone", "loans", "dpd", "agent")
    for f in found:
        table.add_row(
            f.borrower_id,
            f.name,
            mask_phone(f.phone),
            ",".join(f.loan_ids),
            str(f.dpd),
            f.assigned_agent or "",
        )
    console.print(table)


# ---------------------------------------------------------------------------------------------
# queue


@queue_app.command("list")
def queue_list(
    agent: Annotated[str | None, typer.Option(help="Only items claimed by this agent")] = None,
    include_done: Annotated[bool, typer.Option("--all", help="Include done items")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Queue items in working order: priority, DPD, amount, borrower."""
    with transaction(db) as conn:
        items = list_queue(conn, agent, include_done)
    if json_out:
        print_json([item_dict(i) for i in items])
        return
    table = Table(
        "item",
        "borrower",
        "loan",
        "step",
        "party",
        "priority",
        "dpd",
        "amount",
        "due",
        "claimed by",
        "outcome",
    )
    for i in items:
        table.add_row(
            str(i.item_id),
            i.borrower_id,
            i.loan_id,
            i.step,
            i.party,
            str(i.priority),
            str(i.dpd),
            fmt(i.amount),
            i.due_at.isoformat(),
            i.claimed_by or "",
            i.outcome or "",
        )
    console.print(table)


@queue_app.command("next")
def queue_next(
    agent: Annotated[str, typer.Option(help="The agent claiming work")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Claim the next due item (or show the one this agent already holds)."""
    if not agent.strip():
        fail("agent: must not be empty", EXIT_BAD_INPUT)
    now = parse_instant(at, "at")
    with transaction(db) as conn:
        item = next_item(conn, agent, now)
    if json_out:
        print_json(None if item is None else item_dict(item))
    elif item is None:
        typer.echo("nothing due")
    else:
        typer.echo(
            f"item {item.item_id}: call {item.party} {item.number} for {item.borrower_id} "
            f"(loan {item.loan_id}, DPD {item.dpd}, overdue {fmt(item.amount)})\n  {item.script}"
        )


# ---------------------------------------------------------------------------------------------
# outcome


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@outcome_app.command("record")
def outcome_record(
    outcome: Annotated[
        str,
        typer.Option(
            help="no_answer, busy, reached, promise_to_pay, refused, wrong_number, dispute, "
            "hardship, paid"
        ),
    ],
    item: Annotated[int | None, typer.Option(help="Queue item id")] = None,
    attempt: Annotated[
        str | None, typer.Option(help="Key of a call attempt already recorded")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="The agent who made the call")] = None,
    at: AtOption = None,
    promise_date: Annotated[str | None, typer.Option(help="Promised payment date")] = None,
    promise_amount: Annotated[str | None, typer.Option(help="Promised amount, e.g. 500.00")] = None,
    recording: Annotated[
        Path | None, typer.Option(help="Call recording file (its SHA-256 is stored)")
    ] = None,
    recording_location: Annotated[
        str | None, typer.Option(help="Where the recording is kept (default: the file's path)")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a call's outcome; the same outcome twice applies once."""
    if (item is None) == (attempt is None):
        fail("item: give exactly one of --item or --attempt", EXIT_BAD_INPUT)
    when = parse_instant(at, "at")
    promise: tuple[date, int] | None = None
    if (promise_date is None) != (promise_amount is None):
        fail("promise: give both --promise-date and --promise-amount", EXIT_BAD_INPUT)
    if promise_date is not None and promise_amount is not None:
        amount = parse_money(promise_amount, "promise_amount")
        promise = (parse_date(promise_date, "promise_date"), amount)
    rec: Recording | None = None
    if recording is not None:
        if not recording.is_file():
            fail(f"recording: {recording}: no such file", EXIT_BAD_INPUT)
        rec = Recording(recording_location or str(recording.resolve()), _sha256_file(recording))
    with transaction(db) as conn:
        res = unwrap(
            record_outcome(
                conn,
                outcome=outcome,
                at=when,
                item_id=item,
                attempt_key=attempt,
                agent=agent,
                promise=promise,
                recording=rec,
            )
        )
    data = {**res.as_dict(), "recording_sha256": rec.sha256 if rec else None}
    if json_out:
        print_json(data)
    elif res.already_recorded:
        typer.echo(
            f"{res.outcome.value} was already recorded for {res.attempt_key}; nothing changed"
        )
    else:
        typer.echo(f"recorded {res.outcome.value} for {res.borrower_id} ({res.attempt_key})")


# ---------------------------------------------------------------------------------------------
# promise


@promise_app.command("list")
def promise_list(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower")] = None,
    status: Annotated[str | None, typer.Option(help="open, kept, partly_kept or broken")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Promises to pay, by due date."""
    if status is not None and status not in ("open", "kept", "partly_kept", "broken"):
        fail(f"status: {status!r} must be open, kept, partly_kept or broken", EXIT_BAD_INPUT)
    with transaction(db) as conn:
        rows = list_promises(conn, borrower, status)
    out = [jsonable({**p, "amount": fmt(p["amount"]), "paid": fmt(p["paid"])}) for p in rows]
    if json_out:
        print_json(out)
        return
    table = Table("id", "borrower", "loan", "amount", "due", "status", "paid")
    for p in out:
        table.add_row(
            str(p["promise_id"]),
            p["borrower_id"],
            p["loan_id"],
            p["amount"],
            p["due_on"],
            p["status"],
            p["paid"],
        )
    console.print(table)


@promise_app.command("check")
def promise_check(
    on: Annotated[str, typer.Option("--date", help="Business date (YYYY-MM-DD)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check open promises against the loans' payments at the end of --date."""
    day = parse_date(on, "date")
    with transaction(db) as conn:
        report = check_promises(conn, day)
    if json_out:
        print_json(report.as_dict())
    else:
        typer.echo(", ".join(f"{k} {v}" for k, v in report.as_dict().items()))


# ---------------------------------------------------------------------------------------------
# visit


def _visit_out(v: Visit, json_out: bool, verb: str) -> None:
    if json_out:
        print_json(jsonable(v.as_dict()))
    else:
        typer.echo(f"visit {v.visit_id} ({v.key}) for {v.borrower_id}: {verb}, now {v.status}")


def _visit_cmd(
    json_out: bool, verb: str, db: str | None, fn: Callable[[Connection], Result[Visit]]
) -> None:
    with transaction(db) as conn:
        v = unwrap(fn(conn))
    _visit_out(v, json_out, verb)


@visit_app.command("request")
def visit_request(
    loan: Annotated[str, typer.Option(help="The loan the visit is about")],
    key: Annotated[str, typer.Option(help="Idempotency key of the request")],
    by: Annotated[str, typer.Option(help="Who asks for the visit")],
    reason: Annotated[str, typer.Option(help="Why a visit")] = "",
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Ask for a home visit (needs a supervisor's approval)."""
    when = parse_instant(at, "at")
    _visit_cmd(json_out, "requested", db, lambda c: request_visit(c, key, loan, by, when, reason))


@visit_app.command("approve")
def visit_approve(
    visit_id: int,
    by: Annotated[str, typer.Option(help="The approving supervisor (not the requester)")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a requested visit."""
    when = parse_instant(at, "at")
    _visit_cmd(json_out, "approved", db, lambda c: approve_visit(c, visit_id, by, when))


@visit_app.command("assign")
def visit_assign(
    visit_id: int,
    collector: Annotated[list[str], typer.Option(help="A collector id (give two or more)")],
    start: Annotated[str, typer.Option(help="Window start, ISO 8601 with offset")],
    end: Annotated[str, typer.Option(help="Window end, ISO 8601 with offset")],
    address: Annotated[str | None, typer.Option(help="Default: the borrower's profile")] = None,
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Assign collectors and a time window; checked by the compliance gate."""
    s, e, when = parse_instant(start, "start"), parse_instant(end, "end"), parse_instant(at, "at")
    _visit_cmd(
        json_out,
        "assigned",
        db,
        lambda c: assign_visit(c, visit_id, tuple(collector), s, e, when, address),
    )


@visit_app.command("notice")
def visit_notice(
    visit_id: int,
    sent_at: Annotated[
        str | None, typer.Option(help="When the notice went out (default now)")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record that the borrower was told who is coming and when."""
    when = parse_instant(sent_at, "sent_at")
    _visit_cmd(json_out, "notice recorded", db, lambda c: record_visit_notice(c, visit_id, when))


@visit_app.command("report")
def visit_report(
    visit_id: int,
    outcome: Annotated[
        str, typer.Option(help="met, not_home, refused_entry, promise_to_pay, paid, other")
    ],
    report: Annotated[str, typer.Option(help="The collectors' report")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """File the visit report."""
    when = parse_instant(at, "at")
    _visit_cmd(json_out, "reported", db, lambda c: report_visit(c, visit_id, when, report, outcome))


@visit_app.command("list")
def visit_list(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Visits and where each stands."""
    with transaction(db) as conn:
        rows = list_visits(conn, borrower)
    if json_out:
        print_json([jsonable(v.as_dict()) for v in rows])
        return
    table = Table("id", "borrower", "loan", "status", "collectors", "window start", "outcome")
    for v in rows:
        table.add_row(
            str(v.visit_id),
            v.borrower_id,
            v.loan_id,
            v.status,
            ",".join(v.collectors),
            v.window_start.isoformat() if v.window_start else "",
            v.outcome or "",
        )
    console.print(table)
