"""The ``arrears`` command line (Typer). Sub-apps live beside the code they drive."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="arrears",
    help="Overdue consumer loans end to end: ledger, ageing, collection, compliance, evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
