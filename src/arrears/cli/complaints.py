"""``arrears complaints ...``: a borrower's complaints, their outcome, and the counts."""

from __future__ import annotations

from typing import Annotated

import typer

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    fail,
    parse_date,
    parse_instant,
    print_json,
    transaction,
    unwrap,
)
from arrears.services.collection.complaints import (
    AGAINST,
    OUTCOMES,
    complaint_counts,
    decide_complaint,
    file_complaint,
    list_complaints,
)

app = typer.Typer(
    help="Borrowers' complaints: file, decide, list (open, overdue), count by collector, "
    "agency and rule.",
    no_args_is_help=True,
)

AtOption = Annotated[
    str | None, typer.Option("--at", help="When, ISO 8601 with offset (default: now)")
]


def _evidence(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        fail("evidence: must be record numbers separated by commas, e.g. 3,7", EXIT_BAD_INPUT)


@app.command("add")
def add(
    borrower_id: str,
    key: Annotated[str, typer.Option(help="Idempotency key: the same key again applies once")],
    against: Annotated[str, typer.Option(help=f"What about: {', '.join(AGAINST)}")],
    text: Annotated[str, typer.Option(help="What happened, in the borrower's words")],
    loan: Annotated[str | None, typer.Option(help="The loan it is about")] = None,
    collector: Annotated[str | None, typer.Option(help="The collector complained of")] = None,
    rule: Annotated[str | None, typer.Option(help="The rule broken, e.g. cn.hours")] = None,
    evidence: Annotated[
        str, typer.Option(help="Records of the borrower's evidence chain, e.g. 3,7")
    ] = "",
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """File a borrower's complaint; prints its id and the date it must be answered by."""
    with transaction(db) as conn:
        done = unwrap(
            file_complaint(
                conn,
                key=key,
                borrower_id=borrower_id,
                at=parse_instant(at, "at"),
                against=against,
                text=text,
                loan_id=loan,
                collector_id=collector,
                rule=rule,
                evidence=_evidence(evidence),
            )
        )
    if json_out:
        print_json(done.as_dict())
    else:
        again = " (already recorded)" if done.already_recorded else ""
        typer.echo(f"complaint {done.complaint_id}{again}: answer due by {done.due_on}")


@app.command("decide")
def decide(
    complaint_id: int,
    outcome: Annotated[str, typer.Option(help=f"One of {', '.join(OUTCOMES)}")],
    note: Annotated[str, typer.Option(help="What was found and done, for the borrower")],
    by: Annotated[str, typer.Option(help="Who decided (staff id)")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Close a complaint with its outcome."""
    with transaction(db) as conn:
        done = unwrap(
            decide_complaint(
                conn, complaint_id, outcome=outcome, note=note, by=by, at=parse_instant(at, "at")
            )
        )
    if json_out:
        print_json(done.as_dict())
    else:
        typer.echo(f"complaint {done.complaint_id}: {done.status}")


@app.command("list")
def list_cmd(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower's")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open ones")] = False,
    overdue: Annotated[
        str | None, typer.Option(help="Only those open past their deadline on this date")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Complaints, oldest first."""
    on = parse_date(overdue, "overdue") if overdue is not None else None
    with transaction(db) as conn:
        found = list_complaints(conn, borrower_id=borrower, open_only=open_only, overdue_on=on)
    if json_out:
        print_json([c.as_dict() for c in found])
        return
    for c in found:
        who = f" collector {c.collector_id}" if c.collector_id else ""
        rule = f" rule {c.rule}" if c.rule else ""
        typer.echo(
            f"{c.complaint_id}\t{c.borrower_id}\t{c.against}{who}{rule}\t{c.status}\tdue {c.due_on}"
        )


@app.command("counts")
def counts(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Complaints by collector, agency and rule (complaints / open / upheld)."""
    with transaction(db) as conn:
        found = complaint_counts(conn)
    if json_out:
        print_json(found.as_dict())
        return
    for title, rows in (
        ("by collector", found.by_collector),
        ("by agency", found.by_agency),
        ("by rule", found.by_rule),
    ):
        typer.echo(title)
        for c in rows:
            typer.echo(
                f"  {c.name or '(own staff)'}\t{c.complaints}\topen {c.open}\tupheld {c.upheld}"
            )
