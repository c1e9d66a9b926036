"""`arrears policy`: validate, show and explain collection policies.

Exit codes: 0 fine (warnings are printed but do not fail), 2 invalid file or bad input.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from arrears.cli.common import EXIT_BAD_INPUT, fail, print_json
from arrears.core.compliance.packs import PACKS
from arrears.core.money import fmt
from arrears.core.strategy.case import parse_case
from arrears.core.strategy.choose import explain
from arrears.core.strategy.model import Policy, PolicySet, Segment, Step
from arrears.services.policy_files import bundled_policy_path, check_policy_files, load_policy_set

app = typer.Typer(
    name="policy",
    help="Collection policies (YAML): validate against a rule pack, show, explain a case.",
    no_args_is_help=True,
)

PackId = Enum("PackId", {pid.replace("-", "_"): pid for pid in PACKS}, type=str)  # type: ignore[misc]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _plain(value: Any) -> Any:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _load(path: Path) -> PolicySet:
    loaded, problems = load_policy_set(path)
    if loaded is None:
        for e in problems:
            typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    return loaded


@app.command("validate")
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Policy or policy-set YAML files.")],
    rules: Annotated[
        PackId | None,
        typer.Option(
            "--rules",
            help="Rule pack to check against [default: the policy's rule_pack, else all packs].",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check policy files: errors exit 2; warnings (steps a rule pack would mostly block)
    are printed and exit 0."""
    pack = rules.value if rules is not None else None
    checked = check_policy_files(files, pack)
    report = checked.as_dict()
    if as_json:
        print_json(report)
    else:
        for e in checked.errors:
            typer.echo(f"error: {e}", err=True)
        for r in report["files"]:
            names = ", ".join(f"{p['name']} ({p['share']}/{p['of']})" for p in r["policies"])
            typer.echo(f"{r['file']}: valid: {names}")
            for w in r["warnings"]:
                step = f" step {w['step']}" if w["step"] else ""
                typer.echo(
                    f"  warning [{w['pack']}] {w['policy']}{step}: {w['code']}: {w['message']}"
                )
    if not checked.valid:
        raise typer.Exit(EXIT_BAD_INPUT)


def _timing(step: Step) -> str:
    if step.dpd_from is None:
        return "D-" + ",D-".join(map(str, step.before_due))
    return f"DPD {step.dpd_from}" + (f"-{step.dpd_to}" if step.dpd_to is not None else "+")


def _conditions(step: Step) -> str:
    parts = []
    if step.min_overdue:
        parts.append(f"overdue>={fmt(step.min_overdue)}")
    if step.segments:
        parts.append("segments " + ",".join(step.segments))
    if step.unreachable_days_at_least:
        parts.append(f"unreachable>={step.unreachable_days_at_least}d")
    if step.requires_approval:
        parts.append("approval")
    if step.purpose != "collection":
        parts.append(step.purpose)
    return "; ".join(parts)


def _segment_text(seg: Segment) -> str:
    parts = []
    if seg.overdue_from is not None or seg.overdue_to is not None:
        lo = fmt(seg.overdue_from) if seg.overdue_from is not None else "0"
        hi = fmt(seg.overdue_to) if seg.overdue_to is not None else ""
        parts.append(f"overdue {lo}..{hi}")
    if seg.risk_from is not None or seg.risk_to is not None:
        parts.append(f"risk {seg.risk_from or 0}..{seg.risk_to if seg.risk_to is not None else ''}")
    if seg.first_time is not None:
        parts.append("first-time" if seg.first_time else "repeat")
    return ", ".join(parts) or "every case"


def _policy_json(policy: Policy, share: int, total: int) -> dict[str, Any]:
    data = _plain(dataclasses.asdict(policy))
    for step in data["steps"]:
        step["min_overdue"] = fmt(step["min_overdue"])
    for seg in data["segments"]:
        for k in ("overdue_from", "overdue_to"):
            if seg[k] is not None:
                seg[k] = fmt(seg[k])
    if data["legal"] is not None:
        data["legal"]["min_overdue"] = fmt(data["legal"]["min_overdue"])
    return {"share": share, "of": total, **data}


@app.command("show")
def show_command(
    file: Annotated[Path, typer.Argument(help="Policy or policy-set YAML file.")],
    as_json: JsonOption = False,
) -> None:
    """Print a policy (or each policy of a set) as read: steps, segments, escalations."""
    loaded = _load(file)
    if as_json:
        print_json(
            {"policies": [_policy_json(m.policy, m.share, loaded.total) for m in loaded.members]}
        )
        return
    # Off a terminal (pipes, files) rich would wrap at 80 columns and cut the table.
    console = Console() if Console().is_terminal else Console(width=160)
    for m in loaded.members:
        p = m.policy
        console.print(
            f"[bold]{p.name}[/bold]  share {m.share}/{loaded.total}  "
            f"rule pack: {p.rule_pack or '(per borrower)'}"
        )
        table = Table(
            "step", "channel", "party", "when", "at", "every", "priority", "conditions", "template"
        )
        for s in p.steps:
            table.add_row(
                s.name,
                s.channel,
                s.party,
                _timing(s),
                s.at.strftime("%H:%M"),
                f"{s.cadence_days}d",
                str(s.priority),
                _conditions(s),
                s.template,
            )
        console.print(table)
        for seg in p.segments:
            console.print(f"  segment {seg.name}: {_segment_text(seg)}")
        b = p.broken_promise
        console.print(
            f"  broken promise: for {b.within_days} day(s) priority +{b.raise_priority}"
            + (f", jump to {', '.join(b.jump_to)}" if b.jump_to else "")
        )
        console.print(f"  hardship pauses contact: {p.hardship_pauses_contact}")
        if p.legal is not None:
            console.print(
                f"  legal referral: DPD {p.legal.dpd_from}+, overdue >= {fmt(p.legal.min_overdue)}"
            )


@app.command("explain")
def explain_command(
    case: Annotated[Path, typer.Option("--case", help="JSON file: one CaseView.")],
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="Policy or policy-set file [default: the bundled default].",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Which steps fire today for this case, and why the others do not."""
    path = policy or bundled_policy_path("default")
    loaded, problems = load_policy_set(path)
    if loaded is None:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        fail(f"{problems[0]}{more}", EXIT_BAD_INPUT)
    try:
        data = json.loads(case.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        fail(f"{case}: cannot read ({err.__class__.__name__})", EXIT_BAD_INPUT)
    except json.JSONDecodeError as err:
        fail(f"{case}: not JSON: {err.msg} at line {err.lineno}", EXIT_BAD_INPUT)
    parsed, problems = parse_case(data, str(case))
    if parsed is None:
        for problem in problems:  # every field at fault, one line each
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    ex = explain(parsed, loaded)
    result = {
        "policy": ex.policy,
        "segment": ex.segment,
        "paused_by": list(ex.paused_by),
        "promise_broken_recently": ex.promise_broken_recently,
        "steps": [
            {"step": t.step, "outcome": t.outcome, "reasons": list(t.reasons)} for t in ex.steps
        ],
        "actions": [_plain(dataclasses.asdict(a)) for a in ex.choice.actions],
        "routings": [_plain(dataclasses.asdict(r)) for r in ex.choice.routings],
    }
    if as_json:
        print_json(result)
        return
    typer.echo(f"policy {ex.policy}; segment {ex.segment or '(none)'}")
    if ex.paused_by:
        typer.echo("collection paused: " + "; ".join(ex.paused_by))
    if ex.promise_broken_recently:
        typer.echo("a promise was broken recently: escalation applies")
    for t in ex.steps:
        mark = {"action": "FIRES", "routing": "ROUTE", "skipped": "skip "}[t.outcome]
        typer.echo(f"  {mark} {t.step}: {'; '.join(t.reasons)}")
    for a in ex.choice.actions:
        typer.echo(
            f"action: {a.step} {a.channel} to {a.party} at "
            f"{a.local_time.strftime('%H:%M')} priority {a.priority} ({a.template})"
        )
    for r in ex.choice.routings:
        typer.echo(f"routing: {r.kind}: {r.reason}")
