"""``arrears loan restructure``: change a loan's terms, with an approver and a reason."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import (
    DbOption,
    JsonOption,
    parse_instant,
    parse_money,
    print_json,
    read_documents,
    transaction,
    unwrap,
)
from arrears.services.restructuring import list_restructures, restructure


def restructure_cmd(
    loan_id: str,
    key: Annotated[str, typer.Option(help="Idempotency key: the same key again applies once")],
    by: Annotated[str, typer.Option("--by", help="The approver")],
    reason: Annotated[
        str, typer.Option(help="job_loss, illness, business_failure, disaster, other")
    ],
    months: Annotated[int, typer.Option(help="The new term, in monthly installments")],
    rate: Annotated[
        str | None, typer.Option(help="The new yearly rate, e.g. 6% (default: no interest)")
    ] = None,
    waive_interest: Annotated[str, typer.Option(help="Overdue interest waived")] = "0",
    waive_penalty: Annotated[str, typer.Option(help="Penalty waived")] = "0",
    note: Annotated[str, typer.Option(help="Why, for the file")] = "",
    document: Annotated[
        list[Path] | None, typer.Option(help="A supporting document (kept by SHA-256)")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When, ISO 8601 with offset")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Restructure a loan (债务重组): a longer term, a new rate, interest and penalty waived or
    capitalised; the loan is re-aged on the ledger and classified at least special mention
    through the observation period."""
    docs = read_documents(document)
    with transaction(db) as conn:
        done = unwrap(
            restructure(
                conn,
                key=key,
                loan_id=loan_id,
                approved_by=by,
                reason=reason,
                at=parse_instant(at, "at"),
                months=months,
                rate=rate,
                waive_interest=parse_money(waive_interest, "waive_interest"),
                waive_penalty=parse_money(waive_penalty, "waive_penalty"),
                note=note,
                documents=docs,
            )
        )
    if json_out:
        print_json(done.as_dict())
        return
    again = " (already recorded)" if done.already_recorded else ""
    typer.echo(
        f"loan {done.loan_id} restructured{again} (no. {done.count}, {done.dpd_before} days "
        f"overdue before): {done.months} months at {done.rate or 'no interest'}, observed "
        f"until {done.observe_until}"
    )


def restructures_cmd(
    loan_id: Annotated[str | None, typer.Argument(help="Only this loan's")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Restructures, oldest first."""
    with transaction(db) as conn:
        found = list_restructures(conn, loan_id)
    if json_out:
        print_json([r.as_dict() for r in found])
        return
    for r in found:
        typer.echo(
            f"{r.restructure_id}\t{r.loan_id}\tno. {r.count}\t{r.on_date}\t{r.months} months\t"
            f"{r.rate or 'no interest'}\tby {r.approved_by}\tobserved until {r.observe_until}"
        )
