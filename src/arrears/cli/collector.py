"""``arrears collector ...``: registered collectors and their training."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from arrears.cli.collection import _jsonable, _ok, _tx
from arrears.cli.common import DbOption, JsonOption, parse_date, print_json
from arrears.core.people.collectors import Collector, Training
from arrears.services.collection.people import add_collector, add_training, list_collectors

console = Console()
collector_app = typer.Typer(help="Registered collectors and their training.", no_args_is_help=True)


@collector_app.command("add")
def collector_add(
    collector_id: str,
    name: Annotated[str, typer.Option(help="Full name")],
    credential: Annotated[str, typer.Option(help="Employee or credential number")],
    agency: Annotated[str | None, typer.Option(help="Agency (omit for the lender's staff)")] = None,
    unregistered: Annotated[
        bool, typer.Option("--unregistered", help="On record but not registered")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a collector."""
    c = Collector(collector_id, name, credential, registered=not unregistered, agency=agency)
    with _tx(db) as conn:
        added = _ok(add_collector(conn, c))
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
    with _tx(db) as conn:
        added = _ok(add_training(conn, tr))
    if json_out:
        print_json({"collector_id": collector_id, "trained_on": on, "added": added})
    else:
        typer.echo(
            f"training of {collector_id} on {on} {'recorded' if added else 'already on record'}"
        )


@collector_app.command("list")
def collector_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Collectors with their latest training."""
    with _tx(db) as conn:
        rows = [_jsonable(r) for r in list_collectors(conn)]
    if json_out:
        print_json(rows)
        return
    table = Table("id", "name", "agency", "registered", "credential", "last trained")
    for r in rows:
        table.add_row(
            r["collector_id"],
            r["name"],
            r["agency"] or "",
            str(r["registered"]),
            r["credential_no"],
            str(r["last_trained_on"] or ""),
        )
    console.print(table)
