"""contact lifecycle: undialled calls expire, queued messages can be cancelled

``queue_items.expires_at``: the end of a call's window; an item not dialled by then is expired
by the next close (``outcome`` expired, ``done_at`` set) and no agent is given it. ``outbox.status``
is widened for ``cancelled`` (a queued message whose loan was repaid, disputed or put under a
moratorium before it went out). ``ix_queue_items_borrower``: the close's gate reads each chunk's
open calls by borrower (they count against the caps until made or expired).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_queue_items_borrower", "queue_items", ["borrower_id", "done_at"])
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=8), type_=sa.String(length=12)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=12), type_=sa.String(length=8)
        )
    op.drop_index("ix_queue_items_borrower", table_name="queue_items")
    with op.batch_alter_table("queue_items", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
