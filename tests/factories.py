"""Shared builders and checks for the service and CLI tests.

Rows are plain ``dict[str, str]`` as a user would type them into a CSV. The checks here are
invariants stated in the issue and in ``arrears.core.ledger.account``'s docstring, computed from the
database directly, so that a test can assert them after any sequence of operations.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, func, select, text

from arrears.core.ledger.account import receivable_balances
from arrears.core.ledger.journal import balances
from arrears.core.ledger.replay import replay
from arrears.core.problem import Problem
from arrears.services.accounts import load_accounts, load_events, loan_balances
from arrears.services.importer import ImportReport, import_file
from arrears.services.moratoria import loan_pauses
from arrears.store import tables as t
from arrears.store.engine import database_url, make_engine
from arrears.store.migrate import upgrade

T = TypeVar("T")

REQUIRED = [
    "loan_id",
    "borrower_id",
    "borrower_name",
    "phone",
    "principal",
    "rate",
    "rate_basis",
    "months",
    "method",
    "disbursed_on",
]
OPTIONAL = ["due_day", "product", "currency"]
COLUMNS = REQUIRED + OPTIONAL

# Every table the foundation writes, in an order that respects foreign keys.
TABLES = (
    t.products,
    t.borrowers,
    t.loans,
    t.loan_events,
    t.journal_entries,
    t.postings,
    t.installments,
    t.loan_state,
    t.close_runs,
)


def loan_row(loan_id: str = "L1", **overrides: str) -> dict[str, str]:
    """A good row: 1,200.00 over 3 months, equal principal, 12% a year, drawn 2024-01-15."""
    row = {
        "loan_id": loan_id,
        "borrower_id": f"B-{loan_id}",
        "borrower_name": f"Borrower {loan_id}",
        "phone": "13800138000",
        "principal": "1200.00",
        "rate": "12%",
        "rate_basis": "annual",
        "months": "3",
        "method": "equal-principal",
        "disbursed_on": "2024-01-15",
        "due_day": "",
        "product": "",
        "currency": "",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: Iterable[dict[str, str]], columns: list[str] | None = None) -> Path:
    rows = list(rows)
    cols = columns or COLUMNS
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def import_rows(engine: Engine, tmp_path: Path, rows: Iterable[dict[str, str]]) -> ImportReport:
    """Import good rows; fail the test with the importer's errors otherwise."""
    path = write_csv(tmp_path / f"loans-{uuid.uuid4().hex[:8]}.csv", rows)
    return succeeded(import_file(engine, path))


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            tab.name: int(conn.execute(select(func.count()).select_from(tab)).scalar_one())
            for tab in TABLES
        }


def dump(engine: Engine, *, close_runs: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's content, without surrogate ids and wall-clock times, sorted.

    Journal entries are dumped as (key, loan_id, kind, effective_on, memo, sorted postings),
    so two databases that posted the same entries in another order compare equal.
    """
    out: dict[str, list[tuple[Any, ...]]] = {}
    skip = {"entry_id", "posting_id", "seq", "recorded_at", "started_at", "finished_at"}
    with engine.connect() as conn:
        postings: dict[int, list[tuple[str, int]]] = {}
        for r in conn.execute(select(t.postings)):
            postings.setdefault(r.entry_id, []).append((r.account, int(r.amount)))
        out["journal"] = sorted(
            (r.key, r.loan_id, r.kind, r.effective_on, r.memo, tuple(sorted(postings[r.entry_id])))
            for r in conn.execute(select(t.journal_entries))
        )
        for tab in TABLES:
            if tab.name in ("journal_entries", "postings"):
                continue
            if tab.name == "close_runs" and not close_runs:
                continue
            cols = [c for c in tab.columns if c.name not in skip]
            out[tab.name] = sorted(tuple(r) for r in conn.execute(select(*cols)))
    return out


def assert_journal_consistent(engine: Engine, loan_ids: Iterable[str] | None = None) -> None:
    """The journal balances and agrees with the stored state and with a fresh replay.

    * every entry has postings and sums to zero;
    * per loan, the receivable balances summed from the postings equal
      ``receivable_balances`` of the stored account;
    * the stored account equals a fresh replay of the loan's terms and live events through
      the stored as-of date, and every account's balance from this loan's entries equals the
      balance of the replay's entries.
    """
    with engine.connect() as conn:
        unbalanced = conn.execute(
            select(t.postings.c.entry_id, func.sum(t.postings.c.amount))
            .group_by(t.postings.c.entry_id)
            .having(func.sum(t.postings.c.amount) != 0)
        ).all()
        assert unbalanced == []
        empty = conn.execute(
            select(t.journal_entries.c.key).where(
                ~t.journal_entries.c.entry_id.in_(select(t.postings.c.entry_id))
            )
        ).all()
        assert empty == []
        loaded = load_accounts(conn, None if loan_ids is None else list(loan_ids))
        if loan_ids is not None:
            assert set(loaded) == set(loan_ids)
        for loan_id, (rec, stored) in loaded.items():
            journal = loan_balances(conn, loan_id)
            prefix = f"loan:{loan_id}:"
            journal_recv = {a: v for a, v in journal.items() if a.startswith(prefix)}
            assert journal_recv == receivable_balances(stored), loan_id
            # The loan's moratoria: the days the close accrued no penalty.
            pauses = loan_pauses(conn, [loan_id]).get(loan_id, ())
            fresh = succeeded(
                replay(
                    rec.terms, rec.product, load_events(conn, loan_id), stored.as_of, pauses=pauses
                )
            )
            assert fresh.account == stored, loan_id
            assert balances(fresh.entries) == journal, loan_id


def stored_account(engine: Engine, loan_id: str) -> Any:
    with engine.connect() as conn:
        return load_accounts(conn, [loan_id])[loan_id][1]


def state_row(engine: Engine, loan_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan_id)).one()


def entry_kinds(engine: Engine, loan_id: str) -> list[str]:
    with engine.connect() as conn:
        q = (
            select(t.journal_entries.c.kind)
            .where(t.journal_entries.c.loan_id == loan_id)
            .order_by(t.journal_entries.c.entry_id)
        )
        return list(conn.execute(q).scalars())


def d(text_: str) -> date:
    return date.fromisoformat(text_)


def is_postgres(url: str) -> bool:
    return "://" in url and url.split("://", 1)[0].startswith("postgres")


@contextmanager
def second_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second migrated, empty database on the same backend as ``db_url``."""
    if not is_postgres(db_url):
        url = str(tmp_path / "other.db")
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
        return
    admin = create_engine(database_url(db_url), isolation_level="AUTOCOMMIT")
    name = f"arrears_other_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{database_url(db_url).rsplit('/', 1)[0]}/{name}"
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def row_and_column(p: Problem) -> tuple[int, str]:
    """Where an input file's problem points: (data row, column); row 0 and column "file" for
    the file as a whole. Line 1 is the header, so data row n is line n + 1."""
    return (p.line - 1 if p.line else 0, p.field or "file")


def succeeded(result: tuple[T | None, tuple[Problem, ...]]) -> T:
    """A service result's value; the test fails, naming the problems, when there is none."""
    value, problems = result
    assert not problems and value is not None, problems
    return value


def refused(result: tuple[object, tuple[Problem, ...]]) -> Problem:
    """The first problem of a result that must have failed (its value None)."""
    value, problems = result
    assert value is None and problems, value
    return problems[0]
