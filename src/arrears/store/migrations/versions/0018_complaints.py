"""complaints: a borrower's complaint, its deadline and its outcome

``complaints``: against a contact, a collector or an amount, linked to records of the
borrower's evidence chain, with the deadline of the borrower's rule pack and the lender's
outcome (upheld, rejected, withdrawn).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("against", sa.String(length=12), nullable=False),
        sa.Column("collector_id", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("evidence", sa.Text(), server_default="", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.Text(), server_default="", nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_complaints_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_complaints_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.collector_id"],
            name=op.f("fk_complaints_collector_id_collectors"),
        ),
        sa.PrimaryKeyConstraint("complaint_id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("key", name=op.f("uq_complaints_key")),
    )
    op.create_index("ix_complaints_borrower", "complaints", ["borrower_id"])
    op.create_index("ix_complaints_status", "complaints", ["status", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_complaints_status", table_name="complaints")
    op.drop_index("ix_complaints_borrower", table_name="complaints")
    op.drop_table("complaints")
