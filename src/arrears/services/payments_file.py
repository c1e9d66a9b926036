"""``arrears payments import``: a CSV of payments (loan_id, amount, paid_on, ref), all or none."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from arrears.money import MoneyError, parse_amount
from arrears.services.events import Applied, Problem, pay_many
from arrears.services.importer import RowError

COLUMNS = ("loan_id", "amount", "paid_on", "ref")


def read_payments(path: Path) -> list[tuple[str, int, date, str]] | list[RowError]:
    if not path.exists():
        return [RowError(0, "file", f"{path} does not exist")]
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            return [RowError(0, c, "column is missing") for c in missing]
        out: list[tuple[str, int, date, str]] = []
        errors: list[RowError] = []
        for n, row in enumerate(reader, start=1):
            v = {c: (row.get(c) or "").strip() for c in COLUMNS}
            bad = [RowError(n, c, "is empty") for c in COLUMNS if not v[c]]
            if bad:
                errors.extend(bad)
                continue
            try:
                amount = parse_amount(v["amount"])
                if amount <= 0:
                    raise MoneyError(f"must be positive, got {v['amount']}")
            except MoneyError as exc:
                errors.append(RowError(n, "amount", str(exc)))
                continue
            try:
                on = date.fromisoformat(v["paid_on"])
            except ValueError:
                errors.append(RowError(n, "paid_on", f"{v['paid_on']!r} is not a date"))
                continue
            out.append((v["loan_id"], amount, on, v["ref"]))
    return errors or out


def import_payments(engine: Engine, path: Path) -> list[Applied | RowError | Problem]:
    rows = read_payments(path)
    errors: list[Applied | RowError | Problem] = [r for r in rows if isinstance(r, RowError)]
    if errors:
        return errors
    payments = [r for r in rows if not isinstance(r, RowError)]
    return list(pay_many(engine, payments))
