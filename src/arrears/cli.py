"""The ``arrears`` command line (Typer). Sub-apps live beside the code they drive."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from arrears.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    DbOption,
    JsonOption,
    fail,
    open_db,
    parse_date,
    print_json,
)
from arrears.compliance.cli import app as compliance_app
from arrears.contact.cli import app as outbox_app
from arrears.credit.cli import app as credit_app
from arrears.evidence.cli import app as evidence_app
from arrears.loans.product import DEFAULT_PRODUCT, Component, Method
from arrears.loans.schedule import LoanTerms, schedule_for
from arrears.money import MoneyError, Rate, RateBasis, fmt, parse_amount
from arrears.services import events as ev
from arrears.services.close import KERNELS, CloseResult, Kernel, close_through
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments
from arrears.services.reports import loan_json, loan_view, portfolio_summary
from arrears.strategy.cli import app as policy_app

app = typer.Typer(
    name="arrears",
    help="Overdue consumer loans end to end: ledger, ageing, collection, compliance, evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(compliance_app, name="compliance")
app.add_typer(evidence_app, name="evidence")
app.add_typer(outbox_app, name="outbox")
app.add_typer(policy_app, name="policy")
app.add_typer(credit_app, name="credit")

calc_app = typer.Typer(help="Loan arithmetic without a database.", no_args_is_help=True)
loans_app = typer.Typer(help="Bring loans in.", no_args_is_help=True)
loan_app = typer.Typer(help="One loan.", no_args_is_help=True)
portfolio_app = typer.Typer(help="The whole portfolio.", no_args_is_help=True)
app.add_typer(calc_app, name="calc")
app.add_typer(loans_app, name="loans")
app.add_typer(loan_app, name="loan")
app.add_typer(portfolio_app, name="portfolio")

console = Console()


@calc_app.command("schedule")
def calc_schedule(
    principal: Annotated[str, typer.Option(help="Amount lent, e.g. 10000 or 10000.00")],
    months: Annotated[int, typer.Option(help="Number of monthly installments")],
    method: Annotated[Method, typer.Option(help="Repayment method")] = Method.ANNUITY,
    annual_rate: Annotated[str | None, typer.Option(help="e.g. 4.9% or 0.049")] = None,
    daily_rate: Annotated[str | None, typer.Option(help="e.g. 0.05% or 0.0005")] = None,
    start: Annotated[str | None, typer.Option(help="Disbursement date (default today)")] = None,
    due_day: Annotated[int | None, typer.Option(help="Repayment day of month")] = None,
    json_out: JsonOption = False,
) -> None:
    """Print a repayment schedule."""
    if (annual_rate is None) == (daily_rate is None):
        fail("give exactly one of --annual-rate or --daily-rate", EXIT_BAD_INPUT)
    try:
        amount = parse_amount(principal)
        rate = (
            Rate.parse(annual_rate, RateBasis.ANNUAL)
            if annual_rate is not None
            else Rate.parse(str(daily_rate), RateBasis.DAILY)
        )
    except MoneyError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    if amount <= 0:
        fail(f"principal: must be positive, got {principal}", EXIT_BAD_INPUT)
    if not 1 <= months <= 360:
        fail(f"months: must be 1..360, got {months}", EXIT_BAD_INPUT)
    start_on = parse_date(start, "start") if start else date.today()
    try:
        sched = schedule_for(
            LoanTerms("calc", amount, rate, months, method, start_on, due_day), DEFAULT_PRODUCT
        )
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    total_interest = sum(i.interest for i in sched)
    if json_out:
        print_json(
            {
                "installments": [
                    {
                        "n": i.n,
                        "due_date": i.due_date.isoformat(),
                        "principal": fmt(i.principal),
                        "interest": fmt(i.interest),
                        "payment": fmt(i.payment),
                        "balance": fmt(i.balance),
                    }
                    for i in sched
                ],
                "total_interest": fmt(total_interest),
                "total_payment": fmt(total_interest + amount),
            }
        )
        return
    table = Table("n", "due date", "principal", "interest", "payment", "balance")
    for i in sched:
        table.add_row(
            str(i.n),
            i.due_date.isoformat(),
            fmt(i.principal),
            fmt(i.interest),
            fmt(i.payment),
            fmt(i.balance),
        )
    console.print(table)
    console.print(
        f"total interest {fmt(total_interest)}, total paid {fmt(total_interest + amount)}"
    )


@loans_app.command("import")
def loans_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file (columns: see README)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import loans, all or nothing: any bad row writes nothing."""
    engine = open_db(db)
    res = import_file(engine, file, dry_run=dry_run)
    if isinstance(res, list):
        if json_out:
            print_json(
                {"errors": [{"row": e.row, "column": e.column, "reason": e.reason} for e in res]}
            )
        else:
            for e in res:
                typer.echo(str(e), err=True)
        fail(f"{len(res)} problem(s) in {file}; nothing was imported", EXIT_BAD_INPUT)
    if json_out:
        print_json({"loans": res.loans, "borrowers": res.borrowers, "dry_run": res.dry_run})
    else:
        verb = "would import" if res.dry_run else "imported"
        typer.echo(f"{verb} {res.loans} loans for {res.borrowers} new borrowers")


@loan_app.command("show")
def loan_show(
    loan_id: str,
    as_of: Annotated[str | None, typer.Option(help="Read the loan as of this date")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What a loan owes, how overdue it is, and what falls due next."""
    engine = open_db(db)
    on = parse_date(as_of, "as_of") if as_of else None
    with engine.connect() as conn:
        view = loan_view(conn, loan_id, on)
    if isinstance(view, ev.Problem):
        fail(str(view), EXIT_FAILED if view.field == "loan_id" else EXIT_BAD_INPUT)
    data = loan_json(view)
    if json_out:
        print_json(data)
        return
    console.print(
        f"[bold]{data['loan_id']}[/] as of {data['as_of']}: {data['status']}, "
        f"DPD {data['dpd']} ({data['bucket']}, {data['classification']})"
    )
    for label in ("overdue", "outstanding"):
        a = data[label]
        console.print(
            f"  {label:<12} {a['total']:>12}  (principal {a['principal']}, "
            f"interest {a['interest']}, penalty {a['penalty']})"
        )
    if data["next_due"]:
        console.print(
            f"  next due     {data['next_due']['amount']:>12}  on {data['next_due']['date']}"
        )


def _applied(res: ev.Applied | ev.Problem, json_out: bool) -> None:
    if isinstance(res, ev.Problem):
        fail(str(res), EXIT_FAILED if res.missing else EXIT_BAD_INPUT)
    alloc = res.allocation
    data: dict[str, Any] = {
        "loan_id": res.loan_id,
        "ref": res.ref,
        "kind": res.kind,
        "already_applied": res.already_applied,
        "allocation": None
        if alloc is None
        else {
            "penalty": fmt(alloc.penalty),
            "interest": fmt(alloc.interest + alloc.prepaid_interest),
            "principal": fmt(alloc.principal + alloc.prepaid_principal),
            "early_principal": fmt(alloc.prepaid_principal),
        },
        "status": res.aged.status,
        "dpd": res.aged.dpd,
        "outstanding": fmt(res.aged.outstanding.total),
    }
    if json_out:
        print_json(data)
    elif res.already_applied:
        typer.echo(f"{res.kind} {res.ref} was already applied; nothing changed")
    else:
        typer.echo(
            f"{res.kind} {res.ref} applied to {res.loan_id}: now {res.aged.status}, "
            f"DPD {res.aged.dpd}, outstanding {data['outstanding']}"
        )
        if data["allocation"]:
            a = data["allocation"]
            typer.echo(
                f"  penalty {a['penalty']}, interest {a['interest']}, principal {a['principal']}"
                f" (early {a['early_principal']})"
            )


@app.command("pay")
def pay(
    loan_id: str,
    amount: str,
    on: Annotated[str, typer.Option("--on", help="Payment date (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option("--ref", help="Unique payment reference (idempotency key)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Apply a payment by the product's waterfall; the same --ref twice applies once."""
    try:
        minor = parse_amount(amount)
    except MoneyError as exc:
        fail(f"amount: {exc}", EXIT_BAD_INPUT)
    if not ref.strip():
        fail("ref: must not be empty", EXIT_BAD_INPUT)
    _applied(ev.pay(open_db(db), loan_id, minor, parse_date(on, "on"), ref), json_out)


@app.command("reverse")
def reverse(
    payment_ref: Annotated[str, typer.Argument(help="The ref of the payment to reverse")],
    on: Annotated[str, typer.Option("--on", help="Reversal date (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option("--ref", help="Unique reference of this reversal")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reverse a payment: a new entry undoes it and the loan is re-aged."""
    _applied(ev.reverse(open_db(db), payment_ref, ref, parse_date(on, "on")), json_out)


@app.command("waive")
def waive(
    loan_id: str,
    component: Annotated[str, typer.Argument(help="What to waive: penalty or interest")],
    amount: str,
    on: Annotated[str, typer.Option("--on", help="Waiver date (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option("--ref", help="Unique reference (idempotency key)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Waive owed penalty or interest (posted to expense:waiver); the same --ref applies once."""
    if component not in (Component.PENALTY.value, Component.INTEREST.value):
        fail(f"component: must be penalty or interest, got {component!r}", EXIT_BAD_INPUT)
    try:
        minor = parse_amount(amount)
    except MoneyError as exc:
        fail(f"amount: {exc}", EXIT_BAD_INPUT)
    if not ref.strip():
        fail("ref: must not be empty", EXIT_BAD_INPUT)
    res = ev.waive(open_db(db), loan_id, Component(component), minor, parse_date(on, "on"), ref)
    _applied(res, json_out)


@app.command("write-off")
def write_off(
    loan_id: str,
    on: Annotated[str, typer.Option("--on", help="Write-off date (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option("--ref", help="Unique reference (idempotency key)")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the loan off: its receivables go to expense:write-off and it stops ageing."""
    if not ref.strip():
        fail("ref: must not be empty", EXIT_BAD_INPUT)
    _applied(ev.write_off(open_db(db), loan_id, parse_date(on, "on"), ref), json_out)


def _close_with_progress(
    engine: Engine,
    through: date,
    quiet: bool,
    kernel: Kernel = "polars",
    chunk_size: int | None = None,
) -> CloseResult:
    """Run the close with a progress bar on stderr (none when the output is JSON)."""
    with Progress(
        TextColumn("closing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("close", total=None)
        if chunk_size is not None:
            import arrears.close.runner as runner
            import arrears.services.close as reference

            runner.CHUNK = reference.CHUNK = chunk_size
        return close_through(
            engine,
            through,
            lambda done, total: bar.update(task, completed=done, total=total),
            kernel=kernel,
        )


@app.command("close-day")
def close_day_cmd(
    through: Annotated[
        str | None, typer.Option(help="Close through this date (default yesterday)")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    engine_name: Annotated[
        str, typer.Option("--engine", help="polars (columnar, default) or reference (per loan)")
    ] = "polars",
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", min=1, help="Loans per transaction")
    ] = None,
) -> None:
    """Age every active loan for each date up to --through. Idempotent and resumable."""
    if engine_name not in KERNELS:
        fail(f"--engine: {engine_name!r} is not one of {', '.join(KERNELS)}", EXIT_BAD_INPUT)
    engine = open_db(db)
    until = parse_date(through, "through") if through else date.today() - timedelta(days=1)
    res = _close_with_progress(
        engine,
        until,
        quiet=json_out,
        kernel="polars" if engine_name == "polars" else "reference",
        chunk_size=chunk_size,
    )
    data = {
        "through": until.isoformat(),
        "loans_aged": res.loans_aged,
        "loan_days": res.loan_days,
        "entries_posted": res.entries_posted,
        "by_bucket": res.by_bucket,
    }
    if json_out:
        print_json(data)
    else:
        typer.echo(
            f"closed through {until}: {res.loans_aged} loans aged ({res.loan_days} loan-days), "
            f"{res.entries_posted} journal entries"
        )


payments_app = typer.Typer(help="Payments in bulk.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")

DATA = Path(__file__).with_name("data")
DEMO_AS_OF = date(2026, 11, 28)


@payments_app.command("import")
def payments_import(
    file: Annotated[Path, typer.Argument(help="CSV with loan_id, amount, paid_on, ref")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Apply a file of payments, all or nothing; refs already applied are skipped."""
    res = import_payments(open_db(db), file)
    problems = [r for r in res if not isinstance(r, ev.Applied)]
    if problems:
        for p in problems:
            typer.echo(str(p), err=True)
        fail(f"{len(problems)} problem(s) in {file}; no payment was applied", EXIT_BAD_INPUT)
    applied = [r for r in res if isinstance(r, ev.Applied)]
    new = sum(1 for r in applied if not r.already_applied)
    if json_out:
        print_json({"applied": new, "already_applied": len(applied) - new})
    else:
        typer.echo(f"applied {new} payments ({len(applied) - new} already applied)")


@app.command("demo")
def demo(
    db: Annotated[str, typer.Option("--db", help="SQLite file to (re)create")] = "demo.db",
) -> None:
    """Create a database, import the bundled sample portfolio and its payments, close, summarise."""
    path = Path(db)
    if "://" not in db:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    engine = open_db(db)
    res = import_file(engine, DATA / "sample_portfolio.csv")
    if isinstance(res, list):
        fail("; ".join(map(str, res)))
    typer.echo(f"imported {res.loans} loans for {res.borrowers} borrowers into {db}")
    paid = import_payments(engine, DATA / "sample_payments.csv")
    if any(not isinstance(r, ev.Applied) for r in paid):
        fail("; ".join(map(str, paid)))
    typer.echo(f"applied {len(paid)} payments")
    closed = _close_with_progress(engine, DEMO_AS_OF, quiet=False)
    typer.echo(f"closed through {DEMO_AS_OF}: {closed.loans_aged} loans aged")
    portfolio_summary_cmd(db=db, json_out=False)
    typer.echo(f"try: arrears loan show L000005 --db {db}")


@portfolio_app.command("summary")
def portfolio_summary_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Counts and amounts by bucket and classification."""
    engine = open_db(db)
    with engine.connect() as conn:
        data = portfolio_summary(conn)
    if json_out:
        print_json(data)
        return
    console.print(
        f"as of {data['as_of']}: {data['active']} active loans, outstanding {data['outstanding']},"
        f" overdue {data['overdue']}"
    )
    for key, title in (("by_bucket", "bucket"), ("by_classification", "classification")):
        table = Table(title, "loans", "outstanding", "overdue")
        for row in data[key]:
            table.add_row(row["name"], str(row["loans"]), row["outstanding"], row["overdue"])
        console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
