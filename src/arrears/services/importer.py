"""``arrears loans import``: a CSV or Parquet portfolio, validated whole, written whole or not
at all.

Columns (README, "Import format"): ``loan_id, borrower_id, borrower_name, phone, principal,
rate, rate_basis, months, method, disbursed_on`` and optionally ``due_day, product, currency``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select

from arrears.ledger.account import open_account
from arrears.loans.product import DEFAULT_PRODUCT, Method, Product
from arrears.loans.schedule import LoanTerms
from arrears.money import MoneyError, Rate, RateBasis, parse_amount, parse_rate
from arrears.services.accounts import post_entries, products, save_accounts
from arrears.store import tables as t

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
OPTIONAL = ("due_day", "product", "currency")
MAX_LENGTH = {"loan_id": 64, "borrower_id": 64, "borrower_name": 200, "product": 64}
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,24}$")
MAX_MONTHS = 360
# Plausibility bounds that catch a percent typed as a fraction: 24% a year is the upper end
# of licensed consumer lending in China; 1% a day is far beyond any lawful product.
MAX_ANNUAL: Fraction = Fraction(1)
MAX_DAILY: Fraction = Fraction(1, 100)


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based data row (the header is row 0); 0 for the file itself
    column: str
    reason: str

    def __str__(self) -> str:
        where = "file" if self.row == 0 else f"row {self.row}"
        return f"{where}: {self.column}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LoanRow:
    terms: LoanTerms
    borrower_id: str
    borrower_name: str
    phone: str
    product_id: str
    currency: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    loans: int
    borrowers: int
    dry_run: bool


def read_rows(path: Path) -> list[dict[str, str]] | RowError:
    """Every data row as column -> text. Parquet values are turned into their text form."""
    if not path.exists():
        return RowError(0, "file", f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            return RowError(0, "file", f"not a readable Parquet file: {exc}")
        cols = table.column_names
        data = table.to_pydict()
        return [
            {c: "" if data[c][k] is None else str(data[c][k]) for c in cols}
            for k in range(table.num_rows)
        ]
    if suffix in (".csv", ".txt"):
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                return [dict(r) for r in csv.DictReader(fh)]
        except UnicodeDecodeError as exc:
            return RowError(0, "file", f"not UTF-8 text: {exc}")
    return RowError(0, "file", f"unknown format {suffix!r}: use .csv or .parquet")


def parse_row(n: int, raw: dict[str, str], prods: dict[str, Product]) -> LoanRow | list[RowError]:
    errors: list[RowError] = []

    def err(col: str, reason: str) -> None:
        errors.append(RowError(n, col, reason))

    v = {k: (raw.get(k) or "").strip() for k in (*REQUIRED, *OPTIONAL)}
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
    principal = 0
    try:
        principal = parse_amount(v["principal"], product.currency)
        if principal <= 0:
            err("principal", f"must be positive, got {v['principal']}")
    except MoneyError as exc:
        err("principal", str(exc))
    basis: RateBasis | None = None
    try:
        basis = RateBasis(v["rate_basis"])
    except ValueError:
        err("rate_basis", f"{v['rate_basis']!r} is not annual or daily")
    rate_value = Fraction(0)
    try:
        rate_value = parse_rate(v["rate"])
    except MoneyError as exc:
        err("rate", str(exc))
    if basis is not None and not errors:
        limit = MAX_ANNUAL if basis is RateBasis.ANNUAL else MAX_DAILY
        if rate_value > limit:
            err("rate", f"{v['rate']} {basis.value} is beyond any lawful consumer loan")
        cap = product.rate_cap_annual
        if cap is not None:
            rate = Rate(rate_value, basis)
            overdue = rate.annual(product.days_per_year) * product.penalty_multiplier
            worst = max(rate.annual(product.days_per_year), overdue)
            if worst > cap:
                err(
                    "rate",
                    f"agreed or overdue rate ({float(worst):.2%} a year) exceeds the cap of "
                    f"{float(cap):.2%} (4x LPR) for non-licensed lender product {product_id}",
                )
    months = 0
    try:
        months = int(v["months"])
        if not 1 <= months <= MAX_MONTHS:
            err("months", f"must be 1..{MAX_MONTHS}, got {months}")
    except ValueError:
        err("months", f"{v['months']!r} is not a whole number")
    method: Method | None = None
    try:
        method = Method(v["method"])
    except ValueError:
        err("method", f"{v['method']!r} is not one of {', '.join(m.value for m in Method)}")
    disbursed = None
    try:
        disbursed = date.fromisoformat(v["disbursed_on"])
    except ValueError:
        err("disbursed_on", f"{v['disbursed_on']!r} is not a date (YYYY-MM-DD)")
    due_day: int | None = None
    if v["due_day"]:
        try:
            due_day = int(v["due_day"])
            if not 1 <= due_day <= 31:
                err("due_day", f"must be 1..31, got {due_day}")
        except ValueError:
            err("due_day", f"{v['due_day']!r} is not a day of the month")
    if errors:
        return errors
    assert basis is not None and method is not None and disbursed is not None
    terms = LoanTerms(
        v["loan_id"], principal, Rate(rate_value, basis), months, method, disbursed, due_day
    )
    return LoanRow(terms, v["borrower_id"], v["borrower_name"], v["phone"], product_id, currency)


def ensure_default_product(conn: Connection) -> None:
    found = conn.execute(
        select(t.products.c.product_id).where(t.products.c.product_id == DEFAULT_PRODUCT.product_id)
    ).first()
    if found is None:
        conn.execute(
            insert(t.products),
            [{"product_id": DEFAULT_PRODUCT.product_id, "spec": DEFAULT_PRODUCT.to_json()}],
        )


def validate(
    conn: Connection, rows: Iterable[dict[str, str]]
) -> tuple[list[LoanRow], list[RowError]]:
    """Parse every row and check it against the file and the database; (loans, errors)."""
    prods = products(conn)
    prods.setdefault(DEFAULT_PRODUCT.product_id, DEFAULT_PRODUCT)
    rows = list(rows)
    if not rows:
        return [], [RowError(0, "file", "has no data rows")]
    missing = [c for c in REQUIRED if c not in rows[0]]
    if missing:
        return [], [RowError(0, c, "column is missing") for c in missing]
    good: list[LoanRow] = []
    errors: list[RowError] = []
    seen_loans: dict[str, int] = {}
    borrowers: dict[str, tuple[str, str, int]] = {}
    for n, raw in enumerate(rows, start=1):
        res = parse_row(n, raw, prods)
        if isinstance(res, list):
            errors.extend(res)
            continue
        if res.terms.loan_id in seen_loans:
            errors.append(RowError(n, "loan_id", f"duplicates row {seen_loans[res.terms.loan_id]}"))
            continue
        seen_loans[res.terms.loan_id] = n
        prior = borrowers.get(res.borrower_id)
        if prior and prior[:2] != (res.borrower_name, res.phone):
            errors.append(RowError(n, "borrower_id", f"name or phone differ from row {prior[2]}"))
            continue
        borrowers.setdefault(res.borrower_id, (res.borrower_name, res.phone, n))
        good.append(res)
    ids = list(seen_loans)
    for k in range(0, len(ids), 5000):
        chunk = ids[k : k + 5000]
        for (loan_id,) in conn.execute(
            select(t.loans.c.loan_id).where(t.loans.c.loan_id.in_(chunk))
        ):
            errors.append(RowError(seen_loans[loan_id], "loan_id", f"{loan_id} already exists"))
    bids = list(borrowers)
    for k in range(0, len(bids), 5000):
        chunk = bids[k : k + 5000]
        for r in conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id.in_(chunk))):
            name, phone, n = borrowers[r.borrower_id]
            if (r.name, r.phone) != (name, phone):
                errors.append(
                    RowError(n, "borrower_id", f"{r.borrower_id} exists with another name or phone")
                )
    errors.sort(key=lambda e: (e.row, e.column))
    return good, errors


def import_file(engine: Engine, path: Path, dry_run: bool = False) -> ImportReport | list[RowError]:
    rows = read_rows(path)
    if isinstance(rows, RowError):
        return [rows]
    # No commit unless every row is good: leaving the block without one rolls back.
    with engine.connect() as conn:
        ensure_default_product(conn)
        good, errors = validate(conn, rows)
        if errors:
            return errors
        if dry_run:
            return ImportReport(len(good), len({g.borrower_id for g in good}), True)
        report = ImportReport(*write(conn, good), False)
        conn.commit()
        return report


def write(conn: Connection, good: list[LoanRow]) -> tuple[int, int]:
    prods = products(conn)
    known = set(
        conn.execute(
            select(t.borrowers.c.borrower_id).where(
                t.borrowers.c.borrower_id.in_({g.borrower_id for g in good})
            )
        ).scalars()
    )
    new_borrowers = {
        g.borrower_id: {"borrower_id": g.borrower_id, "name": g.borrower_name, "phone": g.phone}
        for g in good
        if g.borrower_id not in known
    }
    if new_borrowers:
        conn.execute(insert(t.borrowers), list(new_borrowers.values()))
    conn.execute(
        insert(t.loans),
        [
            {
                "loan_id": g.terms.loan_id,
                "borrower_id": g.borrower_id,
                "product_id": g.product_id,
                "currency": g.currency,
                "principal": g.terms.principal,
                "rate": str(g.terms.rate.value),
                "rate_basis": g.terms.rate.basis.value,
                "months": g.terms.months,
                "method": g.terms.method.value,
                "disbursed_on": g.terms.disbursed_on,
                "due_day": g.terms.due_day,
            }
            for g in good
        ],
    )
    opened = [open_account(g.terms, prods[g.product_id]) for g in good]
    post_entries(conn, [e for _, es in opened for e in es])
    save_accounts(conn, [(a, prods[g.product_id]) for (a, _), g in zip(opened, good, strict=True)])
    return len(good), len(new_borrowers)
