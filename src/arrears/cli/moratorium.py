"""``arrears moratorium ...`` (UK Breathing Space) and ``arrears dispute ...`` (Regulation F
written disputes): the holds on collection that the law names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from arrears.cli.common import (
    DbOption,
    JsonOption,
    parse_date,
    parse_instant,
    print_json,
    transaction,
    unwrap,
)
from arrears.services import debt_disputes as disputes
from arrears.services import moratoria

T = TypeVar("T")

moratorium_app = typer.Typer(
    help="Breathing Space and mental health crisis moratoria (England and Wales).",
    no_args_is_help=True,
)
dispute_app = typer.Typer(
    help="Written disputes of a debt and original-creditor requests (Reg F 1006.38).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add ``moratorium`` and ``dispute`` to the top-level command."""
    app.add_typer(moratorium_app, name="moratorium")
    app.add_typer(dispute_app, name="dispute")


def _show(record: moratoria.MoratoriumRecord) -> str:
    until = record.ends_on.isoformat() if record.ends_on is not None else "until ended"
    loans = ", ".join(record.loan_ids)
    return (
        f"moratorium {record.moratorium_id} ({record.ref}): {record.kind} for "
        f"{record.borrower_id} from {record.starts_on} through {until}; loans {loans}"
    )


@moratorium_app.command("start")
def moratorium_start(
    borrower: Annotated[str, typer.Option(help="Borrower id")],
    kind: Annotated[str, typer.Option(help="breathing-space | mental-health-crisis")],
    from_: Annotated[str, typer.Option("--from", help="First day in force (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option(help="Its reference, e.g. the Insolvency Service's")],
    until: Annotated[
        str | None, typer.Option(help="Last day in force, if known (mental health crisis only)")
    ] = None,
    loan: Annotated[
        list[str] | None, typer.Option(help="A moratorium debt (repeat); default every active loan")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a moratorium: contact about its debts stops and no penalty accrues while in force."""
    last = parse_date(until, "until") if until is not None else None
    with transaction(db) as conn:
        record = unwrap(
            moratoria.start_moratorium(
                conn,
                ref=ref,
                borrower_id=borrower,
                kind=kind,
                starts_on=parse_date(from_, "from"),
                until=last,
                loan_ids=loan or (),
                now=datetime.now(UTC),
            )
        )
    print_json(record.as_dict()) if json_out else typer.echo(_show(record))


@moratorium_app.command("end")
def moratorium_end(
    moratorium_id: int,
    reason: Annotated[str, typer.Option(help="Why it ends (cancelled, treatment ended, ...)")],
    on: Annotated[str | None, typer.Option(help="Its last day in force (YYYY-MM-DD)")] = None,
    treatment_ended: Annotated[
        str | None, typer.Option(help="Mental health crisis: the day the treatment ended")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """End a moratorium early, or set a crisis moratorium's end (treatment end + 30 days)."""
    with transaction(db) as conn:
        record = unwrap(
            moratoria.end_moratorium(
                conn,
                moratorium_id,
                on=parse_date(on, "on") if on is not None else None,
                treatment_ended=parse_date(treatment_ended, "treatment-ended")
                if treatment_ended is not None
                else None,
                reason=reason,
                now=datetime.now(UTC),
            )
        )
    print_json(record.as_dict()) if json_out else typer.echo(_show(record))


@moratorium_app.command("list")
def moratorium_list(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Moratoria on record, in force or ended."""
    with transaction(db) as conn:
        found = moratoria.list_moratoria(conn, borrower)
    if json_out:
        print_json([m.as_dict() for m in found])
        return
    for m in found:
        typer.echo(_show(m))


@dispute_app.command("open")
def dispute_open(
    loan: Annotated[str, typer.Option(help="The disputed loan")],
    kind: Annotated[str, typer.Option(help="dispute | original-creditor")],
    received: Annotated[str, typer.Option(help="Day the written request came in (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option(help="Reference of the letter or form")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a written dispute: collection of the debt pauses until verification is sent."""
    with transaction(db) as conn:
        made = unwrap(
            disputes.open_debt_dispute(
                conn,
                ref=ref,
                loan_id=loan,
                kind=kind,
                received_on=parse_date(received, "received"),
                now=datetime.now(UTC),
            )
        )
    if json_out:
        print_json(made.as_dict())
    else:
        typer.echo(f"dispute {made.dispute_id} on {made.loan_id}: collection paused")


@dispute_app.command("verification-sent")
def dispute_verification_sent(
    dispute_id: int,
    at: Annotated[str | None, typer.Option(help="When it was sent (ISO 8601 with offset)")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Verification (or the original creditor's name) was sent: collection may resume."""
    with transaction(db) as conn:
        done = unwrap(
            disputes.record_verification_sent(
                conn, dispute_id, sent_at=parse_instant(at, "at"), now=datetime.now(UTC)
            )
        )
    if json_out:
        print_json(done.as_dict())
    else:
        typer.echo(f"dispute {dispute_id}: verification sent; collection of {done.loan_id} resumes")


@dispute_app.command("list")
def dispute_list(
    loan: Annotated[str | None, typer.Option(help="Only this loan")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Written disputes on record."""
    with transaction(db) as conn:
        found = disputes.list_debt_disputes(conn, loan)
    if json_out:
        print_json([d.as_dict() for d in found])
        return
    for d in found:
        state = "verification sent" if d.verification_sent_at else "collection paused"
        typer.echo(f"dispute {d.dispute_id} ({d.ref}) {d.kind} on {d.loan_id}: {state}")
