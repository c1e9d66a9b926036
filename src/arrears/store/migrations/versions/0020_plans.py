"""plans: installment plans, and the reschedule event that re-ages a loan into one

``plans``: a borrower's installment plan from request to decision (the lender's policy or a
supervisor, with counter-offers) to the plan in force, completed or broken.
``loan_events.months`` and ``loan_events.first_due``: a ``reschedule`` event's terms.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_events") as batch:
        batch.add_column(sa.Column("months", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("first_due", sa.Date(), nullable=True))
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("documents", sa.Text(), server_default="", nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("first_due", sa.Date(), nullable=False),
        sa.Column("waive_penalty", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("monthly", sa.BigInteger(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), server_default="", nullable=False),
        sa.Column("event_ref", sa.String(length=128), nullable=True),
        sa.Column("first_n", sa.Integer(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_plans_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_plans_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
        sa.UniqueConstraint("key", name=op.f("uq_plans_key")),
    )
    op.create_index("ix_plans_loan", "plans", ["loan_id", "status"])
    op.create_index("ix_plans_status", "plans", ["status"])


def downgrade() -> None:
    op.drop_index("ix_plans_status", table_name="plans")
    op.drop_index("ix_plans_loan", table_name="plans")
    op.drop_table("plans")
    with op.batch_alter_table("loan_events") as batch:
        batch.drop_column("first_due")
        batch.drop_column("months")
