"""sealed personal data: names, phone numbers and addresses encrypted at rest

Seals every existing value of the personal-data columns with the data key
(``ARREARS_DATA_KEY``, ``store.sealed``), adds ``borrowers.phone_tail`` (the blind index staff
search by) and, on PostgreSQL, widens the columns to TEXT (a sealed value is about 4/3 of the
clear one plus 27 characters). SQLite keeps its declared lengths: it does not enforce them.

Downgrade opens every value again with the same key and narrows the columns back.

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from arrears.store.sealed import PREFIX, Sealer, data_key

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

BATCH = 2000  # rows read and written per statement

# table -> (primary key columns, {sealed column: (type before, nullable)})
SEALED: dict[str, tuple[tuple[str, ...], dict[str, tuple[Any, bool]]]] = {
    "borrowers": (("borrower_id",), {"name": (sa.String(200), False),
                                     "phone": (sa.String(40), False)}),
    "emergency_contacts": (("borrower_id", "seq"), {"name": (sa.String(200), False),
                                                    "phone": (sa.String(40), False)}),
    "borrower_profiles": (("borrower_id",), {"email": (sa.String(200), True),
                                             "address": (sa.Text(), True)}),
    "visits": (("visit_id",), {"address": (sa.Text(), True)}),
    "outbox": (("message_key",), {"recipient": (sa.String(320), False)}),
    "mailbox": (("mailbox_id",), {"recipient": (sa.String(320), False)}),
    "contact_attempts": (("attempt_id",), {"number": (sa.String(200), False)}),
    "queue_items": (("item_id",), {"number": (sa.String(200), False)}),
}  # fmt: skip


def _rewrite(table: str, change: Any, *, tail: Any = None) -> None:
    """Every row of ``table``, a batch at a time in key order: each sealed column's value
    replaced by ``change(table.column, value)``; ``tail(clear phone)`` into ``phone_tail``."""
    conn = op.get_bind()
    keys, columns = SEALED[table]
    names = list(columns)
    t = sa.table(table, *(sa.column(n) for n in (*keys, *names, "phone_tail")))
    key = sa.tuple_(*(t.c[k] for k in keys))
    last: tuple[Any, ...] | None = None
    while True:
        q = sa.select(*(t.c[k] for k in keys), *(t.c[n] for n in names))
        if last is not None:
            q = q.where(key > sa.tuple_(*(sa.literal(v) for v in last)))
        rows = conn.execute(q.order_by(*(t.c[k] for k in keys)).limit(BATCH)).all()
        if not rows:
            return
        updates = []
        for row in rows:
            values = dict(zip(names, row[len(keys) :], strict=True))
            new: dict[str, Any] = {
                f"new_{n}": None if v is None else change(f"{table}.{n}", v)
                for n, v in values.items()
            }
            if tail is not None:
                new["new_phone_tail"] = tail(values["phone"])
            updates.append({**{f"key_{k}": row[i] for i, k in enumerate(keys)}, **new})
        wanted = [*names, *(["phone_tail"] if tail is not None else [])]
        conn.execute(
            sa.update(t)
            .where(*(t.c[k] == sa.bindparam(f"key_{k}") for k in keys))
            .values({n: sa.bindparam(f"new_{n}") for n in wanted}),
            updates,
        )
        last = tuple(rows[-1][: len(keys)])


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for table, (_, columns) in SEALED.items():
            for name, (before, nullable) in columns.items():
                if not isinstance(before, sa.Text):
                    op.alter_column(
                        table, name, type_=sa.Text(), existing_type=before,
                        existing_nullable=nullable,
                    )  # fmt: skip
    op.add_column("borrowers", sa.Column("phone_tail", sa.String(length=64), nullable=True))
    op.create_index("ix_borrowers_phone_tail", "borrowers", ["phone_tail"])
    sealer = Sealer(data_key())

    def seal(where: str, value: str) -> str:
        # A value sealed already is left alone (nothing clear starts with the prefix).
        return value if value.startswith(PREFIX) else sealer.seal(where, value)

    for table in SEALED:
        _rewrite(table, seal, tail=sealer.tail if table == "borrowers" else None)


def downgrade() -> None:
    sealer = Sealer(data_key())

    def unseal(where: str, value: str) -> str:
        return sealer.unseal(where, value) if value.startswith(PREFIX) else value

    for table in SEALED:
        _rewrite(table, unseal)
    op.drop_index("ix_borrowers_phone_tail", table_name="borrowers")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch would copy borrowers into
    # a new table and drop the old one, which the loans' foreign keys refuse.
    op.drop_column("borrowers", "phone_tail")
    if op.get_bind().dialect.name == "postgresql":
        for table, (_, columns) in SEALED.items():
            for name, (before, nullable) in columns.items():
                if not isinstance(before, sa.Text):
                    op.alter_column(
                        table, name, type_=before, existing_type=sa.Text(),
                        existing_nullable=nullable,
                    )  # fmt: skip
