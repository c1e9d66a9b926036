"""Shared CLI plumbing: the database option, JSON output, one-line errors and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Engine

from arrears.core.lender.settings import Settings
from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem, Result
from arrears.core.sim.model import BehaviourModel
from arrears.services.settings import load_settings
from arrears.services.simulation.behaviour_file import load_behaviour
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade

T = TypeVar("T")

# Exit codes: 0 done; 1 failed (not found, refused); 2 bad input.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLite file or database URL [env ARREARS_DB; default ./arrears.db]"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="The lender's settings (YAML, docs/settings.md) "
        "[env ARREARS_SETTINGS; default: the bundled lender.yaml]",
    ),
]

BehaviourOption = Annotated[
    Path | None,
    typer.Option(
        "--behaviour",
        help="How simulated borrowers pay and answer (YAML, docs/simulation.md) "
        "[default: the bundled behaviour.yaml]",
    ),
]


def behaviour_model(path: Path | None) -> BehaviourModel:
    """The simulated borrowers' model; a bad file exits 2 with one line per problem."""
    model, problems = load_behaviour(path)
    if model is None:
        for problem in problems[1:]:
            typer.echo(f"error: {problem}", err=True)
        fail(str(problems[0]), EXIT_BAD_INPUT)
    return model


def lender_settings(path: str | None) -> Settings:
    """The lender's settings, checked before anything is worded or sent: a bad file exits 2
    with one line per problem, each naming the key."""
    settings, problems = load_settings(path)
    if settings is None:
        for problem in problems[1:]:
            typer.echo(f"error: {problem}", err=True)
        fail(str(problems[0]), EXIT_BAD_INPUT)
    return settings


def open_db(db: str | None) -> Engine:
    """An engine on an up-to-date schema (migrations run on every open; a no-op when current)."""
    engine = make_engine(db)
    upgrade(engine)
    return engine


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def exit_code(problem: Problem) -> int:
    """Not found exits 1; bad input and a state that forbids it (conflict) exit 2."""
    return EXIT_FAILED if problem.code == "not_found" else EXIT_BAD_INPUT


def refuse(problem: Problem) -> NoReturn:
    fail(str(problem), exit_code(problem))


def unwrap(result: Result[T]) -> T:
    """A service's value; its first Problem ends the command with one line and its exit code
    (raised inside a transaction, it rolls the transaction back)."""
    value, problems = result
    if problems or value is None:
        refuse(problems[0])
    return value


@contextmanager
def transaction(db: str | None) -> Iterator[Connection]:
    """One transaction on the database named by ``--db``: committed when the command ends
    normally, rolled back when it exits with an error."""
    engine = open_db(db)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def parse_money(text: str, field: str) -> int:
    """An amount in the currency's minor units (fen); a bad one ends the command (exit 2)."""
    try:
        return parse_amount(text)
    except MoneyError as exc:
        fail(f"{field}: {exc}", EXIT_BAD_INPUT)


def parse_date(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{field}: {text!r} is not a date (YYYY-MM-DD)", EXIT_BAD_INPUT)


TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="Refuse loans disbursed and payments dated after it (default: the calendar date)",
    ),
]


def today_or_now(text: str | None) -> date:
    # The calendar date is read here, in the shell, and handed to the services.
    return date.today() if text is None else parse_date(text, "--today")


def parse_instant(text: str | None, field: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (the gate never guesses a zone); None is now."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{field}: {text!r} is not an ISO 8601 date-time", EXIT_BAD_INPUT)
    if value.utcoffset() is None:
        fail(
            f"{field}: {text!r} has no offset: give a UTC offset, e.g. 2026-03-02T10:00+08:00",
            EXIT_BAD_INPUT,
        )
    return value


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


@contextmanager
def phase_bar(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr fed by ``report(phase, done, total)`` (none for JSON output)."""
    with Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def report(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        yield report


def read_documents(paths: list[Path] | None) -> list[bytes]:
    """The bytes of each supporting document given (exit 2 naming one that cannot be read)."""
    docs: list[bytes] = []
    for path in paths or []:
        try:
            docs.append(path.read_bytes())
        except OSError as exc:
            fail(f"document: {path}: cannot be read: {exc}", EXIT_BAD_INPUT)
    return docs
