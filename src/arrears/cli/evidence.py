"""``arrears evidence ...``: verify the log, export or show a borrower's chain, seal a root."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from arrears.cli.common import parse_instant, unwrap
from arrears.cli.verify import notice
from arrears.core.evidence.chain import EvidenceError
from arrears.core.evidence.pack import check_pack
from arrears.services import evidence as log
from arrears.services.collection.evidence_pack import build_pack, render_pack_html
from arrears.services.own_records import CHANNELS, FILE_KINDS, OwnRecord, add_file, add_note
from arrears.services.settings import default_settings
from arrears.services.verification_keys import load_public_key, signing_key
from arrears.store.engine import database_url, make_engine
from arrears.store.profile_tables import borrower_profiles

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
    borrower: str = typer.Option(..., "--borrower", help="Whose records."),
    out: str = typer.Option(..., "--out", help="File to write; '-' for stdout."),
    format_: str = typer.Option(
        "pack",
        "--format",
        help="pack: everything recorded, signed JSON (and --html); chain: the chain as JSON lines.",
    ),
    html: Path | None = typer.Option(
        None, "--html", help="The pack as a readable page (default: FILE with .html)."
    ),
    language: str | None = typer.Option(
        None, "--language", help="The page's language, zh-CN or en (default: the borrower's)."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Write a borrower's evidence pack (or bare chain) for checking without the server."""
    if format_ not in ("pack", "chain"):
        _fail(f"format: {format_!r} is not one of pack, chain")
    if format_ == "chain":
        _export_chain(borrower, out, db)
        return
    if language not in (None, "zh-CN", "en"):
        _fail(f"language: {language!r} is not one of zh-CN, en")
    key = unwrap(signing_key(os.environ, notice))
    settings = default_settings()
    with _connection(db) as conn:
        lang = language or _language(conn, borrower)
        built = unwrap(
            build_pack(conn, borrower, datetime.now(UTC), key, settings.lender.name.get(lang))
        )
    page = render_pack_html(built, lang)
    if out == "-":
        sys.stdout.write(built.text)
        return
    Path(out).write_text(built.text, encoding="utf-8", newline="")
    page_path = html or Path(out).with_suffix(".html")
    page_path.write_text(page, encoding="utf-8", newline="")
    typer.echo(
        f"wrote the evidence pack of borrower {borrower} ({built.records} records) to {out} "
        f"and {page_path}; check it with: arrears evidence verify-pack {out}"
    )


def _language(conn: Connection, borrower_id: str) -> str:
    found = conn.execute(
        select(borrower_profiles.c.language).where(borrower_profiles.c.borrower_id == borrower_id)
    ).scalar()
    return found if found in ("zh-CN", "en") else "zh-CN"


def _export_chain(borrower: str, out: str, db: str | None) -> None:
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


@app.command("verify-pack")
def verify_pack(
    file: Path = typer.Argument(..., help="The evidence pack (JSON)."),
    key: Path | None = typer.Option(
        None, "--key", help="The lender's published public key (PEM or base64url) to compare."
    ),
    root: str | None = typer.Option(
        None, "--root", help="The root value the lender published, to compare with."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verdict as JSON."),
) -> None:
    """Check an evidence pack with no database: exit 0 if intact, 1 naming what is wrong."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot be read: {exc}")
    published = None
    if key is not None:
        try:
            key_text = key.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"{key}: cannot be read: {exc}")
        published = unwrap(load_public_key(key_text, str(key)))
    check = check_pack(text, published, root)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "intact": check.intact,
                    "borrower_id": check.borrower_id,
                    "records": check.records,
                    "anchored": check.anchored,
                    "signed_by": check.signed_by,
                    "problems": [
                        {"record": p.record, "field": p.field, "reason": p.reason}
                        for p in check.problems
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif check.intact:
        anchored = "tied to a published root" if check.anchored else "no root anchor"
        typer.echo(
            f"pack intact: borrower {check.borrower_id}, {check.records} records ({anchored}), "
            f"signed by {check.signed_by}"
        )
    else:
        for problem in check.problems:
            typer.echo(f"pack TAMPERED: {problem}")
    raise typer.Exit(0 if check.intact else 1)


@app.command()
def note(
    borrower: str = typer.Argument(..., help="Whose chain (the borrower's own)."),
    key: str = typer.Option(..., "--key", help="Idempotency key: the same key applies once."),
    happened_at: str = typer.Option(..., "--happened-at", help="When, ISO 8601 with offset."),
    channel: str = typer.Option(..., "--channel", help=f"One of {', '.join(CHANNELS)}."),
    said: str = typer.Option(..., "--said", help="What was said or done."),
    caller_name: str = typer.Option("", "--caller-name", help="The name the caller gave."),
    at: str | None = typer.Option(None, "--at", help="When written (default: now)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """The borrower's own note of a call, visit or message, added to their chain."""
    when, happened = parse_instant(at, "at"), parse_instant(happened_at, "happened_at")
    with _connection(db) as conn:
        done = unwrap(
            add_note(
                conn,
                key=key,
                borrower_id=borrower,
                at=when,
                happened_at=happened,
                channel=channel,
                caller_name=caller_name,
                said=said,
            )
        )
    _print_own(done, as_json)


@app.command()
def attach(
    borrower: str = typer.Argument(..., help="Whose chain (the borrower's own)."),
    file: Path = typer.Option(..., "--file", help="The screenshot, recording or document."),
    kind: str = typer.Option(..., "--kind", help=f"One of {', '.join(FILE_KINDS)}."),
    key: str = typer.Option(..., "--key", help="Idempotency key: the same key applies once."),
    at: str | None = typer.Option(None, "--at", help="When added (default: now)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Record a file the borrower keeps by its SHA-256 (the file itself stays with them)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"{file}: cannot be read: {exc}")
    when = parse_instant(at, "at")
    with _connection(db) as conn:
        done = unwrap(
            add_file(
                conn, key=key, borrower_id=borrower, at=when, kind=kind, name=file.name, data=data
            )
        )
    _print_own(done, as_json)


def _print_own(done: OwnRecord, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(done.as_dict(), ensure_ascii=False, indent=2))
        return
    again = " (already recorded)" if done.already_recorded else ""
    typer.echo(f"record {done.seq} of borrower {done.borrower_id}'s chain{again}: {done.sha256}")


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
