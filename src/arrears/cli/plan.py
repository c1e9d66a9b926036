"""`arrears plan`: the borrower's plans. `plan payoff`: several debts, one monthly budget."""

from __future__ import annotations

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
    parse_money,
    print_json,
    unwrap,
)
from arrears.core.borrower.payoff import METHODS, Debt, PayoffPlan, compare, parse_debt, plan_payoff
from arrears.core.money import fmt
from arrears.core.problem import Problem
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
