"""`arrears borrower`: the borrower's side. `borrower afford`: what they can pay each month."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    DbOption,
    JsonOption,
    fail,
    lender_settings,
    open_db,
    parse_date,
    parse_instant,
    parse_money,
    print_json,
    transaction,
    unwrap,
)
from arrears.cli.engine_commands import load_policies
from arrears.core.borrower.affordability import Household
from arrears.core.borrower.rights import Rights
from arrears.services.affordability import check_affordability, default_rules
from arrears.services.close.day import CloseConfig
from arrears.services.close.forecast import borrower_forecast, explain_forecast
from arrears.services.collection.borrower_contact import reach_lender
from arrears.services.rights import borrower_rights, pack_rights
from arrears.store.profile_tables import borrower_profiles

app = typer.Typer(help="The borrower's tools.", no_args_is_help=True)


@app.command("afford")
def afford(
    income: Annotated[str, typer.Option(help="Monthly income after tax")],
    expense: Annotated[
        list[str] | None,
        typer.Option(
            "--expense",
            help="CATEGORY=AMOUNT a month, e.g. housing=2500; repeat for each "
            "(categories: arrears borrower categories)",
        ),
    ] = None,
    dependants: Annotated[int, typer.Option(min=0, help="People who depend on your income")] = 0,
    other_debts: Annotated[
        str, typer.Option(help="What you pay other lenders each month, in all")
    ] = "0",
    lang: Annotated[str, typer.Option("--lang", help="zh-CN or en")] = "zh-CN",
    json_out: JsonOption = False,
) -> None:
    """What you can afford to pay each month, and why, from your income and spending."""
    spent: dict[str, int] = {}
    for item in expense or []:
        category, sep, amount = item.partition("=")
        if not sep or not category.strip():
            fail(f"--expense {item}: write CATEGORY=AMOUNT", EXIT_BAD_INPUT)
        key = category.strip()
        spent[key] = spent.get(key, 0) + parse_money(amount, f"--expense {key}")
    household = Household(
        parse_money(income, "--income"),
        spent,
        dependants,
        parse_money(other_debts, "--other-debts"),
    )
    assessed = unwrap(check_affordability(household, lang))
    if json_out:
        print_json(assessed.as_dict())
    else:
        typer.echo(assessed.explanation)


@app.command("categories")
def categories(
    lang: Annotated[str, typer.Option("--lang", help="zh-CN or en")] = "zh-CN",
    json_out: JsonOption = False,
) -> None:
    """The spending categories an affordability check takes (after the UK SFS's groups)."""
    cats = default_rules().categories
    if json_out:
        print_json([{"id": c.id, "group": c.group, "labels": dict(c.labels)} for c in cats])
        return
    for c in cats:
        typer.echo(f"{c.id:<16} {c.group:<9} {c.labels.get(lang, c.labels['en'])}")


@app.command("contact")
def contact(
    borrower_id: str,
    key: Annotated[str, typer.Option(help="Idempotency key: the same key again applies once")],
    message: Annotated[str, typer.Option(help="What the borrower says")] = "",
    callback_at: Annotated[
        str | None,
        typer.Option(help="Ask for a call back at this ISO 8601 time with offset"),
    ] = None,
    loan: Annotated[str | None, typer.Option(help="The loan it is about")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When it was sent, ISO 8601 with offset (now)")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The borrower reaches the lender: a message, or a callback at a chosen time (it goes to
    the top of the agents' queue). Either way the borrower counts as reached that day."""
    when = parse_instant(at, "at")
    back = parse_instant(callback_at, "callback_at") if callback_at is not None else None
    with transaction(db) as conn:
        done = unwrap(
            reach_lender(
                conn,
                key=key,
                borrower_id=borrower_id,
                at=when,
                text=message,
                callback_at=back,
                loan_id=loan,
            )
        )
    if json_out:
        print_json(done.as_dict())
    elif done.already_recorded:
        typer.echo(f"{done.kind} {done.key} was already recorded; nothing changed")
    elif done.callback_at is not None:
        typer.echo(f"callback for {done.borrower_id} queued for {done.callback_at.isoformat()}")
    else:
        typer.echo(f"message from {done.borrower_id} recorded")


def _print_rights(rights: Rights) -> None:
    heads = {
        "zh-CN": ("催收人员可以做和不可以做的事", "投诉渠道", "免费帮助", "依据"),
        "en": ("What collectors may and may not do", "Where to complain", "Free help", "source"),
    }[rights.language]
    typer.echo(heads[0])
    for section in rights.sections:
        typer.echo(f"\n{section.heading}")
        for right in section.rights:
            typer.echo(f"  - {right.text}")
    typer.echo(f"\n{heads[1]}")
    for line in rights.complain:
        typer.echo(f"  - {line}")
    typer.echo(f"\n{heads[2]}")
    for line in rights.help:
        typer.echo(f"  - {line}")


@app.command("rights")
def rights(
    borrower_id: Annotated[
        str | None, typer.Argument(help="The borrower (their pack and language)")
    ] = None,
    pack: Annotated[
        str | None, typer.Option(help="A rule pack instead of a borrower: cn, us-reg-f, uk-conc")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="zh-CN or en (default: the borrower's, else zh-CN)")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What collectors may and may not do under the borrower's rule pack, from the pack's own
    rules, and where to complain or get free help."""
    if (borrower_id is None) == (pack is None):
        fail("give a borrower id or --pack, not both", EXIT_BAD_INPUT)
    if pack is not None:
        found = unwrap(pack_rights(pack, language or "zh-CN"))
    else:
        assert borrower_id is not None
        with transaction(db) as conn:
            found = unwrap(borrower_rights(conn, borrower_id, language))
    if json_out:
        print_json(found.as_dict())
    else:
        _print_rights(found)


@app.command("show")
def show(
    borrower_id: str,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="From this date (default: the last close)")
    ] = None,
    days: Annotated[int, typer.Option(help="How many days ahead, 1-90")] = 30,
    language: Annotated[
        str | None, typer.Option(help="zh-CN or en (default: the borrower's)")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="The policy (set) the close runs (default: bundled)")
    ] = None,
    settings_file: Annotated[
        str | None, typer.Option("--settings", help="The lender's settings file")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """What the borrower owes, and what the close will do on which date if nothing is paid
    (a dry run of the real close on a copy of the borrower's records), with what stops each
    step."""
    settings = lender_settings(settings_file)
    config = CloseConfig(load_policies(policy), lender=settings.lender, capacity=settings.capacity)
    start = parse_date(as_of, "as_of") if as_of is not None else None
    engine = open_db(db)
    try:
        forecast = unwrap(borrower_forecast(engine, borrower_id, config, days=days, as_of=start))
        with engine.connect() as conn:
            own = conn.execute(
                select(borrower_profiles.c.language).where(
                    borrower_profiles.c.borrower_id == borrower_id
                )
            ).scalar()
    finally:
        engine.dispose()
    if json_out:
        print_json(forecast.as_dict())
        return
    lang = language or (own if own in ("zh-CN", "en") else "zh-CN")
    if lang not in ("zh-CN", "en"):
        fail(f"language: {lang!r} is not one of zh-CN, en", EXIT_BAD_INPUT)
    typer.echo(explain_forecast(forecast, lang, settings.lender))
