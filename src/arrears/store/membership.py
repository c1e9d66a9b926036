"""``column IN (values)`` in the form each database runs best, for reads by a list of ids.

SQLite: ``IN (?, ?, ...)`` in batches of ``SQLITE_BATCH`` (well below its parameter limit).
PostgreSQL: ``column = ANY(CAST($1 AS type[]))`` with the whole list as one parameter, the
array's text form, in one batch. An ``IN`` list of a few thousand parameters cost the gate's
readers more than the database's own work: SQLAlchemy renders a placeholder and a cast per
value, and psycopg re-parses a statement text that differs with every list length (profiled at
100k loans: about half of the gate's planning CPU). A Python list as an array parameter is
dumped element by element in Python, still twice the cost of the text form; measured for
2,000 ids: IN list 24 ms, list parameter 7 ms, text form 3 ms of client CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, String, any_, cast, literal
from sqlalchemy.dialects.postgresql import ARRAY

T = TypeVar("T")

SQLITE_BATCH = 500


def one_of(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (use with ``batches``, which keeps SQLite's lists short)."""
    if conn.dialect.name == "postgresql":
        array = cast(literal(array_text(values), String()), ARRAY(column.type))
        return column == any_(array)
    return column.in_(list(values))


def array_text(values: Sequence[Any]) -> str:
    """PostgreSQL's text form of a one-dimensional array: every element quoted, so that no id
    (a comma, a brace, whitespace, the word NULL) is read as anything but itself."""
    try:
        body = '","'.join(values)
    except TypeError:  # not all str: integers, or a None (a bug upstream)
        if any(v is None for v in values):
            raise ValueError("one_of: None is not an id") from None
        body = '","'.join(map(str, values))
    # Only a quote or a backslash inside an element needs escaping (the separators bring
    # two quotes each); ids almost never have one, so the usual case is two C-level scans.
    if "\\" in body or body.count('"') != 2 * (len(values) - 1):
        texts = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
        body = '","'.join(texts)
    return '{"' + body + '"}' if values else "{}"


def batches(conn: Connection, values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in batches for ``one_of``: all at once on PostgreSQL (an array parameter has
    no length limit), ``SQLITE_BATCH`` at a time on SQLite."""
    size = len(values) if conn.dialect.name == "postgresql" else SQLITE_BATCH
    for i in range(0, len(values), max(size, 1)):
        yield values[i : i + size]
