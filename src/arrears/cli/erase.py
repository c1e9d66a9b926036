"""``arrears erase``: erase borrowers' personal data at the end of retention. The rule and
the writes are the service's (``arrears.services.erasure``); this only reads the options and
prints what was done."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    SettingsOption,
    fail,
    lender_settings,
    parse_date,
    phase_bar,
    print_json,
    transaction,
    unwrap,
)
from arrears.services import erasure


def _show_due(run: erasure.DueRun) -> str:
    done = "would erase" if run.dry_run else "erased"
    names = ", ".join(run.due) or "none"
    kept = ", ".join(f"{reason} {n}" for reason, n in sorted(run.kept.items())) or "none"
    return (
        f"{run.on}: {run.checked} borrowers with every loan finished checked; "
        f"{done} {len(run.due)}: {names}; kept: {kept}"
    )


def _show_one(done: erasure.Erased) -> str:
    if done.already_erased:
        return f"borrower {done.borrower_id}: already erased on {done.erased_on}; nothing changed"
    return (
        f"borrower {done.borrower_id}: personal data erased on {done.erased_on} "
        f"({done.rows_changed} rows; evidence record {done.evidence_seq})"
    )


def erase_cmd(
    due: Annotated[
        bool, typer.Option("--due", help="Every borrower due for erasure on the date")
    ] = False,
    borrower: Annotated[
        str | None, typer.Option("--borrower", help="One borrower, refused unless due")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--date", help="The day (YYYY-MM-DD; default: today)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --due: list who is due, change nothing")
    ] = False,
    db: DbOption = None,
    settings_file: SettingsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Erase personal data (names, numbers, addresses, what people wrote) of borrowers whose
    loans are all finished and whose retention period has run; loans, the ledger and the
    evidence log stay, and the log still verifies. Exit 2: not due (with the reason)."""
    if due == (borrower is not None):
        fail("give exactly one of --due and --borrower ID", EXIT_BAD_INPUT)
    if dry_run and not due:
        fail("--dry-run goes with --due", EXIT_BAD_INPUT)
    day = date.today() if on is None else parse_date(on, "--date")
    settings = lender_settings(settings_file)
    if borrower is not None:
        with transaction(db) as conn:
            one = unwrap(erasure.erase_borrower(conn, borrower, day, settings=settings))
        print_json(one.as_dict()) if json_out else typer.echo(_show_one(one))
        return
    with phase_bar(quiet=json_out) as report, transaction(db) as conn:
        run = unwrap(
            erasure.erase_due_borrowers(
                conn,
                day,
                dry_run,
                settings=settings,
                progress=lambda done, total: report("erasing", done, total),
            )
        )
    print_json(run.as_dict()) if json_out else typer.echo(_show_due(run))
