"""``arrears loans import``: a CSV or Parquet portfolio, validated whole, written whole or not
at all.

Columns (README, "Import format"): ``loan_id, borrower_id, borrower_name, phone, principal,
rate, rate_basis, months, method, disbursed_on`` and optionally ``due_day, product, currency``,
the borrower profile (``language, timezones, email, address, risk_score, vulnerable,
rule_pack``) and up to two emergency contacts (``emergency{1,2}_{name,phone,relation}``).
Other columns (``behaviour`` from the generator) are ignored.

Speed: values repeat (rates, dates, amounts), so their parsing is cached by text; schedules
are built for all loans at once (``sim.columns``, equal to ``schedule_for``) and every table
is written in bulk: ``COPY`` on PostgreSQL, one ``executemany`` per table on SQLite, all in
the one transaction that keeps the import all-or-nothing.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, Table, insert, select

from arrears.core.ageing.status import classify
from arrears.core.ledger.account import open_account
from arrears.core.ledger.journal import CASH, receivable
from arrears.core.loans import schedule_columns
from arrears.core.loans.product import DEFAULT_PRODUCT, Component, Method, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import MoneyError, Rate, RateBasis, parse_amount, parse_rate
from arrears.core.problem import Problem, Result, fail, ok
from arrears.services.accounts import post_entries, products, save_accounts
from arrears.store import bulk, profile_tables, tables
from arrears.store.sealed import phone_tail
from arrears.store.stats import analyze_changed

REQUIRED = (
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
)
PROFILE = ("language", "timezones", "email", "address", "risk_score", "vulnerable", "rule_pack")
CONTACTS = tuple(f"emergency{k}_{f}" for k in (1, 2) for f in ("name", "phone", "relation"))
OPTIONAL = ("due_day", "product", "currency", *PROFILE, *CONTACTS)
MAX_LENGTH = {
    "loan_id": 64,
    "borrower_id": 64,
    "borrower_name": 200,
    "product": 64,
    "email": 200,
    "address": 500,
    **{f"emergency{k}_name": 200 for k in (1, 2)},
    **{f"emergency{k}_relation": 40 for k in (1, 2)},
}
LANGUAGES = ("zh-CN", "en")
RULE_PACKS = ("cn", "us-reg-f", "uk-conc")
TRUE, FALSE = ("true", "1", "yes", "y", "t"), ("false", "0", "no", "n", "f")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,24}$")
MAX_MONTHS = 360
# Plausibility bounds that catch a percent typed as a fraction: 24% a year is the upper end
# of licensed consumer lending in China; 1% a day is far beyond any lawful product.
MAX_ANNUAL: Fraction = Fraction(1)
MAX_DAILY: Fraction = Fraction(1, 100)


def line_of(row: int) -> int:
    """The line an editor shows for 1-based data row ``row``: the header is line 1."""
    return row + 1


def row_problem(row: int, column: str, reason: str, about: str = "") -> Problem:
    """A bad cell of an input file: data ``row`` (1-based; 0 for the file itself or one of its
    columns), its ``column`` ("file" for the file as a whole), why, and what the row is about
    when it says ("loan L000001", "ref BANK-1")."""
    if row == 0:
        return Problem("file", "" if column == "file" else column, reason)
    return Problem(about, column, reason, line=line_of(row))


@dataclass(frozen=True, slots=True)
class Profile:
    """A borrower's contact profile; an empty cell takes the table's default."""

    language: str = "zh-CN"
    timezones: str = "Asia/Shanghai"
    email: str | None = None
    address: str | None = None
    risk_score: int = 500
    vulnerable: bool = False
    rule_pack: str = "cn"


@dataclass(frozen=True, slots=True)
class Contact:
    seq: int
    name: str
    phone: str
    relation: str


@dataclass(frozen=True, slots=True)
class LoanRow:
    terms: LoanTerms
    borrower_id: str
    borrower_name: str
    phone: str
    product_id: str
    currency: str
    profile: Profile = Profile()
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    loans: int
    borrowers: int
    dry_run: bool


def read_frame(path: Path) -> Result[pl.DataFrame]:
    """The file as a frame of text columns (nulls as empty text)."""
    if not path.exists():
        return fail(row_problem(0, "file", f"{path} does not exist"))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            df = pl.read_parquet(path)
        except Exception as exc:  # polars raises many types for a bad file
            return fail(row_problem(0, "file", f"not a readable Parquet file: {exc}"))
    elif suffix in (".csv", ".txt"):
        try:
            df = pl.read_csv(path, infer_schema=False, encoding="utf8", truncate_ragged_lines=True)
        except pl.exceptions.NoDataError:
            return fail(row_problem(0, "file", "has no data rows"))
        except pl.exceptions.ComputeError as exc:
            if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
                return fail(row_problem(0, "file", f"not UTF-8 text: {str(exc).splitlines()[0]}"))
            return fail(
                row_problem(0, "file", f"not a readable CSV file: {str(exc).splitlines()[0]}")
            )
        df = df.rename({c: c.lstrip("\ufeff") for c in df.columns})
    else:
        return fail(row_problem(0, "file", f"unknown format {suffix!r}: use .csv or .parquet"))
    # A timestamp stays a timestamp in text, so a date column holding times is refused rather
    # than silently cut to its date.
    return ok(df.select([pl.col(c).cast(pl.Utf8).fill_null("") for c in df.columns]))


def read_rows(path: Path) -> Result[list[dict[str, str]]]:
    """Every data row as column -> text. Parquet values are turned into their text form."""
    df, problems = read_frame(path)
    if df is None:
        return None, problems
    return ok(df.to_dicts())


@lru_cache(maxsize=65536)
def _amount(text: str, currency: str) -> int | str:
    try:
        return parse_amount(text, currency)
    except MoneyError as exc:
        return str(exc)


@lru_cache(maxsize=4096)
def _rate(text: str) -> Fraction | str:
    try:
        return parse_rate(text)
    except MoneyError as exc:
        return str(exc)


@lru_cache(maxsize=65536)
def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def _whole(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=4096)
def _rate_check(text: str, basis: RateBasis, product: Product) -> tuple[Fraction, str | None]:
    """The rate and, if it is unacceptable for the product, why."""
    value = _rate(text)
    assert isinstance(value, Fraction)
    limit = MAX_ANNUAL if basis is RateBasis.ANNUAL else MAX_DAILY
    if value > limit:
        return value, f"{text} {basis.value} is beyond any lawful consumer loan"
    cap = product.rate_cap_annual
    if cap is not None:
        rate = Rate(value, basis)
        overdue = rate.annual(product.days_per_year) * product.penalty_multiplier
        worst = max(rate.annual(product.days_per_year), overdue)
        if worst > cap:
            return value, (
                f"agreed or overdue rate ({float(worst):.2%} a year) exceeds the cap of "
                f"{float(cap):.2%} (4x LPR) for non-licensed lender product {product.product_id}"
            )
    return value, None


def parse_profile(
    v: dict[str, str], err: Callable[[str, str], None]
) -> tuple[Profile, tuple[Contact, ...]]:
    """The profile and emergency contacts of a row; problems go to ``err(column, reason)``."""
    language = v["language"] or "zh-CN"
    if language not in LANGUAGES:
        err("language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    timezones = v["timezones"] or "Asia/Shanghai"
    zones = [z.strip() for z in timezones.split(",")]
    for z in zones:
        if z not in _zones():
            err("timezones", f"{z!r} is not an IANA time zone (e.g. Asia/Shanghai)")
            break
    email = v["email"] or None
    if email is not None and not EMAIL.match(email):
        err("email", f"{email!r} is not an email address")
    risk = 500
    if v["risk_score"]:
        score = _whole(v["risk_score"])
        if score is None:
            err("risk_score", f"{v['risk_score']!r} is not a whole number")
        elif not 0 <= score <= 1000:
            err("risk_score", f"must be 0..1000, got {score}")
        else:
            risk = score
    vulnerable = False
    flag = v["vulnerable"].lower()
    if flag in TRUE:
        vulnerable = True
    elif flag and flag not in FALSE:
        err("vulnerable", f"{v['vulnerable']!r} is not true or false")
    rule_pack = v["rule_pack"] or "cn"
    if rule_pack not in RULE_PACKS:
        err("rule_pack", f"{rule_pack!r} is not one of {', '.join(RULE_PACKS)}")
    contacts: list[Contact] = []
    for k in (1, 2):
        name, phone, relation = (v[f"emergency{k}_{f}"] for f in ("name", "phone", "relation"))
        if not (name or phone or relation):
            continue
        for col, val in (("name", name), ("phone", phone), ("relation", relation)):
            if not val:
                err(f"emergency{k}_{col}", "is empty while the contact's other columns are set")
        if phone and not PHONE.match(phone):
            err(f"emergency{k}_phone", f"{phone!r} is not a phone number")
        elif phone and phone == v["phone"]:
            err(f"emergency{k}_phone", "is the borrower's own phone")
        contacts.append(Contact(k, name, phone, relation))
    profile = Profile(
        language, ",".join(zones), email, v["address"] or None, risk, vulnerable, rule_pack
    )
    return profile, tuple(contacts)


def parse_row(n: int, raw: dict[str, str], prods: dict[str, Product]) -> LoanRow | list[Problem]:
    errors: list[Problem] = []

    def err(col: str, reason: str) -> None:
        errors.append(row_problem(n, col, reason))

    v = {k: (raw.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
    return _parse(n, v, prods, errors, err)


def _parse(
    n: int,
    v: dict[str, str],
    prods: dict[str, Product],
    errors: list[Problem],
    err: Callable[[str, str], None],
) -> LoanRow | list[Problem]:
    for col in REQUIRED:
        if not v[col]:
            err(col, "is empty")
    for col, max_len in MAX_LENGTH.items():
        if len(v[col]) > max_len:
            err(col, f"is longer than {max_len} characters")
    if errors:
        return errors
    product_id = v["product"] or DEFAULT_PRODUCT.product_id
    product = prods.get(product_id)
    if product is None:
        err("product", f"unknown product {product_id!r}")
        product = DEFAULT_PRODUCT
    currency = v["currency"] or product.currency
    if currency != product.currency:
        err("currency", f"{currency} differs from product {product_id}'s {product.currency}")
    if not PHONE.match(v["phone"]):
        err("phone", f"{v['phone']!r} is not a phone number")
    principal = _amount(v["principal"], product.currency)
    if isinstance(principal, str):
        err("principal", principal)
        principal = 0
    elif principal <= 0:
        err("principal", f"must be positive, got {v['principal']}")
    basis: RateBasis | None = None
    try:
        basis = RateBasis(v["rate_basis"])
    except ValueError:
        err("rate_basis", f"{v['rate_basis']!r} is not annual or daily")
    rate_value = _rate(v["rate"])
    if isinstance(rate_value, str):
        err("rate", rate_value)
        rate_value = Fraction(0)
    elif basis is not None and not errors:
        rate_value, problem = _rate_check(v["rate"], basis, product)
        if problem:
            err("rate", problem)
    months = _whole(v["months"])
    if months is None:
        err("months", f"{v['months']!r} is not a whole number")
        months = 0
    elif not 1 <= months <= MAX_MONTHS:
        err("months", f"must be 1..{MAX_MONTHS}, got {months}")
    method: Method | None = None
    try:
        method = Method(v["method"])
    except ValueError:
        err("method", f"{v['method']!r} is not one of {', '.join(m.value for m in Method)}")
    disbursed = _date(v["disbursed_on"])
    if disbursed is None:
        err("disbursed_on", f"{v['disbursed_on']!r} is not a date (YYYY-MM-DD)")
    due_day: int | None = None
    if v["due_day"]:
        due_day = _whole(v["due_day"])
        if due_day is None:
            err("due_day", f"{v['due_day']!r} is not a day of the month")
        elif not 1 <= due_day <= 31:
            err("due_day", f"must be 1..31, got {due_day}")
    profile, contacts = parse_profile(v, err)
    if errors:
        return errors
    assert basis is not None and method is not None and disbursed is not None
    terms = LoanTerms(
        v["loan_id"], principal, Rate(rate_value, basis), months, method, disbursed, due_day
    )
    return LoanRow(
        terms,
        v["borrower_id"],
        v["borrower_name"],
        v["phone"],
        product_id,
        currency,
        profile,
        contacts,
    )


def ensure_default_product(conn: Connection) -> None:
    found = conn.execute(
        select(tables.products.c.product_id).where(
            tables.products.c.product_id == DEFAULT_PRODUCT.product_id
        )
    ).first()
    if found is None:
        conn.execute(
            insert(tables.products),
            [{"product_id": DEFAULT_PRODUCT.product_id, "spec": DEFAULT_PRODUCT.to_json()}],
        )


def _profile_clash(a: LoanRow, b: LoanRow) -> str | None:
    """The first profile or contact column on which two rows of one borrower differ."""
    for col in PROFILE:
        if getattr(a.profile, col) != getattr(b.profile, col):
            return col
    if a.contacts != b.contacts:
        seqs = {c.seq for c in a.contacts} ^ {c.seq for c in b.contacts}
        pairs = zip(a.contacts, b.contacts, strict=False)
        k = min(seqs) if seqs else next(x.seq for x, y in pairs if x != y)
        return f"emergency{k}_name"
    return None


def validate(
    conn: Connection,
    rows: pl.DataFrame | Iterable[dict[str, str]],
    today: date | None = None,
) -> tuple[list[LoanRow], list[Problem]]:
    """Parse every row and check it against the file and the database; (loans, errors).

    ``today``: a loan disbursed after it is refused (money cannot have gone out tomorrow)."""
    prods = products(conn)
    prods.setdefault(DEFAULT_PRODUCT.product_id, DEFAULT_PRODUCT)
    if not isinstance(rows, pl.DataFrame):
        listed = list(rows)
        rows = pl.DataFrame(listed, schema=list(listed[0]) if listed else None)
    if rows.height == 0:
        return [], [row_problem(0, "file", "has no data rows")]
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        return [], [row_problem(0, c, "column is missing") for c in missing]
    wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in rows.columns]
    absent = {c: "" for c in OPTIONAL if c not in rows.columns}
    good: list[LoanRow] = []
    errors: list[Problem] = []
    seen_loans: dict[str, int] = {}
    borrowers: dict[str, tuple[LoanRow, int]] = {}
    for n, values in enumerate(rows.select(wanted).iter_rows(), start=1):
        v = {c: (x or "").strip() for c, x in zip(wanted, values, strict=True)} | absent
        row_errors: list[Problem] = []

        loan = f"loan {v['loan_id']}" if v.get("loan_id") else ""

        def err(
            col: str, reason: str, n: int = n, out: list[Problem] = row_errors, rec: str = loan
        ) -> None:
            out.append(row_problem(n, col, reason, rec))

        res = _parse(n, v, prods, row_errors, err)
        if isinstance(res, list):
            errors.extend(res)
            continue
        if res.terms.loan_id in seen_loans:
            first_line = line_of(seen_loans[res.terms.loan_id])
            errors.append(row_problem(n, "loan_id", f"duplicates line {first_line}", loan))
            continue
        if today is not None and res.terms.disbursed_on > today:
            errors.append(
                row_problem(
                    n, "disbursed_on", f"{res.terms.disbursed_on} is after today, {today}", loan
                )
            )
            continue
        seen_loans[res.terms.loan_id] = n
        prior = borrowers.get(res.borrower_id)
        if prior:
            first, at = prior
            first_line = line_of(at)
            if (first.borrower_name, first.phone) != (res.borrower_name, res.phone):
                errors.append(
                    row_problem(
                        n, "borrower_id", f"name or phone differ from line {first_line}", loan
                    )
                )
                continue
            clash = _profile_clash(first, res)
            if clash:
                errors.append(
                    row_problem(
                        n, clash, f"differs from line {first_line} for the same borrower", loan
                    )
                )
                continue
        else:
            borrowers[res.borrower_id] = (res, n)
        good.append(res)
    ids = list(seen_loans)
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        for (loan_id,) in conn.execute(
            select(tables.loans.c.loan_id).where(tables.loans.c.loan_id.in_(chunk))
        ):
            errors.append(row_problem(seen_loans[loan_id], "loan_id", f"{loan_id} already exists"))
    bids = list(borrowers)
    for k in range(0, len(bids), 5000):
        chunk = bids[k : k + 5000]
        for r in conn.execute(
            select(tables.borrowers).where(tables.borrowers.c.borrower_id.in_(chunk))
        ):
            first, n = borrowers[r.borrower_id]
            if (r.name, r.phone) != (first.borrower_name, first.phone):
                errors.append(
                    row_problem(
                        n, "borrower_id", f"{r.borrower_id} exists with another name or phone"
                    )
                )
    errors.sort(key=lambda e: (e.line, e.field))
    return good, errors


Progress = Callable[[str, int, int], None]


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector during a bulk import.

    An import allocates millions of small acyclic objects (parsed rows, accounts, entries)
    that reference counting frees; with the collector on, its full passes over the growing
    heap cost a third of the payments import's CPU and grow faster than the file. Nothing
    here relies on it, and it is restored afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _quiet(_phase: str, _done: int, _total: int) -> None:
    return None


def import_file(
    engine: Engine,
    path: Path,
    dry_run: bool = False,
    progress: Progress = _quiet,
    today: date | None = None,
) -> Result[ImportReport]:
    """Validate the whole file, then write it in one transaction, or report every bad row.

    ``progress(phase, done, total)`` is told how far validation and writing have got.
    """
    frame, problems = read_frame(path)
    if frame is None:
        return None, problems
    # No commit unless every row is good: leaving the block without one rolls back.
    with engine.connect() as conn, no_cycle_collection():
        ensure_default_product(conn)
        progress("validating", 0, frame.height)
        good, errors = validate(conn, frame, today)
        progress("validating", frame.height, frame.height)
        if errors:
            return fail(*errors)
        if dry_run:
            return ok(ImportReport(len(good), len({g.borrower_id for g in good}), True))
        report = ImportReport(*write(conn, good, progress), False)
        conn.commit()
    analyze_changed(engine, vacuum=True)  # the first close reads the new rows by lists of ids
    return ok(report)


LOANS_PER_CHUNK = 50_000  # loans written per round of bulk inserts


def write(conn: Connection, good: list[LoanRow], progress: Progress = _quiet) -> tuple[int, int]:
    """Write validated loans: borrowers and profiles, loans, schedules, journal and state."""
    prods = products(conn)
    known: set[str] = set()
    bids = list({g.borrower_id: None for g in good})
    for k in range(0, len(bids), 5000):
        known.update(
            conn.execute(
                select(tables.borrowers.c.borrower_id).where(
                    tables.borrowers.c.borrower_id.in_(bids[k : k + 5000])
                )
            ).scalars()
        )
    new: dict[str, LoanRow] = {}
    for g in good:
        if g.borrower_id not in known and g.borrower_id not in new:
            new[g.borrower_id] = g
    total = len(good)
    progress("writing", 0, total)
    bulk_insert(
        conn,
        tables.borrowers,
        [(b, g.borrower_name, g.phone, phone_tail(g.phone)) for b, g in new.items()],
    )
    # A borrower's profile is set when the borrower is first imported; later files leave it.
    bulk_insert(
        conn,
        profile_tables.borrower_profiles,
        [
            (
                b,
                p.language,
                p.timezones,
                p.email,
                p.address,
                p.risk_score,
                p.vulnerable,
                p.rule_pack,
            )
            for b, g in new.items()
            for p in (g.profile,)
        ],
    )
    bulk_insert(
        conn,
        profile_tables.emergency_contacts,
        [(b, c.seq, c.name, c.phone, c.relation) for b, g in new.items() for c in g.contacts],
    )
    for k in range(0, total, LOANS_PER_CHUNK):
        chunk = good[k : k + LOANS_PER_CHUNK]
        _write_loans(conn, chunk, prods)
        progress("writing", k + len(chunk), total)
    return total, len(new)


def _write_loans(conn: Connection, good: Sequence[LoanRow], prods: dict[str, Product]) -> None:
    bulk_insert(
        conn,
        tables.loans,
        [
            (
                g.terms.loan_id,
                g.borrower_id,
                g.product_id,
                g.currency,
                g.terms.principal,
                str(g.terms.rate.value),
                g.terms.rate.basis.value,
                g.terms.months,
                g.terms.method.value,
                g.terms.disbursed_on,
                g.terms.due_day,
                0,
            )
            for g in good
        ],
    )
    fast = [g for g in good if _columnar_ok(g)]
    slow = [g for g in good if not _columnar_ok(g)]
    if slow:  # the reference path, for terms beyond the int64 kernel's safe range
        opened = [open_account(g.terms, prods[g.product_id]) for g in slow]
        post_entries(conn, [e for _, es in opened for e in es])
        save_accounts(
            conn, [(a, prods[g.product_id]) for (a, _), g in zip(opened, slow, strict=True)]
        )
    if not fast:
        return
    by_product: dict[str, list[LoanRow]] = {}
    for g in fast:
        by_product.setdefault(g.product_id, []).append(g)
    for product_id, rows in by_product.items():
        _write_fast(conn, rows, prods[product_id])


# Beyond these the int64 interest numerator could overflow or the float annuity lose the fen.
MAX_FAST_PRINCIPAL = 10**9  # fen: 10 million yuan
MAX_FAST_RATE_PART = 10**6


def columnar_ok(terms: LoanTerms) -> bool:
    """Whether ``sim.columns.schedules`` builds these terms' schedule exactly."""
    r = terms.rate.value
    return (
        terms.principal <= MAX_FAST_PRINCIPAL
        and r.numerator <= MAX_FAST_RATE_PART
        and r.denominator <= MAX_FAST_RATE_PART
    )


def _columnar_ok(g: LoanRow) -> bool:
    return columnar_ok(g.terms)


def loan_columns(terms: Sequence[LoanTerms]) -> schedule_columns.LoanColumns:
    """Terms as the columns ``sim.columns.schedules`` takes."""
    epoch = schedule_columns.EPOCH.toordinal()
    return schedule_columns.LoanColumns(
        np.array([x.principal for x in terms], dtype=np.int64),
        np.array([x.rate.value.numerator for x in terms], dtype=np.int64),
        np.array([x.rate.value.denominator for x in terms], dtype=np.int64),
        np.array([x.rate.basis is RateBasis.DAILY for x in terms], dtype=np.bool_),
        np.array([x.months for x in terms], dtype=np.int64),
        np.array([schedule_columns.METHOD_CODES[x.method.value] for x in terms], dtype=np.int64),
        np.array([x.disbursed_on.toordinal() - epoch for x in terms], dtype=np.int64),
        np.array([x.due_day or 0 for x in terms], dtype=np.int64),
    )


def _write_fast(conn: Connection, rows: Sequence[LoanRow], product: Product) -> None:
    """Disbursement entries, schedules and opening state, as ``open_account`` would write them."""
    terms = [g.terms for g in rows]
    cols = loan_columns(terms)
    s = schedule_columns.schedules(cols, product.days_per_year, product.min_first_period_days)
    ids = [x.loan_id for x in terms]
    dates = _dates(np.concatenate([s.start, s.due]))
    half = len(s.start)
    bulk_insert(
        conn,
        tables.installments,
        zip(
            [ids[i] for i in s.loan.tolist()],
            s.n.tolist(),
            dates[:half],
            dates[half:],
            s.principal.tolist(),
            s.interest.tolist(),
            [0] * half,
            [0] * half,
            strict=True,
        ),
    )
    # The disbursement entry open_account posts: principal receivable debited, cash credited.
    bulk_insert(
        conn,
        tables.journal_entries,
        [
            (f"{x.loan_id}:disbursement", x.loan_id, "disbursement", x.disbursed_on, "")
            for x in terms
        ],
    )
    entry_ids: dict[str, int] = {}
    for k in range(0, len(ids), 5000):
        q = select(tables.journal_entries.c.loan_id, tables.journal_entries.c.entry_id).where(
            tables.journal_entries.c.key.in_([f"{i}:disbursement" for i in ids[k : k + 5000]])
        )
        entry_ids.update({r.loan_id: r.entry_id for r in conn.execute(q)})
    bulk_insert(
        conn,
        tables.postings,
        [
            leg
            for x in terms
            for leg in (
                (entry_ids[x.loan_id], receivable(x.loan_id, Component.PRINCIPAL), x.principal),
                (entry_ids[x.loan_id], CASH, -x.principal),
            )
        ],
    )
    normal = classify(0, product.classification_thresholds)
    bulk_insert(
        conn,
        tables.loan_state,
        [
            (
                x.loan_id,
                x.disbursed_on,
                "active",
                0,
                0,
                0,
                0,
                "C",
                normal,
                0,
                0,
                0,
                x.principal,
                0,
                0,
                0,
            )
            for x in terms
        ],
    )


def _dates(days: np.ndarray[Any, np.dtype[np.int64]]) -> list[str]:
    """Epoch days as ISO dates, the text both SQLite (as stored) and COPY (as parsed) take."""
    text: list[str] = np.datetime_as_string(days.astype("datetime64[D]")).tolist()
    return text


@lru_cache(maxsize=65536)
def iso(d: date) -> str:
    """A date as ISO text, cached: bulk writes give SQLite and COPY dates as text."""
    return d.isoformat()


# Primary keys a caller may give itself (bulk_insert's ``with_id``).
ID_COLUMNS: dict[str, str] = {"journal_entries": "entry_id"}
# Columns written by bulk_insert, in the order the row tuples give them.
BULK_COLUMNS: dict[str, tuple[str, ...]] = {
    "borrowers": ("borrower_id", "name", "phone", "phone_tail"),  # bulk sets no defaults
    "borrower_profiles": (
        "borrower_id", "language", "timezones", "email", "address", "risk_score", "vulnerable",
        "rule_pack",
    ),
    "emergency_contacts": ("borrower_id", "seq", "name", "phone", "relation"),
    "loans": (
        "loan_id", "borrower_id", "product_id", "currency", "principal", "rate", "rate_basis",
        "months", "method", "disbursed_on", "due_day", "version",
    ),
    "installments": (
        "loan_id", "n", "start", "due_date", "principal", "interest", "paid_principal",
        "paid_interest",
    ),
    "journal_entries": ("key", "loan_id", "kind", "effective_on", "memo"),
    "loan_events": (
        "loan_id", "kind", "ref", "amount", "component", "reverses", "effective_on", "recorded_at",
    ),
    "postings": ("entry_id", "account", "amount"),
    "loan_state": (
        "loan_id", "as_of", "status", "penalty_unposted", "penalty_owed", "prepaid_principal",
        "dpd", "bucket", "classification", "overdue_principal", "overdue_interest",
        "overdue_penalty", "outstanding_principal", "outstanding_interest", "outstanding_penalty",
        "consecutive_overdue",
    ),
}  # fmt: skip


def bulk_insert(
    conn: Connection, table: Table, rows: Iterable[tuple[Any, ...]], *, with_id: bool = False
) -> int:
    """Insert rows in the connection's transaction: COPY on PostgreSQL, executemany on SQLite.

    ``with_id``: each row starts with the table's primary key (``ID_COLUMNS``).
    """
    cols = BULK_COLUMNS[table.name]
    if with_id:
        cols = (ID_COLUMNS[table.name], *cols)
    return bulk.insert_rows(conn, table, cols, rows)
