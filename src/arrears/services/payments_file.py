"""``arrears payments import``: a CSV or Parquet file of payments (loan_id, amount, paid_on, ref),
applied all or none.

The file is applied as :func:`arrears.services.events.pay_many` would apply it (loans in
order of first appearance, each loan's payments in file order, one replay per loan), with
the same checks and messages, but in bulk: loans are read a chunk at a time in a few queries,
and their events, journal entries, postings and state are written with one bulk insert per
table per chunk. One transaction holds the whole file: any problem writes nothing; a ref
already applied with the same loan, amount and date is skipped, so a retried file applies once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Connection, Engine, delete, func, select

from arrears.core.ageing.status import Aged, age
from arrears.core.ledger.account import Account, Inst, Step, open_account, opened
from arrears.core.ledger.journal import Entry, adjustment, balances
from arrears.core.ledger.replay import Event, Payment, Replayed, replay
from arrears.core.loans import schedule_columns
from arrears.core.loans.product import Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import MoneyError, parse_amount
from arrears.core.problem import Problem, Result, fail, ok
from arrears.services.accounts import LoanRecord, load_accounts, load_events, products
from arrears.services.accounts import _terms as loan_terms
from arrears.services.events import MAX_REF, Applied
from arrears.services.importer import (
    bulk_insert,
    columnar_ok,
    iso,
    line_of,
    loan_columns,
    no_cycle_collection,
    read_frame,
    row_problem,
)
from arrears.services.moratoria import loan_pauses
from arrears.store import tables
from arrears.store.stats import analyze_changed

COLUMNS = ("loan_id", "amount", "paid_on", "ref")
LOANS_PER_ROUND = 2000  # loans per round of reads and writes

PaymentRow = tuple[str, int, date, str]
Progress = Callable[[str, int, int], None]


def _quiet(_phase: str, _done: int, _total: int) -> None:
    return None


def read_payments(path: Path, today: date | None = None) -> Result[list[PaymentRow]]:
    """The file's payments, or every bad row. ``today``: a payment dated after it is refused
    (money not yet received cannot be applied)."""
    frame, problems = read_frame(path)
    if frame is None:
        return None, problems
    if frame.height == 0:
        return fail(row_problem(0, "file", "has no data rows"))
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        return fail(*(row_problem(0, c, "column is missing") for c in missing))
    out: list[PaymentRow] = []
    errors: list[Problem] = []
    dates: dict[str, date] = {}
    for n, values in enumerate(frame.select(COLUMNS).iter_rows(), start=1):
        v = dict(zip(COLUMNS, (x.strip() for x in values), strict=True))
        rec = f"ref {v['ref']}" if v["ref"] else (f"loan {v['loan_id']}" if v["loan_id"] else "")
        bad = [row_problem(n, c, "is empty", rec) for c in COLUMNS if not v[c]]
        if bad:
            errors.extend(bad)
            continue
        try:
            amount = parse_amount(v["amount"])
            if amount <= 0:
                raise MoneyError(f"must be positive, got {v['amount']}")
        except MoneyError as exc:
            errors.append(row_problem(n, "amount", str(exc), rec))
            continue
        on = dates.get(v["paid_on"])
        if on is None:
            try:
                on = dates[v["paid_on"]] = date.fromisoformat(v["paid_on"])
            except ValueError:
                errors.append(row_problem(n, "paid_on", f"{v['paid_on']!r} is not a date", rec))
                continue
        if today is not None and on > today:
            errors.append(row_problem(n, "paid_on", f"{on} is after today, {today}", rec))
            continue
        out.append((v["loan_id"], amount, on, v["ref"]))
    return fail(*errors) if errors else ok(out)


def import_payments(
    engine: Engine, path: Path, progress: Progress = _quiet, today: date | None = None
) -> Result[list[Applied]]:
    """Read and apply a payments file, all or nothing; a problem found against the database
    is named by the file line it came from."""
    payments, problems = read_payments(path, today)
    if payments is None:
        return None, problems
    applied, problems = apply_payments(engine, payments, progress)
    if applied is None:
        lines = _lines(payments)
        return fail(*(_on_its_line(p, lines) for p in problems))
    return ok(applied)


def _lines(payments: Sequence[PaymentRow]) -> dict[str, int]:
    """Each ref's file line, and each loan's first, keyed as ``apply_payments`` names its
    records (the payments are the file's rows, in order: any bad row stopped the import before).
    A ref on several lines is named by its last: the first use is the good one, a later one is
    what clashes with it."""
    lines: dict[str, int] = {}
    for n, (loan_id, _, _, ref) in enumerate(payments, start=1):
        lines[f"ref {ref}"] = line_of(n)
        lines.setdefault(f"loan {loan_id}", line_of(n))
    return lines


def _on_its_line(problem: Problem, lines: dict[str, int]) -> Problem:
    """A problem found against the database, named by the line a person can open too."""
    line = lines.get(problem.record)
    return problem if line is None else replace(problem, line=line)


@dataclass
class _Run:
    """What this import has recorded so far: refs (as the database would show them)."""

    refs: dict[str, tuple[str, int, date]]
    problems: list[Problem]
    applied: list[Applied]


def apply_payments(
    engine: Engine, payments: Sequence[PaymentRow], progress: Progress = _quiet
) -> Result[list[Applied]]:
    """Apply (loan_id, amount, on, ref) payments in one transaction, all or nothing."""
    by_loan: dict[str, list[tuple[int, date, str]]] = {}
    for loan_id, amount, on, ref in payments:
        by_loan.setdefault(loan_id, []).append((amount, on, ref))
    bad = [
        Problem(f"ref {ref}", "amount", f"must be positive, got {amount}")
        for _, amount, _, ref in payments
        if amount <= 0
    ]
    if bad:
        return fail(*bad)
    loans = list(by_loan)
    run = _Run({}, [], [])
    with engine.connect() as conn, no_cycle_collection():
        progress("applying", 0, len(loans))
        for k in range(0, len(loans), LOANS_PER_ROUND):
            chunk = loans[k : k + LOANS_PER_ROUND]
            _apply_chunk(conn, {i: by_loan[i] for i in chunk}, run)
            progress("applying", k + len(chunk), len(loans))
        if run.problems:
            return fail(*run.problems)  # leaving without a commit rolls everything back
        conn.commit()
    analyze_changed(engine, vacuum=True)
    return ok(run.applied)


def _apply_chunk(
    conn: Connection, wants: dict[str, list[tuple[int, date, str]]], run: _Run
) -> None:
    ids = list(wants)
    if conn.dialect.name == "postgresql":  # serialise with single payments, as pay() does
        conn.execute(
            select(tables.loans.c.loan_id).where(tables.loans.c.loan_id.in_(ids)).with_for_update()
        )
    records = _records(conn, ids)
    priors = _priors(conn, [ref for ws in wants.values() for _, _, ref in ws])
    # The stored account is read only where a ref was applied before (to report its ageing);
    # every other loan is replayed from its terms.
    again = [i for i in ids if i in records and any(ref in priors for _, _, ref in wants[i])]
    stored = load_accounts(conn, again) if again else {}
    events = _events(conn, ids)
    paused = loan_pauses(conn, ids)  # moratoria: the days the close accrued no penalty
    found_ids = [i for i in ids if i in records]
    openings = dict(
        zip(
            found_ids,
            open_accounts([(records[i][0].terms, records[i][0].product) for i in found_ids]),
            strict=True,
        )
    )
    keys = _keys(conn, ids)
    held = _balances(conn, ids)
    now = datetime.now(UTC)
    event_rows: list[tuple[object, ...]] = []
    entries: list[Entry] = []
    saved: list[tuple[Account, Aged]] = []
    for loan_id, ws in wants.items():
        found = records.get(loan_id)
        if found is None:
            run.problems.append(
                Problem(
                    f"loan {loan_id}", "loan_id", f"loan {loan_id!r} not found", code="not_found"
                )
            )
            continue
        rec, as_of = found
        done, fresh, problem = _sort_refs(loan_id, ws, rec, priors, run, stored)
        if problem is not None:
            run.problems.append(problem)
            continue
        if not fresh:
            run.applied.extend(done)
            continue
        evs: list[Event] = [*events.get(loan_id, [])]
        evs += [Payment(ref, amount, on) for amount, on, ref in fresh]
        latest = max(on for _, on, _ in fresh)
        result, refused = replay(
            rec.terms,
            rec.product,
            evs,
            max(as_of, latest),
            opened=openings[loan_id],
            pauses=paused.get(loan_id, ()),
        )
        if result is None:
            run.problems.extend(refused)
            continue
        for amount, on, ref in fresh:
            run.refs[ref] = (loan_id, amount, on)
        if run.problems:
            continue  # the file will be refused: keep checking, stop building writes
        for amount, on, ref in fresh:
            event_rows.append((loan_id, "payment", ref, amount, None, None, iso(on), now))
        entries += _journal(loan_id, result, keys.get(loan_id, set()), held, fresh[0][2])
        aged = age(result.account, rec.product)
        saved.append((result.account, aged))
        done.extend(
            Applied(loan_id, ref, "payment", False, result.allocations.get(ref), aged)
            for _, _, ref in fresh
        )
        run.applied.extend(done)
    if run.problems:
        return
    bulk_insert(conn, tables.loan_events, event_rows)
    post_bulk(conn, entries)
    save_bulk(conn, saved)


PriorEvent = tuple[str, str, int, date]  # loan_id, kind, amount, effective_on


def _priors(conn: Connection, refs: list[str]) -> dict[str, PriorEvent]:
    """The events already recorded under any of ``refs``."""
    return {
        r.ref: (r.loan_id, r.kind, int(r.amount), r.effective_on)
        for k in range(0, len(refs), 5000)
        for r in conn.execute(
            select(
                tables.loan_events.c.ref,
                tables.loan_events.c.loan_id,
                tables.loan_events.c.kind,
                tables.loan_events.c.amount,
                tables.loan_events.c.effective_on,
            ).where(tables.loan_events.c.ref.in_(refs[k : k + 5000]))
        )
    }


def _sort_refs(
    loan_id: str,
    ws: list[tuple[int, date, str]],
    rec: LoanRecord,
    priors: dict[str, PriorEvent],
    run: _Run,
    stored: dict[str, tuple[LoanRecord, Account]],
) -> tuple[list[Applied], list[tuple[int, date, str]], Problem | None]:
    """One loan's payments: those applied before (the same ref, loan, amount and date), those
    to apply now, or the first problem (a ref used for something else, twice in the file, a
    date before disbursement), which refuses the file."""
    done: list[Applied] = []
    fresh: list[tuple[int, date, str]] = []
    problem: Problem | None = None
    for amount, on, ref in ws:
        if not ref.strip() or len(ref) > MAX_REF:
            problem = Problem(f"ref {ref[:20]}", "ref", f"must be 1..{MAX_REF} characters")
            break
        prior = priors.get(ref)
        mine = run.refs.get(ref)
        if prior is not None:
            p_loan, p_kind, p_amount, p_on = prior
            if p_loan == loan_id and p_kind == "payment" and (p_amount, p_on) == (amount, on):
                done.append(
                    Applied(
                        loan_id,
                        ref,
                        "payment",
                        True,
                        None,
                        age(stored[loan_id][1], rec.product),
                    )
                )
                continue
            problem = Problem(
                f"ref {ref}",
                "ref",
                f"already used for a {p_kind} of {p_amount} fen to loan {p_loan} on {p_on}",
            )
            break
        if mine is not None and mine[0] != loan_id:
            problem = Problem(
                f"ref {ref}",
                "ref",
                f"already used for a payment of {mine[1]} fen to loan {mine[0]} on {mine[2]}",
            )
            break
        if any(f[2] == ref for f in fresh):
            problem = Problem(f"ref {ref}", "ref", "appears twice in one request")
            break
        if on < rec.terms.disbursed_on:
            problem = Problem(
                f"loan {loan_id}", "on", f"{on} is before disbursement {rec.terms.disbursed_on}"
            )
            break
        fresh.append((amount, on, ref))
    return done, fresh, problem


def _journal(
    loan_id: str,
    result: Replayed,
    have: set[str],
    held: dict[str, dict[str, int]],
    first_ref: str,
) -> list[Entry]:
    """The replay's entries the journal lacks and, where history changed, one adjustment that
    brings every account to the replay's balance."""
    new = [e for e in result.entries if e.key not in have]
    entries = list(new)
    # The balance the journal will hold once ``new`` is posted, against the replay's.
    after = dict(held.get(loan_id, {}))
    for e in new:
        for p in e.postings:
            after[p.account] = after.get(p.account, 0) + p.amount
    adj = adjustment(
        loan_id, f"payment:{first_ref}", result.account.as_of, balances(result.entries), after
    )
    return entries if adj is None else [*entries, adj]


def save_bulk(conn: Connection, saved: Sequence[tuple[Account, Aged]]) -> None:
    """``save_accounts`` with the ageing already done, written by ``bulk_insert``: the same
    rows (``installment_rows``, ``state_row``) without an SQLAlchemy executemany of dicts."""
    if not saved:
        return
    ids = [a.loan_id for a, _ in saved]
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        conn.execute(delete(tables.installments).where(tables.installments.c.loan_id.in_(chunk)))
        conn.execute(delete(tables.loan_state).where(tables.loan_state.c.loan_id.in_(chunk)))
    bulk_insert(
        conn,
        tables.installments,
        [
            (
                a.loan_id,
                i.n,
                iso(i.start),
                iso(i.due_date),
                i.principal,
                i.interest,
                i.paid_principal,
                i.paid_interest,
            )
            for a, _ in saved
            for i in a.installments
        ],
    )
    bulk_insert(
        conn,
        tables.loan_state,
        [
            (
                a.loan_id,
                iso(a.as_of),
                a.status.value,
                a.penalty_unposted,
                a.penalty_owed,
                a.prepaid_principal,
                g.dpd,
                g.bucket,
                g.classification,
                g.overdue.principal,
                g.overdue.interest,
                g.overdue.penalty,
                g.outstanding.principal,
                g.outstanding.interest,
                g.outstanding.penalty,
                g.consecutive_overdue,
            )
            for a, g in saved
        ],
    )


def post_bulk(conn: Connection, entries: Sequence[Entry]) -> None:
    """Insert entries, then their postings, in bulk.

    On SQLite the entry ids are given, counting on from the highest: this transaction has
    written already (the events), so it holds the database's one write lock and nobody else
    can take an id meanwhile; the ids are the ones SQLite would assign. Elsewhere (COPY on
    PostgreSQL takes the sequence's ids) they are read back by the unique key.
    """
    if not entries:
        return
    rows = [(e.key, e.loan_id, e.kind.value, iso(e.effective_on), e.memo) for e in entries]
    ids: dict[str, int] = {}
    if conn.dialect.name == "sqlite":
        top = conn.execute(select(func.max(tables.journal_entries.c.entry_id))).scalar() or 0
        numbered = [(top + k, *r) for k, r in enumerate(rows, start=1)]
        bulk_insert(conn, tables.journal_entries, numbered, with_id=True)
        ids = {r[0]: top + k for k, r in enumerate(rows, start=1)}
    else:
        bulk_insert(conn, tables.journal_entries, rows)
        keys = [e.key for e in entries]
        for k in range(0, len(keys), 5000):
            q = select(tables.journal_entries.c.key, tables.journal_entries.c.entry_id).where(
                tables.journal_entries.c.key.in_(keys[k : k + 5000])
            )
            ids.update({r.key: r.entry_id for r in conn.execute(q)})
    bulk_insert(
        conn,
        tables.postings,
        [(ids[e.key], p.account, p.amount) for e in entries for p in e.postings],
    )


def open_accounts(opening: Sequence[tuple[LoanTerms, Product]]) -> list[Step]:
    """``open_account`` for many loans, with the schedules built at once in numpy
    (``sim.columns.schedules``, equal to ``schedule_for``) where the terms allow it.

    The per-loan ``Fraction`` schedule was a third of the payments import's time.
    """
    out: list[Step | None] = [None] * len(opening)
    by_product: dict[Product, list[int]] = {}
    for k, (terms, product) in enumerate(opening):
        if columnar_ok(terms):
            by_product.setdefault(product, []).append(k)
        else:
            out[k] = open_account(terms, product)
    epoch = schedule_columns.EPOCH.toordinal()
    days: dict[int, date] = {}
    for product, ks in by_product.items():
        terms_list = [opening[k][0] for k in ks]
        s = schedule_columns.schedules(
            loan_columns(terms_list), product.days_per_year, product.min_first_period_days
        )
        insts: list[list[Inst]] = [[] for _ in ks]
        for i, n, start, due, principal, interest in zip(
            s.loan.tolist(),
            s.n.tolist(),
            s.start.tolist(),
            s.due.tolist(),
            s.principal.tolist(),
            s.interest.tolist(),
            strict=True,
        ):
            d0 = days.get(start) or days.setdefault(start, date.fromordinal(epoch + start))
            d1 = days.get(due) or days.setdefault(due, date.fromordinal(epoch + due))
            insts[i].append(Inst(n, d0, d1, principal, interest))
        for k, terms, rows in zip(ks, terms_list, insts, strict=True):
            out[k] = opened(terms, tuple(rows))
    return [o for o in out if o is not None]


def _records(conn: Connection, ids: list[str]) -> dict[str, tuple[LoanRecord, date]]:
    """Each loan's terms and product, and the day its stored state is closed through."""
    prods = products(conn)
    q = (
        select(tables.loans, tables.loan_state.c.as_of)
        .join(tables.loan_state, tables.loan_state.c.loan_id == tables.loans.c.loan_id)
        .where(tables.loans.c.loan_id.in_(ids))
    )
    return {
        r.loan_id: (
            LoanRecord(loan_terms(r), r.borrower_id, prods[r.product_id], r.currency),
            r.as_of,
        )
        for r in conn.execute(q)
    }


def _events(conn: Connection, ids: list[str]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    has = set(
        conn.execute(
            select(tables.loan_events.c.loan_id)
            .where(tables.loan_events.c.loan_id.in_(ids))
            .distinct()
        ).scalars()
    )
    for loan_id in has:  # few loans have history when a file arrives; read it the usual way
        out[loan_id] = load_events(conn, loan_id)
    return out


def _keys(conn: Connection, ids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    q = select(tables.journal_entries.c.loan_id, tables.journal_entries.c.key).where(
        tables.journal_entries.c.loan_id.in_(ids)
    )
    for r in conn.execute(q):
        out[r.loan_id].add(r.key)
    return out


def _balances(conn: Connection, ids: list[str]) -> dict[str, dict[str, int]]:
    q = (
        select(
            tables.journal_entries.c.loan_id,
            tables.postings.c.account,
            func.sum(tables.postings.c.amount),
        )
        .join(
            tables.journal_entries, tables.journal_entries.c.entry_id == tables.postings.c.entry_id
        )
        .where(tables.journal_entries.c.loan_id.in_(ids))
        .group_by(tables.journal_entries.c.loan_id, tables.postings.c.account)
    )
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for loan_id, account, total in conn.execute(q):
        if int(total):
            out[loan_id][account] = int(total)
    return out


def frame_of(payments: Sequence[PaymentRow]) -> pl.DataFrame:
    """Payments as a frame in the file's columns (for writing test and benchmark files)."""
    return pl.DataFrame(
        {
            "loan_id": [p[0] for p in payments],
            "amount": [f"{p[1] // 100}.{p[1] % 100:02d}" for p in payments],
            "paid_on": [p[2] for p in payments],
            "ref": [p[3] for p in payments],
        }
    )
