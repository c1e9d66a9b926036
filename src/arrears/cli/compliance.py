"""`arrears compliance`: check a proposed contact against a rule pack; list a pack's rules.

Exit codes: 0 allowed, 3 blocked, 2 bad input (the message names the line and field).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from arrears.cli.common import fail, unwrap
from arrears.core.compliance.model import Decision
from arrears.core.compliance.packs import PACKS
from arrears.services.compliance_check import Named, check_contact, pack_rules

EXIT_ALLOWED, EXIT_BAD_INPUT, EXIT_BLOCKED = 0, 2, 3

app = typer.Typer(
    name="compliance",
    help="The compliance gate: check contacts against the cn, us-reg-f or uk-conc rules.",
    no_args_is_help=True,
)

PackId = Enum("PackId", {pid.replace("-", "_"): pid for pid in PACKS}, type=str)  # type: ignore[misc]

RulesOption = Annotated[
    PackId, typer.Option("--rules", help="Rule pack.", case_sensitive=False, show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        fail(f"{what} {path}: cannot read ({err.__class__.__name__}: {err})", EXIT_BAD_INPUT)


def _show_decision(decision: Decision) -> None:
    typer.echo("allowed" if decision.allowed else "blocked")
    for v in decision.violations:
        typer.echo(f"  violation {v.rule}: {v.message}\n    source: {v.source}")
    for w in decision.warnings:
        typer.echo(f"  warning {w.rule}: {w.message}\n    source: {w.source}")


@app.command("check")
def check_command(
    rules: RulesOption,
    history: Annotated[
        Path, typer.Option("--history", help="JSON Lines file: one past contact per line.")
    ],
    proposed: Annotated[
        Path, typer.Option("--proposed", help="JSON file: the proposed contact plus `context`.")
    ],
    settings: Annotated[
        Path | None,
        typer.Option("--settings", help="JSON file: the lender's stricter limits."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check one proposed contact against the borrower's history. Exit 0 allowed, 3 blocked,
    2 bad input."""
    decision = unwrap(
        check_contact(
            rules.value,
            Named(str(history), _read(history, "history")),
            Named(str(proposed), _read(proposed, "proposed")),
            None if settings is None else Named(str(settings), _read(settings, "settings")),
        )
    )
    if as_json:
        typer.echo(json.dumps(decision.as_dict(), ensure_ascii=False, indent=2))
    else:
        _show_decision(decision)
    raise typer.Exit(EXIT_ALLOWED if decision.allowed else EXIT_BLOCKED)


@app.command("rules")
def rules_command(rules: RulesOption, as_json: JsonOption = False) -> None:
    """List every rule of a pack with its source, and the pack's limits."""
    found = unwrap(pack_rules(rules.value))
    listed = [asdict(r) for r in found.rules]
    if as_json:
        payload = {
            "pack": found.pack,
            "title": found.title,
            "rules_sha256": found.rules_sha256,
            "limits": found.limits,
        }
        typer.echo(json.dumps({**payload, "rules": listed}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{found.pack}: {found.title} (rules {found.rules_sha256})")
    for name, value in found.limits.items():
        typer.echo(f"  limit {name} = {value}")
    for r in listed:
        typer.echo(f"{r['rule']} [{r['severity']}]: {r['message']}\n    source: {r['source']}")
