"""`arrears plan`: the borrower's plans. `plan payoff`: several debts, one monthly budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    fail,
    open_db,
    parse_date,
    parse_instant,
    parse_money,
    print_json,
    read_documents,
    transaction,
    unwrap,
)
from arrears.core.borrower.payoff import METHODS, Debt, PayoffPlan, compare, parse_debt, plan_payoff
from arrears.core.money import fmt
from arrears.core.problem import Problem
from arrears.services.collection.plans import (
    Plan,
    accept_offer,
    cancel_plan,
    decide_plan,
    list_plans,
    preview_plan,
    request_plan,
)
from arrears.services.payoff import own_debts

app = typer.Typer(help="Plans for paying what is owed.", no_args_is_help=True)

CHOICES = (*METHODS, "compare")


def _debts(specs: list[str]) -> list[Debt]:
    debts: list[Debt] = []
    problems: list[Problem] = []
    for spec in specs:
        debt, found = parse_debt(spec)
        problems.extend(found)
        if debt is not None:
            debts.append(debt)
    if problems:
        for p in problems[1:]:
            typer.echo(f"error: {p}", err=True)
        fail(str(problems[0]), EXIT_BAD_INPUT)
    return debts


def _print(plan: PayoffPlan, console: Console) -> None:
    console.print(
        f"[bold]{plan.method}[/]: paid off in {plan.months} months, "
        f"{fmt(plan.total_interest)} interest, {fmt(plan.total_paid)} paid in all"
    )
    table = Table("debt", "paid off in month", title=f"order: {', '.join(plan.order)}")
    for name in plan.order:
        table.add_row(name, str(plan.payoff_month[name]))
    console.print(table)


@app.command("payoff")
def payoff(
    budget: Annotated[str, typer.Option(help="What you can pay each month, in all")],
    debt: Annotated[
        list[str] | None,
        typer.Option(
            "--debt",
            help="NAME:BALANCE:APR:MIN, e.g. card:12000:18%:600; add :overdue for a debt past "
            "due. Repeat for each debt.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(help=f"{', '.join(CHOICES)}: which debt gets the money above the minimums"),
    ] = "avalanche",
    order: Annotated[
        str | None, typer.Option(help="For custom: the debts' names in order, a,b,c")
    ] = None,
    borrower: Annotated[
        str | None, typer.Option(help="Add this borrower's own active loans as debts")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A month-by-month plan to pay several debts off: interest first, then every minimum,
    then the rest of the budget to one debt at a time."""
    if method not in CHOICES:
        fail(f"--method: must be one of {', '.join(CHOICES)}, not {method!r}", EXIT_BAD_INPUT)
    monthly = parse_money(budget, "--budget")
    debts = _debts(debt or [])
    if borrower is not None:
        engine = open_db(db)
        with engine.connect() as conn:
            debts += unwrap(own_debts(conn, borrower))
    ordered = tuple(n.strip() for n in order.split(",")) if order else ()
    console = Console()
    if method == "compare":
        plans = unwrap(compare(debts, monthly, ordered))
        if json_out:
            print_json([p.as_dict() for p in plans])
            return
        for p in plans:
            _print(p, console)
        return
    plan = unwrap(plan_payoff(debts, monthly, method, ordered))  # type: ignore[arg-type]
    if json_out:
        print_json(plan.as_dict())
    else:
        _print(plan, console)


AtOption = Annotated[str | None, typer.Option("--at", help="When, ISO 8601 with offset (now)")]


def _show_plan(plan: Plan, json_out: bool) -> None:
    if json_out:
        print_json(plan.as_dict())
        return
    again = " (already recorded)" if plan.already_recorded else ""
    typer.echo(
        f"plan {plan.plan_id}{again}: {plan.status}; {plan.months} months of {fmt(plan.monthly)} "
        f"from {plan.first_due}, {fmt(plan.total)} in all"
        + (f"; {plan.decision_note}" if plan.decision_note else "")
    )


@app.command("preview")
def preview_cmd(
    loan_id: str,
    months: Annotated[int | None, typer.Option(help="Number of monthly installments")] = None,
    monthly: Annotated[
        str | None, typer.Option(help="Or what the borrower can pay a month, e.g. 300")
    ] = None,
    waive_penalty: Annotated[str, typer.Option(help="Penalty the lender forgoes")] = "0",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What an installment plan would be on the loan as it stands: each installment and date."""
    amount = parse_money(monthly, "monthly") if monthly is not None else None
    with transaction(db) as conn:
        shown = unwrap(
            preview_plan(
                conn,
                loan_id,
                months=months,
                monthly=amount,
                waive_penalty=parse_money(waive_penalty, "waive_penalty"),
            )
        )
    data = shown.as_dict()
    if json_out:
        print_json(data)
        return
    typer.echo(
        f"{data['months']} months from {data['first_due']}: {data['monthly']} a month, "
        f"last {data['last']}, {data['total']} in all (penalty waived {data['penalty_waived']})"
    )


@app.command("request")
def request_cmd(
    loan_id: str,
    borrower: Annotated[str, typer.Option(help="The borrower asking")],
    key: Annotated[str, typer.Option(help="Idempotency key: the same key again applies once")],
    reason: Annotated[
        str, typer.Option(help="job_loss, illness, business_failure, forgot, dispute, other")
    ],
    months: Annotated[int | None, typer.Option(help="Number of monthly installments")] = None,
    monthly: Annotated[str | None, typer.Option(help="Or the amount a month")] = None,
    waive_penalty: Annotated[str, typer.Option(help="Penalty asked to be waived")] = "0",
    note: Annotated[str, typer.Option(help="What happened, in the borrower's words")] = "",
    document: Annotated[
        list[Path] | None, typer.Option(help="A supporting document (kept by SHA-256)")
    ] = None,
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The borrower proposes an installment plan; the lender's policy approves it at once or
    sends it to a supervisor."""
    docs = read_documents(document)
    with transaction(db) as conn:
        plan = unwrap(
            request_plan(
                conn,
                key=key,
                borrower_id=borrower,
                loan_id=loan_id,
                at=parse_instant(at, "at"),
                reason=reason,
                months=months,
                monthly=parse_money(monthly, "monthly") if monthly is not None else None,
                waive_penalty=parse_money(waive_penalty, "waive_penalty"),
                note=note,
                documents=docs,
            )
        )
    _show_plan(plan, json_out)


@app.command("decide")
def decide_cmd(
    plan_id: int,
    decision: Annotated[str, typer.Option(help="approve, reject or counter")],
    by: Annotated[str, typer.Option(help="The supervisor")],
    months: Annotated[int | None, typer.Option(help="Counter-offer: months")] = None,
    waive_penalty: Annotated[str | None, typer.Option(help="Counter-offer: penalty waived")] = None,
    note: Annotated[str, typer.Option(help="The reason, for the borrower")] = "",
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A supervisor decides a plan waiting in the queue."""
    waive = parse_money(waive_penalty, "waive_penalty") if waive_penalty is not None else None
    with transaction(db) as conn:
        plan = unwrap(
            decide_plan(
                conn,
                plan_id,
                decision=decision,
                by=by,
                at=parse_instant(at, "at"),
                note=note,
                months=months,
                waive_penalty=waive,
            )
        )
    _show_plan(plan, json_out)


@app.command("accept")
def accept_cmd(
    plan_id: int,
    borrower: Annotated[str, typer.Option(help="The borrower accepting the offer")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The borrower accepts a supervisor's counter-offer: the plan comes into force."""
    with transaction(db) as conn:
        plan = unwrap(accept_offer(conn, plan_id, borrower_id=borrower, at=parse_instant(at, "at")))
    _show_plan(plan, json_out)


@app.command("cancel")
def cancel_cmd(
    plan_id: int,
    by: Annotated[str, typer.Option(help="Who cancels it")],
    note: Annotated[str, typer.Option(help="Why")],
    on: Annotated[str, typer.Option(help="The business date of the reversal")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reverse a plan in force (entered in error): the loan is re-aged back."""
    with transaction(db) as conn:
        plan = unwrap(
            cancel_plan(
                conn,
                plan_id,
                by=by,
                at=parse_instant(at, "at"),
                on=parse_date(on, "on"),
                note=note,
            )
        )
    _show_plan(plan, json_out)


@app.command("list")
def list_cmd(
    borrower: Annotated[str | None, typer.Option(help="Only this borrower's")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="pending (the supervisors' queue), countered, active, broken, ..."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Installment plans, oldest first; ``--status pending`` is the supervisors' queue."""
    with transaction(db) as conn:
        found = list_plans(conn, borrower_id=borrower, status=status)
    if json_out:
        print_json([p.as_dict() for p in found])
        return
    for p in found:
        typer.echo(
            f"{p.plan_id}\t{p.borrower_id}\t{p.loan_id}\t{p.status}\t{p.reason}\t"
            f"{p.months} x {fmt(p.monthly)}\t{fmt(p.total)}"
        )
