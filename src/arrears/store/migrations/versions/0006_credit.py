"""credit reporting: notices, settlements by guarantor or assets, disputes, export checkpoints
(owner: credit)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_notices",
        sa.Column("notice_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_credit_notices_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("notice_id", name=op.f("pk_credit_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_credit_notices_key")),
    )
    op.create_index("ix_credit_notices_loan", "credit_notices", ["loan_id"])
    op.create_table(
        "credit_settlements",
        sa.Column("payment_ref", sa.String(length=128), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_credit_settlements_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("payment_ref", name=op.f("pk_credit_settlements")),
    )
    op.create_index("ix_credit_settlements_loan", "credit_settlements", ["loan_id"])
    op.create_table(
        "credit_disputes",
        sa.Column("dispute_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=True),
        sa.Column("outcome_reason", sa.Text(), nullable=True),
        sa.Column("corrected_status", sa.String(length=1), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_credit_disputes_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_credit_disputes")),
        sa.UniqueConstraint("key", name=op.f("uq_credit_disputes_key")),
    )
    op.create_index("ix_credit_disputes_loan", "credit_disputes", ["loan_id"])
    op.create_table(
        "credit_checkpoints",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_credit_checkpoints_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_credit_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("credit_checkpoints")
    op.drop_table("credit_disputes")
    op.drop_table("credit_settlements")
    op.drop_table("credit_notices")
