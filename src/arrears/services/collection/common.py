"""Small database helpers shared by the collection services: instants in UTC, chunked IN lists,
row locks that only PostgreSQL needs, and the Problem value every service returns on bad input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Select

from arrears.core.problem import Problem as Problem
from arrears.store.instants import from_db as from_db
from arrears.store.instants import maybe_from_db as maybe_from_db
from arrears.store.instants import to_utc as to_utc

IDS_PER_IN_LIST = 500  # ids per IN (...) list: well below every driver's parameter limit
T = TypeVar("T")


def chunks(items: Iterable[T], size: int = IDS_PER_IN_LIST) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def for_update(conn: Connection, query: Select[Any]) -> Select[Any]:
    """Lock the selected rows on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises."""
    return query.with_for_update() if conn.dialect.name == "postgresql" else query


def split_ids(text: str) -> tuple[str, ...]:
    return tuple(x for x in text.split(",") if x)


def join_ids(ids: Sequence[str]) -> str:
    return ",".join(ids)
