"""``arrears collectors ...`` (also ``arrears collector ...``): registered collectors, their
training, deactivation, and what a borrower checks them by (one-time codes, signed
credentials, the lender's public key)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from arrears.cli.common import (
    DbOption,
    JsonOption,
    parse_date,
    parse_instant,
    print_json,
    transaction,
    unwrap,
)
from arrears.cli.verify import AtOption, notice
from arrears.core.jsonable import jsonable
from arrears.core.people import credentials as cred
from arrears.core.people.collectors import Collector, Training
from arrears.services.collection.people import (
    add_collector,
    add_training,
    deactivate_collector,
    list_collectors,
    register_collector,
)
from arrears.services.collection.verification import issue_code
from arrears.services.collection.verification_credentials import issue_credential
from arrears.services.verification_keys import code_secret, signing_key

console = Console()
collector_app = typer.Typer(
    help="Registered collectors, their training, and how borrowers verify them.",
    no_args_is_help=True,
)


@collector_app.command("add")
def collector_add(
    name: Annotated[str, typer.Option(help="Full name")],
    employee_no: Annotated[
        str, typer.Option("--employee-no", "--credential", help="Employee (credential) number")
    ],
    collector_id: Annotated[
        str | None, typer.Argument(help="Id to register under (default: the next C000001, ...)")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Agency (omit for the lender's staff)")] = None,
    unregistered: Annotated[
        bool, typer.Option("--unregistered", help="On record but not registered")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a collector. Without an id, prints the id given (the next free C000001...)."""
    if collector_id is None:
        with transaction(db) as conn:
            new_id = unwrap(register_collector(conn, name, employee_no, agency))
        if json_out:
            print_json({"id": new_id})
        else:
            typer.echo(new_id)
        return
    c = Collector(collector_id, name, employee_no, registered=not unregistered, agency=agency)
    with transaction(db) as conn:
        added = unwrap(add_collector(conn, c))
    if json_out:
        print_json({"collector_id": collector_id, "added": added})
    else:
        typer.echo(f"collector {collector_id} {'added' if added else 'already on record'}")


@collector_app.command("train")
def collector_train(
    collector_id: str,
    on: Annotated[str, typer.Option("--on", help="Training date (YYYY-MM-DD)")],
    course: Annotated[str, typer.Option(help="Course name")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a training a collector completed."""
    tr = Training(collector_id, parse_date(on, "on"), course)
    with transaction(db) as conn:
        added = unwrap(add_training(conn, tr))
    if json_out:
        print_json({"collector_id": collector_id, "trained_on": on, "added": added})
    else:
        typer.echo(
            f"training of {collector_id} on {on} {'recorded' if added else 'already on record'}"
        )


@collector_app.command("list")
def collector_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Collectors with their latest training."""
    with transaction(db) as conn:
        rows = [jsonable(r) for r in list_collectors(conn)]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "agency", "registered", "status", "credential", "last trained")
    for r in rows:
        table.add_row(
            r["collector_id"],
            r["name"],
            r["agency"] or "",
            str(r["registered"]),
            r["status"],
            r["credential_no"],
            str(r["last_trained_on"] or ""),
        )
    console.print(table)


@collector_app.command("deactivate")
def collector_deactivate(
    collector_id: str, at: AtOption = None, db: DbOption = None, json_out: JsonOption = False
) -> None:
    """Withdraw a collector: no more visits; their codes and credentials stop verifying."""
    when = parse_instant(at, "at")
    with transaction(db) as conn:
        changed = unwrap(deactivate_collector(conn, collector_id, when))
    if json_out:
        print_json({"id": collector_id, "deactivated": changed})
    else:
        typer.echo(
            f"collector {collector_id} {'deactivated' if changed else 'already deactivated'}"
        )


@collector_app.command("code")
def collector_code(
    collector_id: str,
    loan: Annotated[str, typer.Option(help="The loan whose borrower the collector will visit")],
    valid_minutes: Annotated[int, typer.Option(help="How long the code stays valid")] = 60,
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A one-time code for the collector to give the borrower (printed as the last word)."""
    when = parse_instant(at, "at")
    secret = unwrap(code_secret(os.environ, notice))
    with transaction(db) as conn:
        issued = unwrap(
            issue_code(conn, collector_id, loan, when, secret, secrets.token_bytes, valid_minutes)
        )
    if json_out:
        print_json(
            {
                "code": issued.code,
                "collector_id": issued.collector_id,
                "loan_id": issued.loan_id,
                "borrower_id": issued.borrower_id,
                "valid_until": issued.valid_until.isoformat(),
            }
        )
    else:
        until = issued.valid_until.isoformat(timespec="minutes")
        typer.echo(f"code for {issued.borrower_id}, valid until {until}: {issued.code}")


@collector_app.command("credential")
def collector_credential(
    collector_id: str,
    out: Annotated[Path | None, typer.Option(help="Also write it to this file (JSON)")] = None,
    valid_days: Annotated[int, typer.Option(help="How long it stays valid")] = 30,
    at: AtOption = None,
    db: DbOption = None,
) -> None:
    """A signed credential the collector shows on a phone (the text, or a QR code of it)."""
    when = parse_instant(at, "at")
    key = unwrap(signing_key(os.environ, notice))
    with transaction(db) as conn:
        issued = unwrap(issue_credential(conn, collector_id, when, key, valid_days))
    if out is not None:
        document = {"text": issued.text, "payload": issued.credential.payload()}
        out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    typer.echo(issued.text)


@collector_app.command("public-key")
def collector_public_key(json_out: JsonOption = False) -> None:
    """The lender's public key (PEM): publish it; with it alone anyone can check credentials."""
    public = unwrap(signing_key(os.environ, notice)).public_key()
    if json_out:
        print_json({"key_id": cred.key_id(public), "pem": cred.public_key_pem(public)})
    else:
        typer.echo(cred.public_key_pem(public), nl=False)
