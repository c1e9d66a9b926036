"""outbox: the due index in the dispatcher's order (status, next attempt, key)

The dispatcher claims the first due messages in (next_attempt_at, message_key) order. With the
index on (status, next_attempt_at) alone, a day's messages (hundreds of thousands due at the same
instant) had to be gathered and sorted for every batch claimed: a million-loan day's outbox took
the better part of an hour to send. With the key in the index, each claim reads its batch off
the index.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at", "message_key"])


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
