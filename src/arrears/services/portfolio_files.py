"""Synthetic portfolios written to files, for ``arrears loans import`` and ``payments import``.

The portfolios themselves are drawn by the pure :mod:`arrears.core.sim` (frames and rows in
memory); writing them out is the shell's.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from arrears.core.money import fmt
from arrears.core.sim.sample import SamplePayment


def write_table(df: pl.DataFrame, path: Path) -> None:
    """Parquet (``.parquet``) or CSV (``.csv``), chosen by the extension; same bytes every time."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        # Statistics and the writer's version string are the only metadata: no timestamps.
        df.write_parquet(path, compression="zstd", statistics=False)
    elif suffix == ".csv":
        df.write_csv(path, date_format="%Y-%m-%d")
    else:
        raise ValueError(f"{path}: unknown format {suffix!r}: use .csv or .parquet")


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    """The sample portfolio's loan rows, as the loan import reads them."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_payments(pays: list[SamplePayment], path: Path) -> None:
    """The sample portfolio's payments, as the payment import reads them."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["loan_id", "amount", "paid_on", "ref"])
        for pay in pays:
            writer.writerow([pay.loan_id, fmt(pay.amount), pay.on.isoformat(), pay.ref])
