"""pii reads: the audit log of staff shown personal data unmasked

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pii_reads",
        sa.Column("read_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("read_id", name=op.f("pk_pii_reads")),
    )
    op.create_index("ix_pii_reads_borrower", "pii_reads", ["borrower_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_pii_reads_borrower", table_name="pii_reads")
    op.drop_table("pii_reads")
