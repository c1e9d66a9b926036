"""``column IN (values)`` in the form each database runs best, for reads by a list of ids.

SQLite: ``IN (?, ?, ...)`` in batches of ``SQLITE_BATCH`` (well below its parameter limit).
PostgreSQL: ``column = ANY(string_to_array($1, $2))``: the whole list as one text parameter,
its elements joined by the unit separator (U+001F), in one batch.

* Client CPU. An ``IN`` list of a few thousand parameters cost the gate's readers more than
  the database's own work: SQLAlchemy renders a placeholder and a cast per value, and psycopg
  re-parses a statement text that differs with every list length (profiled at 100k loans:
  about half of the gate's planning CPU). A Python list as an array parameter is dumped
  element by element in Python, still twice the cost of one text (2,000 ids: IN list 24 ms,
  list parameter 7 ms, text 3 ms of client CPU).
* Server CPU. ``string_to_array`` is immutable, so the planner folds the call into a constant
  array, and PostgreSQL (14 and later) probes a constant array through a hash table. The
  array's text form cast to an array type (``array_in``, only stable) stays an expression, and
  a sequential scan then compares every row with every element: on the first close, before
  ``contact_attempts`` had statistics, the planner chose that scan and each lookup of 2,000
  keys in 55k rows took a minute; hashed, 10 ms.

An element holding the separator itself (no id does), or a list of one, goes as a list
parameter instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, String, any_, cast, func, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

T = TypeVar("T")

SQLITE_BATCH = 500
SEPARATOR = "\x1f"  # the unit separator: a control character, never in an id


def one_of(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (use with ``batches``, which keeps SQLite's lists short)."""
    if conn.dialect.name != "postgresql":
        return column.in_(list(values))
    return column == any_(pg_array(values, column.type))


def pg_array(values: Sequence[Any], of: TypeEngine[Any]) -> ColumnElement[Any]:
    """``values`` as one constant PostgreSQL array of ``of`` (see the module's notes)."""
    text = joined(values)
    # One element goes as a list parameter too: string_to_array('', sep) is empty, so a lone
    # '' would match nothing (and one element costs nothing to dump).
    if text is None or len(values) == 1:
        return literal(list(values), ARRAY(of))
    array: ColumnElement[Any] = func.string_to_array(
        literal(text, String()), literal(SEPARATOR, String()), type_=ARRAY(String())
    )
    return array if isinstance(of, String) else cast(array, ARRAY(of))


def joined(values: Sequence[Any]) -> str | None:
    """The elements joined by ``SEPARATOR``; None when one of them holds it."""
    try:
        text = SEPARATOR.join(values)
    except TypeError:  # not all str: integers, or a None (a bug upstream)
        if any(v is None for v in values):
            raise ValueError("one_of: None is not an id") from None
        text = SEPARATOR.join(map(str, values))
    if text.count(SEPARATOR) != max(len(values) - 1, 0):
        return None
    return text


def batches(conn: Connection, values: Sequence[T]) -> Iterator[Sequence[T]]:
    """``values`` in batches for ``one_of``: all at once on PostgreSQL (an array parameter has
    no length limit), ``SQLITE_BATCH`` at a time on SQLite."""
    size = len(values) if conn.dialect.name == "postgresql" else SQLITE_BATCH
    for i in range(0, len(values), max(size, 1)):
        yield values[i : i + size]
