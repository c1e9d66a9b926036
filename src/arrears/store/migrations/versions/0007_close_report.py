"""close: where the collection phase of each close has got to

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "close_progress",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("last_key", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tally", sa.Text(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("business_date", "phase", name=op.f("pk_close_progress")),
    )


def downgrade() -> None:
    op.drop_table("close_progress")
