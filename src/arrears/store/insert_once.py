"""One row unless its key is taken, in one statement on both databases:
``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key``.

For the single-row writes of a request (an idempotency key claimed, a call attempt recorded),
where reading first and then inserting costs a statement more and leaves a race between two
writers. The statements are built once per table and dialect. RETURNING says whether the row
went in: psycopg reports no row count for this statement (-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


class InsertOnce:
    def __init__(self, table: Table, key: Sequence[str]) -> None:
        returned = table.c[key[0]]
        self._by_dialect: dict[str, Any] = {
            "postgresql": pg_insert(table)
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(returned),
            "sqlite": sqlite_insert(table)
            .on_conflict_do_nothing(index_elements=list(key))
            .returning(returned),
        }

    def __call__(self, conn: Connection, row: Mapping[str, Any]) -> bool:
        """Insert ``row`` unless a row with its key is there (or being written: PostgreSQL waits
        for that writer's transaction to end); whether it went in."""
        return conn.execute(self._by_dialect[conn.dialect.name], dict(row)).first() is not None
