"""restructures: a loan's restructuring, and the reschedule event's rate and interest waiver

``restructures``: new terms, approver, reason, documents, the days past due before, the count,
and the end of the observation period. ``loan_events.rate`` and ``loan_events.waive_interest``:
a restructuring reschedule's new yearly rate and the overdue interest waived.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_events") as batch:
        batch.add_column(sa.Column("rate", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("waive_interest", sa.BigInteger(), nullable=True))
    op.create_table(
        "restructures",
        sa.Column("restructure_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("documents", sa.Text(), server_default="", nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=True),
        sa.Column("waive_interest", sa.BigInteger(), nullable=False),
        sa.Column("waive_penalty", sa.BigInteger(), nullable=False),
        sa.Column("dpd_before", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("observe_until", sa.Date(), nullable=False),
        sa.Column("event_ref", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_restructures_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_restructures_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("restructure_id", name=op.f("pk_restructures")),
        sa.UniqueConstraint("key", name=op.f("uq_restructures_key")),
    )
    op.create_index("ix_restructures_loan", "restructures", ["loan_id"])
    op.create_index("ix_restructures_observe", "restructures", ["observe_until"])


def downgrade() -> None:
    op.drop_index("ix_restructures_observe", table_name="restructures")
    op.drop_index("ix_restructures_loan", table_name="restructures")
    op.drop_table("restructures")
    with op.batch_alter_table("loan_events") as batch:
        batch.drop_column("waive_interest")
        batch.drop_column("rate")
