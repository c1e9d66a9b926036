"""`arrears compliance`: check a proposed contact against a rule pack; list a pack's rules.

Exit codes: 0 allowed, 3 blocked, 2 bad input (the message names the line and field).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import time
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from arrears.core.compliance.gate import check
from arrears.core.compliance.limits import LenderSettings, tighten
from arrears.core.compliance.model import Decision
from arrears.core.compliance.pack import Pack
from arrears.core.compliance.packs import PACKS
from arrears.core.compliance.parse import ParseError, parse_history, parse_proposed, parse_settings
from arrears.core.contact.gating import rules_digest

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


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        _fail(f"{what} {path}: cannot read ({err.__class__.__name__}: {err})")


def _where(path: Path, error: ParseError) -> str:
    return f"{path}: {error}"


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
    pack = PACKS[rules.value]
    past = parse_history(_read(history, "history").splitlines())
    if isinstance(past, ParseError):
        _fail(_where(history, past))
    parsed = parse_proposed(_read(proposed, "proposed"))
    if isinstance(parsed, ParseError):
        _fail(_where(proposed, parsed))
    contact, context = parsed
    lender: LenderSettings | None = None
    if settings is not None:
        try:
            raw = json.loads(_read(settings, "settings"))
        except json.JSONDecodeError as err:
            _fail(f"{settings}: line {err.lineno}: not valid JSON: {err.msg}")
        loaded = parse_settings(raw)
        if isinstance(loaded, ParseError):
            _fail(_where(settings, loaded))
        tightened = tighten(pack.limits, loaded)
        if isinstance(tightened, tuple):
            _fail(f"{settings}: " + "; ".join(str(e) for e in tightened))
        lender = loaded
    decision = check(past, contact, context, pack, lender)
    if as_json:
        typer.echo(json.dumps(decision.as_dict(), ensure_ascii=False, indent=2))
    else:
        _show_decision(decision)
    raise typer.Exit(EXIT_ALLOWED if decision.allowed else EXIT_BLOCKED)


def _limits_dict(pack: Pack) -> dict[str, int | str]:
    shown: dict[str, int | str] = {}
    for f in fields(pack.limits):
        value = getattr(pack.limits, f.name)
        if value is not None:
            shown[f.name] = value.strftime("%H:%M") if isinstance(value, time) else value
    return shown


@app.command("rules")
def rules_command(rules: RulesOption, as_json: JsonOption = False) -> None:
    """List every rule of a pack with its source, and the pack's limits."""
    pack = PACKS[rules.value]
    listed = [
        {"rule": r.id, "severity": r.severity, "source": r.source, "message": r.message}
        for r in pack.rules
    ]
    if as_json:
        payload = {
            "pack": pack.id,
            "title": pack.title,
            "rules_sha256": rules_digest(pack),  # as contact.planned records name it
            "limits": _limits_dict(pack),
        }
        typer.echo(json.dumps({**payload, "rules": listed}, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{pack.id}: {pack.title} (rules {rules_digest(pack)})")
    for name, value in _limits_dict(pack).items():
        typer.echo(f"  limit {name} = {value}")
    for r in listed:
        typer.echo(f"{r['rule']} [{r['severity']}]: {r['message']}\n    source: {r['source']}")
