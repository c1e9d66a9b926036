"""``arrears outbox ...``: list and show queued messages, dispatch them, read the local mailbox.

Adapters per channel come from ``--adapter CHANNEL=NAME`` (repeatable) or
``ARREARS_OUTBOX_ADAPTERS`` (``sms=webhook,email=smtp``); any message channel not named goes to
the local mailbox (``outbox``). SMTP and webhook settings come from the environment only
(``ARREARS_SMTP_*``, ``ARREARS_WEBHOOK_URL``, ``ARREARS_WEBHOOK_SECRET``), never from flags,
so secrets stay out of shell history.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, func, select

from arrears.adapters import (
    Adapter,
    MailboxAdapter,
    SmtpAdapter,
    SmtpConfig,
    WebhookAdapter,
    WebhookConfig,
)
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
)
from arrears.core.compliance.model import CHANNELS
from arrears.services import outbox
from arrears.services.collection.dispatch import dispatch as run_dispatch
from arrears.services.outbox import STATUSES, Status, as_utc
from arrears.store.outbox_tables import mailbox
from arrears.store.outbox_tables import outbox as outbox_table

app = typer.Typer(
    name="outbox",
    help="Outbound messages: list, show, dispatch through the channel adapters, read the mailbox.",
    no_args_is_help=True,
)

ADAPTER_NAMES = ("outbox", "smtp", "webhook")
# Channels that carry a written message; calls and visits are worked by people (agent queue).
MESSAGE_CHANNELS = ("sms", "email", "letter")
ENV_ADAPTERS = "ARREARS_OUTBOX_ADAPTERS"


def parse_adapters(specs: list[str], env: Mapping[str, str]) -> dict[str, str] | str:
    """channel -> adapter name, or the reason the specs are wrong. Flags win over the env."""
    chosen = dict.fromkeys(MESSAGE_CHANNELS, "outbox")
    from_env = [s for s in env.get(ENV_ADAPTERS, "").split(",") if s.strip()]
    for source, items in ((ENV_ADAPTERS, from_env), ("--adapter", specs)):
        for spec in items:
            channel, sep, name = (part.strip() for part in spec.partition("="))
            if not sep or channel not in CHANNELS or name not in ADAPTER_NAMES:
                return (
                    f"{source}: {spec!r} is not CHANNEL=ADAPTER "
                    f"(channels: {', '.join(CHANNELS)}; adapters: {', '.join(ADAPTER_NAMES)})"
                )
            chosen[channel] = name
    return chosen


def build_adapters(
    engine: Engine, chosen: Mapping[str, str], env: Mapping[str, str]
) -> dict[str, Adapter] | str:
    built: dict[str, Adapter] = {}
    shared: dict[str, Adapter] = {}
    for channel, name in chosen.items():
        if name not in shared:
            if name == "outbox":
                shared[name] = MailboxAdapter(engine)
            elif name == "smtp":
                smtp = SmtpConfig.from_env(env)
                if isinstance(smtp, str):
                    return f"--adapter {channel}=smtp: {smtp}"
                shared[name] = SmtpAdapter(smtp)
            else:
                hook = WebhookConfig.from_env(env)
                if isinstance(hook, str):
                    return f"--adapter {channel}=webhook: {hook}"
                shared[name] = WebhookAdapter(hook)
        built[channel] = shared[name]
    return built


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
    chosen = parse_adapters(adapter or [], os.environ)
    if isinstance(chosen, str):
        fail(chosen, EXIT_BAD_INPUT)
    engine = open_db(db)
    adapters = build_adapters(engine, chosen, os.environ)
    if isinstance(adapters, str):
        fail(adapters, EXIT_BAD_INPUT)
    with engine.connect() as conn:
        due = conn.execute(
            select(func.count()).where(
                outbox_table.c.channel.in_(list(adapters)),
                outbox_table.c.status.in_(("queued", "sending")),
                outbox_table.c.next_attempt_at <= now,
            )
        ).scalar_one()
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
    query = select(mailbox).order_by(mailbox.c.mailbox_id.desc()).limit(limit)
    if borrower is not None:
        query = query.where(mailbox.c.borrower_id == borrower)
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(query)]
    for r in found:
        r["received_at"] = as_utc(r["received_at"]).isoformat()
    if json_out:
        print_json(found)
        return
    for r in found:
        typer.echo(f"#{r['mailbox_id']} {r['received_at']} {r['channel']} to {r['recipient']}")
        typer.echo(f"  {r['subject']}")
        typer.echo("  " + r["body"].replace("\n", "\n  "))
