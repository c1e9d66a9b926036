"""The collection close and the compliance audit on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from arrears.cli.common import (
    EXIT_BAD_INPUT,
    BehaviourOption,
    DbOption,
    JsonOption,
    SettingsOption,
    behaviour_model,
    fail,
    lender_settings,
    open_db,
    parse_date,
    phase_bar,
    print_json,
    unwrap,
)
from arrears.core.close.report import CloseReport
from arrears.core.money import fmt
from arrears.core.strategy.model import PolicySet
from arrears.services.close.day import CloseConfig
from arrears.services.collection.audit import audit
from arrears.services.policy_files import default_policy_set, load_policy_set

EXIT_VIOLATIONS = 3

PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="A policy or policy-set YAML (champion/challenger); default: the bundled policy",
    ),
]


def load_policies(path: Path | None) -> PolicySet:
    if path is None:
        return default_policy_set()
    if not path.exists():
        fail(f"--policy: {path} does not exist", EXIT_BAD_INPUT)
    loaded, problems = load_policy_set(path)
    if loaded is None:
        fail("; ".join(map(str, problems)), EXIT_BAD_INPUT)
    return loaded


def print_report(r: CloseReport) -> None:
    console = Console()
    console.print(
        f"[bold]close {r.business_date}[/bold] ({r.engine}): {r.loans_aged} loans aged "
        f"({r.loan_days} loan-days), {r.entries_posted} journal entries, "
        f"{r.cases_open} open cases"
    )
    buckets = Table("bucket", "loans", "overdue", "outstanding", title="portfolio")
    for b in r.buckets:
        buckets.add_row(b.bucket, str(b.loans), fmt(b.overdue), fmt(b.outstanding))
    console.print(buckets)
    if r.rolls:
        rolls = Table("from", "to", "loans", "of", "rate", title="roll rates since yesterday")
        for x in r.rolls:
            if x.from_bucket != x.to_bucket:
                rolls.add_row(x.from_bucket, x.to_bucket, str(x.loans), str(x.of), x.rate)
        console.print(rolls)
    q = r.queue
    console.print(
        f"call queue: {q.planned} calls chosen for a capacity of {q.capacity}"
        f" ({q.over_capacity} over capacity, not planned today); {q.expired} expired undialled;"
        f" {q.open} open"
    )
    acts = Table("channel", "policy", "enqueued", title="actions")
    for (channel, policy), n in sorted(r.actions.items()):
        acts.add_row(channel, policy, str(n))
    for (kind, policy), n in sorted(r.routings.items()):
        acts.add_row(f"→ {kind}", policy, str(n))
    console.print(acts)
    if r.blocked:
        blocked = Table("rule", "contacts blocked", title="blocked by the compliance gate")
        for rule, n in sorted(r.blocked.items()):
            blocked.add_row(rule, str(n))
        console.print(blocked)
    p = r.promises
    console.print(
        f"promises: {p.due} fell due; settled: kept {p.kept}, partly kept {p.partly_kept}, "
        f"broken {p.broken}"
    )
    console.print("phases: " + ", ".join(f"{k} {v:.2f}s" for k, v in r.phases.items()), style="dim")


def audit_cmd(
    borrower: Annotated[
        str | None, typer.Option("--borrower", help="Only this borrower's contacts")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check every recorded contact again, from scratch, against its rule pack.

    Exit 0 when every contact was allowed, 3 when any was not (each one listed)."""
    engine = open_db(db)
    with engine.connect() as conn:
        found = audit(conn, None if borrower is None else [borrower])
    if json_out:
        print_json(
            {
                "borrowers": found.borrowers,
                "contacts": found.contacts,
                "violations": [f.as_dict() for f in found.findings],
            }
        )
    else:
        typer.echo(
            f"{found.contacts} contacts of {found.borrowers} borrowers checked: "
            f"{len(found.findings)} not allowed"
        )
        for f in found.findings:
            rules = ", ".join(v.rule for v in f.violations)
            typer.echo(f"  {f.borrower_id} {f.attempt_key} {f.at} {f.channel}/{f.party}: {rules}")
    if found.findings:
        raise typer.Exit(EXIT_VIOLATIONS)


def simulate_cmd(
    days: Annotated[int, typer.Option("--days", min=1, max=400, help="Business days to run")],
    start: Annotated[
        str | None,
        typer.Option("--start", help="First business date (YYYY-MM-DD), on the --db's loans"),
    ] = None,
    loans: Annotated[
        int | None,
        typer.Option(
            "--loans",
            min=10,
            help="Generate this many loans and run --policy (and --challenger) over them, "
            "each in its own new database, side by side",
        ),
    ] = None,
    challenger: Annotated[
        Path | None, typer.Option("--challenger", help="A second policy to run beside --policy")
    ] = None,
    rules: Annotated[
        str | None,
        typer.Option(
            "--rules",
            help="One rule pack for every borrower: cn, us-reg-f or uk-conc "
            "(default: each borrower's own)",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the comparison as an HTML page")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="The report's language: zh-CN or en")] = "en",
    db: DbOption = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for borrowers' answers")] = 0,
    policy: PolicyOption = None,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio",
            help="The generated loans file: its behaviour column decides how borrowers answer "
            "(default: everyone answers like a late payer)",
        ),
    ] = None,
    json_out: JsonOption = False,
    settings_file: SettingsOption = None,
    behaviour: BehaviourOption = None,
) -> None:
    """Run the collection operation for --days with simulated borrowers and agents.

    With --loans: a new generated book, the same for every policy, and --policy beside
    --challenger over it (recovery, cure and roll rates, cost per yuan recovered, promises,
    contacts blocked), printed, as --json, or as an HTML --report with charts."""
    if loans is not None:
        if start is not None or db is not None or portfolio is not None:
            fail("--loans runs on a new generated book: leave out --start, --db and --portfolio",
                 EXIT_BAD_INPUT)  # fmt: skip
        _compare(loans, days, seed, policy, challenger, rules, report, lang, json_out,
                 settings_file, behaviour)  # fmt: skip
        return
    if start is None:
        fail("--start: give the first business date, or --loans N to generate a book",
             EXIT_BAD_INPUT)  # fmt: skip
    if challenger is not None or rules is not None or report is not None:
        fail("--challenger, --rules and --report compare policies: give --loans N", EXIT_BAD_INPUT)
    from arrears.services.simulation.operation import portfolio_behaviours, simulate

    behaviours = {} if portfolio is None else unwrap(portfolio_behaviours(portfolio))
    policies = load_policies(policy)
    settings = lender_settings(settings_file)
    lender = settings.lender
    model = behaviour_model(behaviour)
    engine = open_db(db)
    first = parse_date(start, "start")
    with phase_bar(json_out) as progress:
        result = simulate(
            engine,
            first,
            days,
            CloseConfig(policies, lender=lender, capacity=settings.capacity),
            behaviours,
            seed=seed,
            model=model,
            on_day=lambda day, _: progress("days", (day - first).days + 1, days),
        )
    summary = result.summary(first, days)
    if json_out:
        print_json(summary)
    else:
        typer.echo(
            f"simulated {summary['start']} to {summary['through']}: "
            f"{summary['actions']} contacts enqueued, "
            f"{summary['blocked']} blocked by the gate, {result.calls} calls, "
            f"{result.promises} promises, {result.payments} payments, "
            f"{result.visits_reported} visits"
        )


def _compare(
    loans: int,
    days: int,
    seed: int,
    policy: Path | None,
    challenger: Path | None,
    rules: str | None,
    report: Path | None,
    lang: str,
    json_out: bool,
    settings_file: str | None,
    behaviour: Path | None,
) -> None:
    import tempfile

    from arrears.core.compliance.packs import PACKS
    from arrears.services.simulation.strategy import StrategyRun, compare_policies
    from arrears.services.simulation.strategy_report import comparison_data, render_report

    if rules is not None and rules not in PACKS:
        fail(f"--rules: unknown rule pack {rules!r}: use {', '.join(sorted(PACKS))}",
             EXIT_BAD_INPUT)  # fmt: skip
    if lang not in ("zh-CN", "en"):
        fail(f"--lang: {lang!r} is not a report language: use zh-CN or en", EXIT_BAD_INPUT)
    if report is not None and report.suffix.lower() not in (".html", ".htm"):
        fail(f"--report: {report} is not an .html file", EXIT_BAD_INPUT)
    runs = [StrategyRun(_policy_name(policy, "default"), load_policies(policy))]
    if challenger is not None:
        name = _policy_name(challenger, "challenger")
        if name == runs[0].name:
            name = f"{name} (challenger)"
        runs.append(StrategyRun(name, load_policies(challenger)))
    settings = lender_settings(settings_file)
    model = behaviour_model(behaviour)
    with tempfile.TemporaryDirectory() as work, phase_bar(json_out) as progress:
        comparison = compare_policies(
            runs, loans=loans, days=days, seed=seed, rules=rules, settings=settings,
            model=model, workdir=Path(work), progress=progress,
        )  # fmt: skip
    data = comparison_data(comparison)
    if report is not None:
        report.write_text(render_report(comparison, lang), encoding="utf-8")
    if json_out:
        print_json(data)
        return
    _print_comparison(data)
    if report is not None:
        typer.echo(f"report: {report}")


def _policy_name(path: Path | None, default: str) -> str:
    return default if path is None else path.stem


def _print_comparison(data: dict[str, object]) -> None:
    runs = data["runs"]
    assert isinstance(runs, list)
    table = Table("measure", *(r["policy"] for r in runs))
    for key, label in (
        ("overdue_loans_first_day", "loans overdue on day 1"),
        ("recovered", "recovered (yuan)"),
        ("recovery_rate", "recovery rate"),
        ("cure_rate", "cure rate"),
        ("roll_rate", "roll rate"),
        ("contact_cost", "cost of contacts (yuan)"),
        ("cost_per_yuan_recovered", "cost per yuan recovered"),
        ("blocked_total", "contacts blocked"),
        ("promise_kept_rate", "promise-kept rate"),
        ("overdue_loan_days", "overdue loan-days"),
    ):
        table.add_row(label, *(str(r[key]) for r in runs))
    Console().print(
        f"{data['loans']} loans, {data['start']} to {data['through']}, seed {data['seed']}"
    )
    Console().print(table)
