"""``arrears evidence ...``: verify the log, export or show a borrower's chain, seal a root."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from arrears.core.evidence.chain import EvidenceError
from arrears.services import evidence as log
from arrears.store.engine import database_url, make_engine

app = typer.Typer(
    name="evidence",
    help="The hash-chained evidence log: verify it, export or show a chain, seal a root.",
    no_args_is_help=True,
)

DB_HELP = "Database URL or SQLite file (default: $ARREARS_DB, else ./arrears.db)."


def _fail(reason: str, code: int = 2) -> NoReturn:
    typer.echo(reason, err=True)
    raise typer.Exit(code)


@contextmanager
def _connection(db: str | None) -> Iterator[Connection]:
    url = database_url(db)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():  # connecting would quietly create an empty database file
            _fail(f"no database at {path}")
    engine = make_engine(db)
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        _fail(f"database error: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}")
    finally:
        engine.dispose()


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except EvidenceError as exc:
        _fail(str(exc))


@app.command()
def verify(
    borrower: str | None = typer.Option(None, "--borrower", help="Check only this chain."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    root_label: str | None = typer.Option(
        None, "--root-label", help="Check against this root (default: the latest)."
    ),
    expect_root: str | None = typer.Option(
        None, "--expect-root", help="The root value published elsewhere, to compare with."
    ),
) -> None:
    """Walk every chain (or one); exit 0 if intact, 1 naming the first bad record."""
    with _connection(db) as conn:
        report = _guard(
            lambda: log.verify_report(
                conn, borrower, root_label=root_label, expected_root=expect_root
            )
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    elif report.intact:
        against = (
            "no root stored yet, so records removed from the end cannot be detected"
            if report.root is None
            else f"checked against root {report.root.label!r} = {report.root.root}"
        )
        typer.echo(f"evidence intact: {report.chains} chains, {report.records} records; {against}")
    else:
        first, rest = report.problems[0], len(report.problems) - 1
        more = f" ({rest} more broken chain{'s' if rest > 1 else ''})" if rest else ""
        typer.echo(f"evidence TAMPERED: {first}{more}")
    raise typer.Exit(0 if report.intact else 1)


@app.command()
def export(
    borrower: str = typer.Option(..., "--borrower", help="Whose chain."),
    out: str = typer.Option(..., "--out", help="File to write (JSON lines); '-' for stdout."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write a borrower's chain (and its root anchor) for verification without the server."""
    with _connection(db) as conn:
        lines = list(_guard(lambda: list(log.export_chain(conn, borrower))))
    if not lines:
        _fail(f"no evidence for borrower {borrower!r}", 1)
    data = "".join(line + "\n" for line in lines)
    if out == "-":
        sys.stdout.write(data)
        return
    Path(out).write_text(data, encoding="utf-8", newline="")
    records = sum(1 for line in lines if not line.startswith('{"anchor"'))
    typer.echo(
        f"exported {records} records of borrower {borrower} to {out}; "
        f"check it with: python -m arrears.cli.check_export {out}"
    )


@app.command()
def show(
    borrower: str = typer.Option(..., "--borrower", help="Whose chain."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON."),
) -> None:
    """List a borrower's evidence records in order."""
    with _connection(db) as conn:
        records = log.load_chain(conn, borrower)
    if not records:
        _fail(f"no evidence for borrower {borrower!r}", 1)
    if as_json:
        typer.echo(
            json.dumps([json.loads(r.to_json()) for r in records], ensure_ascii=False, indent=2)
        )
        return
    for r in records:
        typer.echo(f"{r.seq:>5}  {r.at_text}  {r.kind:<18} {r.hash[:12]}  {r.payload_json()}")


@app.command()
def seal(
    label: str = typer.Option(..., "--label", help="Name of the root, e.g. the business date."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the root as JSON."),
) -> None:
    """Store a root over all chains' current heads (the close does this once a day)."""
    with _connection(db) as conn:
        stored = _guard(lambda: log.store_root(conn, label, datetime.now(UTC)))
    if as_json:
        typer.echo(json.dumps(stored.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(
            f"root {stored.label!r} = {stored.root} "
            f"({stored.chains} chains, {stored.records} records)"
        )
