"""borrower records: notes and files a borrower adds to their own evidence chain

``borrower_records``: a note of a call or a visit (when, the caller's name, what was said), or a
screenshot, recording or document kept by its SHA-256, each with its place in the chain.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "borrower_records",
        sa.Column("record_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=True),
        sa.Column("happened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_borrower_records_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_borrower_records")),
        sa.UniqueConstraint("key", name=op.f("uq_borrower_records_key")),
    )
    op.create_index("ix_borrower_records_borrower", "borrower_records", ["borrower_id"])


def downgrade() -> None:
    op.drop_index("ix_borrower_records_borrower", table_name="borrower_records")
    op.drop_table("borrower_records")
