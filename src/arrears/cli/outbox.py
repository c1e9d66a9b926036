"""``arrears outbox ...``: list and show queued messages, dispatch them, read the local mailbox.

Adapters per channel come from ``--adapter CHANNEL=NAME`` (repeatable) or
``ARREARS_OUTBOX_ADAPTERS`` (``sms=webhook,email=smtp``); any message channel not named goes to
the local mailbox (``outbox``). SMTP and webhook settings come from the environment only
(``ARREARS_SMTP_*``, ``ARREARS_WEBHOOK_URL``, ``ARREARS_WEBHOOK_SECRET``), never from flags,
so secrets stay out of shell history.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    SettingsOption,
    fail,
    lender_settings,
    open_db,
    parse_instant,
    print_json,
    unwrap,
)
from arrears.services import outbox
from arrears.services.channel_adapters import (
    ADAPTER_NAMES,
    ENV_ADAPTERS,
    build_adapters,
    choose_adapters,
)
from arrears.services.collection.dispatch import dispatch as run_dispatch
from arrears.services.outbox import STATUSES, Status, as_utc

app = typer.Typer(
    name="outbox",
    help="Outbound messages: list, show, dispatch through the channel adapters, read the mailbox.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help=f"Only this status: {', '.join(STATUSES)}")
    ] = None,
    borrower: Annotated[str | None, typer.Option(help="Only this borrower's messages")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first")] = 100,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List outbox messages, newest first, with the count by status."""
    if status is not None and status not in STATUSES:
        fail(f"--status: {status!r} is not one of {', '.join(STATUSES)}", EXIT_BAD_INPUT)
    wanted: Status | None = status  # checked just above
    engine = open_db(db)
    with engine.connect() as conn:
        found = outbox.list_rows(conn, wanted, borrower, limit)
        by_status = outbox.counts(conn)
    if json_out:
        print_json({"counts": by_status, "messages": [r.as_dict(with_body=False) for r in found]})
        return
    table = Table("borrower", "channel", "template", "status", "tries", "next / sent")
    table.add_column("key", overflow="fold")  # keys are long; never truncate what `show` needs
    for r in found:
        when = r.sent_at if r.sent_at else r.next_attempt_at
        table.add_row(
            r.message.borrower_id,
            r.message.channel,
            r.message.template,
            r.status,
            str(r.attempts),
            when.strftime("%Y-%m-%d %H:%M:%SZ"),
            r.message.key,
        )
    Console().print(table)
    typer.echo(", ".join(f"{s} {n}" for s, n in by_status.items()))


@app.command()
def show(key: str, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show one message: its routing, status, attempts and the words sent."""
    engine = open_db(db)
    with engine.connect() as conn:
        row = outbox.get(conn, key)
    if row is None:
        fail(f"outbox: {key}: no such message")
    data = row.as_dict()
    if json_out:
        print_json(data)
        return
    body = data.pop("body")
    for name, value in data.items():
        typer.echo(f"{name:>16}: {'' if value is None else value}")
    typer.echo("")
    typer.echo(body)


@app.command()
def dispatch(
    adapter: Annotated[
        list[str] | None,
        typer.Option(
            "--adapter",
            help="CHANNEL=ADAPTER, e.g. sms=webhook or email=smtp (repeatable; adapters: "
            f"{', '.join(ADAPTER_NAMES)}) [env {ENV_ADAPTERS}; default: every channel to outbox]",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Send at most this many")] = 1000,
    at: Annotated[
        str | None, typer.Option(help="Dispatch as of this instant (ISO, with offset); default now")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    settings_file: SettingsOption = None,
) -> None:
    """Send due messages through their channel's adapter (at least once; retried with backoff).

    Receivers drop duplicates by the message key. The lender's settings are checked first: a
    broken file stops the dispatch before anything is sent.
    """
    lender_settings(settings_file)
    now = as_utc(parse_instant(at, "--at"))
    chosen = unwrap(choose_adapters(adapter or [], os.environ))
    engine = open_db(db)
    adapters = unwrap(build_adapters(engine, chosen, os.environ))
    with engine.connect() as conn:
        due = outbox.count_due(conn, adapters, now)
    with Progress(
        TextColumn("dispatching"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=json_out,
        transient=True,
    ) as bar:
        task = bar.add_task("dispatch", total=min(int(due), limit))
        report = run_dispatch(engine, adapters, now, limit, progress=lambda n: bar.advance(task, n))
    if json_out:
        print_json({"adapters": dict(chosen), **report.as_dict()})
        return
    typer.echo(
        f"sent {report.sent}, retrying {report.retrying}, failed {report.failed}, "
        f"expired {report.expired} (of {report.claimed} claimed)"
    )
    for key, error in report.errors[:20]:
        typer.echo(f"  {key}: {error}")


@app.command("retry")
def retry_command(key: str, db: DbOption = None) -> None:
    """Queue a failed message again (after fixing the address or the gateway)."""
    engine = open_db(db)
    with engine.begin() as conn:
        done = outbox.requeue(conn, key, datetime.now(UTC))
    if not done:
        fail(f"outbox: {key}: no failed message with this key")
    typer.echo(f"queued {key} again")


@app.command("mailbox")
def mailbox_command(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower's messages")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first")] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Read the local mailbox: what the default adapter delivered."""
    engine = open_db(db)
    with engine.connect() as conn:
        found = [m.as_dict() for m in outbox.mailbox_entries(conn, borrower, limit)]
    if json_out:
        print_json(found)
        return
    for r in found:
        typer.echo(f"#{r['mailbox_id']} {r['received_at']} {r['channel']} to {r['recipient']}")
        typer.echo(f"  {r['subject']}")
        typer.echo("  " + r["body"].replace("\n", "\n  "))
