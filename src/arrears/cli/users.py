"""``arrears users``: staff accounts for the API and the web app."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

import typer

from arrears.cli.common import DbOption, transaction, unwrap
from arrears.services.staff import ROLES, add_user

app = typer.Typer(help="Staff accounts: username, password, role.", no_args_is_help=True)


@app.command("add")
def add(
    username: str,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}")],
    db: DbOption = None,
) -> None:
    """Add a staff member. The password is read from $ARREARS_NEW_PASSWORD, else asked for
    (never an option: it would stay in the shell's history)."""
    password = os.environ.get("ARREARS_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    with transaction(db) as conn:
        user = unwrap(add_user(conn, username, password, role, datetime.now(UTC)))
    typer.echo(f"added {user.username} ({user.role})")
