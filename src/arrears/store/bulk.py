"""Plain bulk inserts in the caller's transaction: COPY on PostgreSQL, one prepared statement
over all rows on SQLite.

For the close's hot paths, where binding rows through SQLAlchemy (type processing per value,
a dict per row) cost more than the database's own work. Values are given as tuples in the
order of ``columns``; dates and times are written as SQLAlchemy's SQLite types write them, so
the ORM and Core read them back the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table

from arrears.store.sealed import sealing

BATCH = 5000  # rows per executemany on SQLite


@lru_cache(maxsize=4096)  # a batch shares a handful of instants and dates
def sqlite_text(value: date) -> str:
    """A date or instant as SQLAlchemy's SQLite DATE / DATETIME store it (instants in UTC)."""
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], values: Iterable[tuple[Any, ...]]
) -> int:
    """INSERT every row (a conflict is an error, as with a plain insert); how many.

    The table's sealed columns are sealed here (``store.sealed``): neither COPY nor the
    driver's executemany applies the column types."""
    if not columns:  # no rows to name columns by (e.g. ``Rows.of([])``): nothing to insert
        if any(True for _ in values):
            raise ValueError(f"insert_rows: rows for {table.name} without column names")
        return 0
    names = ", ".join(f'"{c}"' for c in columns)
    raw: Any = conn.connection.driver_connection
    count = 0
    sealed = sealing(table, columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as cp:
            for row in values:
                cp.write_row(sealed(row))
                count += 1
        return count
    if conn.dialect.name != "sqlite":  # pragma: no cover - the two databases we support
        raise NotImplementedError(conn.dialect.name)
    timed = [k for k, c in enumerate(columns) if isinstance(table.c[c].type, Date | DateTime)]
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    batch: list[tuple[Any, ...]] = []

    def flush() -> None:
        nonlocal count
        conn.exec_driver_sql(sql, batch)
        count += len(batch)
        batch.clear()

    for row in values:
        row = sealed(row)
        if timed:
            cells = list(row)
            for k in timed:
                if isinstance(cells[k], date):
                    cells[k] = sqlite_text(cells[k])
            row = tuple(cells)
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return count
