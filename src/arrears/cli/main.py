"""The ``arrears`` command line (Typer). Sub-apps live beside the code they drive."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, select

from arrears.cli import collection as cases_cli
from arrears.cli import collector, erase, moratorium, restructure, serve, verify
from arrears.cli.borrower import app as borrower_app
from arrears.cli.common import (
    EXIT_BAD_INPUT,
    BehaviourOption,
    DbOption,
    JsonOption,
    SettingsOption,
    TodayOption,
    behaviour_model,
    fail,
    lender_settings,
    open_db,
    parse_date,
    parse_money,
    phase_bar,
    print_json,
    today_or_now,
    unwrap,
)
from arrears.cli.complaints import app as complaints_app
from arrears.cli.compliance import app as compliance_app
from arrears.cli.credit import app as credit_app
from arrears.cli.dashboard import dashboard_cmd
from arrears.cli.engine_commands import (
    PolicyOption,
    audit_cmd,
    load_policies,
    print_report,
    simulate_cmd,
)
from arrears.cli.evidence import app as evidence_app
from arrears.cli.outbox import app as outbox_app
from arrears.cli.plan import app as plan_app
from arrears.cli.policy import app as policy_app
from arrears.cli.users import app as users_app
from arrears.core.loans.product import DEFAULT_PRODUCT, Component, Method
from arrears.core.loans.schedule import LoanTerms, schedule_for
from arrears.core.money import MoneyError, Rate, RateBasis, fmt, parse_amount
from arrears.core.problem import Problem, Result
from arrears.services import events
from arrears.services.close.day import CloseConfig, close_business_day, default_workers
from arrears.services.close.reference import (
    ACCRUAL_KERNELS,
    AccrualKernel,
    CloseResult,
    close_through,
)
from arrears.services.close.spark_engine import spark_missing
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments
from arrears.services.reports import loan_json, loan_view, portfolio_summary
from arrears.services.simulation.demo import DEMO_DAYS
from arrears.store import tables

app = typer.Typer(
    name="arrears",
    help="Overdue consumer loans end to end: ledger, ageing, collection, compliance, evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(compliance_app, name="compliance")
app.add_typer(complaints_app, name="complaints")
app.add_typer(users_app, name="users")
app.add_typer(evidence_app, name="evidence")
app.add_typer(outbox_app, name="outbox")
app.add_typer(policy_app, name="policy")
app.add_typer(plan_app, name="plan")
app.add_typer(borrower_app, name="borrower")
app.add_typer(cases_cli.case_app, name="case")
app.add_typer(cases_cli.queue_app, name="queue")
app.add_typer(cases_cli.outcome_app, name="outcome")
app.add_typer(cases_cli.promise_app, name="promise")
app.add_typer(cases_cli.visit_app, name="visit")
app.add_typer(collector.collector_app, name="collectors")
app.add_typer(collector.collector_app, name="collector", hidden=True)
app.command("verify")(verify.verify_cmd)
app.command("erase")(erase.erase_cmd)
app.command("verify-credential")(verify.verify_credential_cmd)
app.command("verify-channel")(verify.verify_channel_cmd)
app.add_typer(credit_app, name="credit")
moratorium.register(app)

calc_app = typer.Typer(help="Loan arithmetic without a database.", no_args_is_help=True)
loans_app = typer.Typer(help="Bring loans in.", no_args_is_help=True)
loan_app = typer.Typer(help="One loan.", no_args_is_help=True)
portfolio_app = typer.Typer(help="The whole portfolio.", no_args_is_help=True)
app.add_typer(calc_app, name="calc")
app.add_typer(loans_app, name="loans")
app.add_typer(loan_app, name="loan")
loan_app.command("restructure")(restructure.restructure_cmd)
app.command("serve")(serve.serve_cmd)
loan_app.command("restructures")(restructure.restructures_cmd)
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


def _file_problem_json(p: Problem) -> dict[str, Any]:
    """A bad row of an input file as ``loans import --json`` has always printed it."""
    return {
        "line": p.line,
        "row": p.line - 1 if p.line else 0,
        "record": p.record if p.line else "",
        "column": p.field or "file",
        "reason": p.reason,
    }


@loans_app.command("import")
def loans_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file (columns: see README)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only")] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
    today: TodayOption = None,
) -> None:
    """Import loans, all or nothing: any bad row writes nothing."""
    engine = open_db(db)
    with phase_bar(quiet=json_out) as report:
        res, problems = import_file(
            engine, file, dry_run=dry_run, progress=report, today=today_or_now(today)
        )
    if res is None:
        if json_out:
            print_json({"errors": [_file_problem_json(p) for p in problems]})
        else:
            for p in problems:
                typer.echo(str(p), err=True)
        fail(f"{len(problems)} problem(s) in {file}; nothing was imported", EXIT_BAD_INPUT)
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
        view = unwrap(loan_view(conn, loan_id, on))
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


def _applied(result: Result[events.Applied], json_out: bool) -> None:
    res = unwrap(result)
    data: dict[str, Any] = res.as_dict()
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
    minor = parse_money(amount, "amount")
    if not ref.strip():
        fail("ref: must not be empty", EXIT_BAD_INPUT)
    _applied(events.pay(open_db(db), loan_id, minor, parse_date(on, "on"), ref), json_out)


@app.command("reverse")
def reverse(
    payment_ref: Annotated[str, typer.Argument(help="The ref of the payment to reverse")],
    on: Annotated[str, typer.Option("--on", help="Reversal date (YYYY-MM-DD)")],
    ref: Annotated[str, typer.Option("--ref", help="Unique reference of this reversal")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reverse a payment: a new entry undoes it and the loan is re-aged."""
    _applied(events.reverse(open_db(db), payment_ref, ref, parse_date(on, "on")), json_out)


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
    minor = parse_money(amount, "amount")
    if not ref.strip():
        fail("ref: must not be empty", EXIT_BAD_INPUT)
    res = events.waive(open_db(db), loan_id, Component(component), minor, parse_date(on, "on"), ref)
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
    _applied(events.write_off(open_db(db), loan_id, parse_date(on, "on"), ref), json_out)


def _close_with_progress(
    engine: Engine,
    through: date,
    quiet: bool,
    kernel: AccrualKernel = "polars",
    loans_per_chunk: int | None = None,
) -> CloseResult:
    """Run the accrual alone, with a progress bar on stderr (none when the output is JSON)."""
    with phase_bar(quiet) as progress:
        return close_through(
            engine,
            through,
            lambda done, total: progress("accrual", done, total),
            kernel=kernel,
            loans_per_chunk=loans_per_chunk,
        )


@app.command("close-day")
def close_day_cmd(
    through: Annotated[
        str | None,
        typer.Option(help="The business date to close (default: today). Loans catch up to it."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    engine_name: Annotated[
        str,
        typer.Option(
            "--engine",
            help="polars (columnar, default), reference (per loan) or spark (the columnar "
            "kernel on Apache Spark: arrears[spark], docs/scale.md)",
        ),
    ] = "polars",
    chunk_size: Annotated[
        int | None, typer.Option("--chunk-size", min=1, help="Loans per accrual transaction")
    ] = None,
    policy: PolicyOption = None,
    collect: Annotated[
        bool,
        typer.Option(
            "--collect/--no-collect",
            help="Choose, gate and enqueue today's contacts (default) or only accrue and age",
        ),
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes planning the gate's chunks while this one writes "
            "(default: one per core, at most 4; 1 plans and writes in turn)",
        ),
    ] = None,
    settings_file: SettingsOption = None,
) -> None:
    """Close a business day: accrue and age every loan; then choose today's contacts by the
    policy, check each with the compliance gate, enqueue the allowed ones and record the
    blocked ones; print the close report. Idempotent and resumable."""
    if engine_name not in ACCRUAL_KERNELS:
        fail(
            f"--engine: {engine_name!r} is not one of {', '.join(ACCRUAL_KERNELS)}", EXIT_BAD_INPUT
        )
    kernel = next(k for k in ACCRUAL_KERNELS if k == engine_name)
    if kernel == "spark" and (why := spark_missing()):
        fail(why, EXIT_BAD_INPUT)
    policies = load_policies(policy)
    settings = lender_settings(settings_file)
    lender = settings.lender
    engine = open_db(db)
    until = parse_date(through, "through") if through else date.today()
    if not collect:
        res = _close_with_progress(engine, until, json_out, kernel, chunk_size)
        if json_out:
            print_json(res.as_dict())
        else:
            typer.echo(
                f"closed through {until}: {res.loans_aged} loans aged "
                f"({res.loan_days} loan-days), {res.entries_posted} journal entries"
            )
        return
    with phase_bar(quiet=json_out) as progress:
        report = close_business_day(
            engine,
            until,
            CloseConfig(
                policies,
                lender=lender,
                kernel=kernel,
                workers=workers or default_workers(),
                capacity=settings.capacity,
                loans_per_chunk=chunk_size,
            ),
            progress=progress,
        )
    if json_out:
        print_json(
            {
                "through": until.isoformat(),
                "by_bucket": {b.bucket: b.loans for b in report.buckets},
                **report.as_dict(),
            }
        )
    else:
        print_report(report)


app.command("audit")(audit_cmd)
app.command("simulate")(simulate_cmd)
app.command("dashboard")(dashboard_cmd)


payments_app = typer.Typer(help="Payments in bulk.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")


@payments_app.command("import")
def payments_import(
    file: Annotated[Path, typer.Argument(help="CSV with loan_id, amount, paid_on, ref")],
    db: DbOption = None,
    json_out: JsonOption = False,
    today: TodayOption = None,
) -> None:
    """Apply a file of payments, all or nothing; refs already applied are skipped."""
    with phase_bar(quiet=json_out) as report:
        res = import_payments(open_db(db), file, progress=report, today=today_or_now(today))
    applied, problems = res
    if applied is None:
        for p in problems:
            typer.echo(str(p), err=True)
        fail(f"{len(problems)} problem(s) in {file}; no payment was applied", EXIT_BAD_INPUT)
    new = sum(1 for r in applied if not r.already_applied)
    if json_out:
        print_json({"applied": new, "already_applied": len(applied) - new})
    else:
        typer.echo(f"applied {new} payments ({len(applied) - new} already applied)")


@app.command("demo")
def demo(
    db: Annotated[str, typer.Option("--db", help="SQLite file to (re)create")] = "demo.db",
    loans: Annotated[int, typer.Option("--loans", min=10, help="Generated loans")] = 10_000,
    days: Annotated[int, typer.Option("--days", min=1, max=120, help="Days to run")] = DEMO_DAYS,
    settings_file: SettingsOption = None,
    behaviour: BehaviourOption = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web app after the run")
    ] = True,
    host: Annotated[str, typer.Option(help="Address the web app listens on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the web app listens on")] = 8000,
) -> None:
    """A seeded portfolio run through ninety days of collection with simulated borrowers,
    then the web app on it.

    Creates the database afresh, generates and imports a typical book (a few percent overdue;
    borrowers in China, the US and the UK under their rule packs) with its payment history and
    collectors, runs the daily close (accrual, policy, compliance gate, outbox, agent queue,
    visits, promises, plans, complaints, evidence) day by day, prints the last close report,
    and serves the borrower portal and the collection console with logins to try (borrowers'
    sign-in codes appear on this console: there is no SMS gateway in a demo)."""
    import dataclasses
    from datetime import UTC, datetime

    from arrears.api.app import default_config
    from arrears.cli.serve import run as run_server
    from arrears.services.simulation.demo import demo_logins, run_demo

    settings = lender_settings(settings_file)
    model = behaviour_model(behaviour)
    path = Path(db)
    if "://" not in db:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    engine = open_db(db)
    with phase_bar(quiet=False) as progress:
        run = run_demo(engine, loans, days, settings, model, progress)
    result = run.result
    typer.echo(
        f"{db}: {run.borrowers} borrowers, {run.start} to {run.last_day}: "
        f"{run.enqueued} contacts enqueued, {run.blocked} blocked by the gate, "
        f"{result.calls} calls, {result.promises} promises, {result.payments} payments, "
        f"{result.visits_reported} home visits, {result.plans_requested} plans asked for "
        f"({result.plans_in_force} in force), {result.complaints} complaints and "
        f"{result.disputes} disputes of the amount"
    )
    print_report(run.reports[-1])
    if not serve:
        typer.echo(
            "\ntry:\n"
            f"  arrears loan show {run.never_loan} --db {db}\n"
            f"  arrears evidence show --borrower {run.never_borrower} --db {db}  (the escalation)\n"
            f"  arrears audit --db {db}                        (every contact re-checked)\n"
            f"  arrears queue list --db {db}\n"
            f"  arrears outbox list --db {db}\n"
            f"  arrears credit history {run.never_loan} --db {db}\n"
            f"  arrears demo --db {db} ... (without --no-serve: the web app)"
        )
        return
    logins, problems = demo_logins(engine, datetime.now(UTC))
    if logins is None:
        fail(str(problems[0]), EXIT_BAD_INPUT)
    engine.dispose()
    # Plain HTTP on this machine: the session cookie cannot be Secure-only here.
    config = dataclasses.replace(default_config(db, show_codes=True), cookie_secure=False)
    with config.engine.connect() as conn:
        phone = conn.execute(
            select(tables.borrowers.c.phone).where(
                tables.borrowers.c.borrower_id == run.never_borrower
            )
        ).scalar_one()
    base = f"http://{host}:{port}"
    lines = [
        f"\nthe web app: {base}/   (API: {base}/api/v1, docs: {base}/docs; Ctrl-C stops)",
        f"  borrower:  {base}/signin  phone {phone} ({run.never_borrower}, who has not paid);"
        " the SMS code is printed here",
    ]
    lines += [
        f"  {x.role + ':':<17}{base}/staff/signin  {x.username} / {x.password}" for x in logins
    ]
    typer.echo("\n".join(lines))
    run_server(config, host, port)


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


@portfolio_app.command("generate")
def portfolio_generate(
    loans: Annotated[int, typer.Option("--loans", help="Number of loans", min=1)],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes")],
    out: Annotated[Path, typer.Option("--out", help="Loans file, .parquet or .csv")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Payments up to this date (default today)")
    ] = None,
    payments_out: Annotated[
        Path | None, typer.Option("--payments-out", help="Payments file, .parquet or .csv")
    ] = None,
    mix: Annotated[
        str,
        typer.Option(
            "--mix",
            help="Payment behaviours: stress (the heavy back book the benchmarks use) or "
            "typical (the --behaviour file's book, a few percent overdue)",
        ),
    ] = "stress",
    behaviour: BehaviourOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a synthetic portfolio (and its payments) that `loans import` accepts."""
    from arrears.core.sim.generate import generate
    from arrears.core.sim.model import STRESS_MIX
    from arrears.services.portfolio_files import write_table

    on = parse_date(as_of, "as_of") if as_of else date.today()
    if mix not in ("stress", "typical"):
        fail(f"--mix: unknown mix {mix!r}: use stress or typical", EXIT_BAD_INPUT)
    drawn = STRESS_MIX if mix == "stress" else behaviour_model(behaviour).mix
    for path in (out, payments_out):
        if path is not None and path.suffix.lower() not in (".csv", ".parquet"):
            fail(f"{path}: unknown format {path.suffix!r}: use .csv or .parquet", EXIT_BAD_INPUT)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=json_out,
        transient=True,
    ) as bar:
        task = bar.add_task(f"generating {loans} loans", total=3)
        portfolio = generate(loans, seed, on, mix=drawn)
        bar.update(task, advance=1, description=f"writing {out}")
        write_table(portfolio.loans, out)
        bar.update(task, advance=1)
        if payments_out is not None:
            bar.update(task, description=f"writing {payments_out}")
            write_table(portfolio.payments, payments_out)
        bar.update(task, advance=1)
    data = {
        "loans": portfolio.loans.height,
        "borrowers": portfolio.loans["borrower_id"].n_unique(),
        "payments": portfolio.payments.height if payments_out is not None else 0,
        "as_of": on.isoformat(),
        "out": str(out),
        "payments_out": None if payments_out is None else str(payments_out),
    }
    if json_out:
        print_json(data)
    else:
        typer.echo(
            f"wrote {data['loans']} loans for {data['borrowers']} borrowers to {out}"
            + (f" and {data['payments']} payments to {payments_out}" if payments_out else "")
        )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
