"""moratoria, debt_disputes, validation_notices: holds on collection that the law names

UK Breathing Space and mental health crisis moratoria (Debt Respite Scheme Regulations 2020)
and US written disputes / original-creditor requests (Regulation F §1006.38) with the
validation notices that start the validation period (§1006.34). See
``arrears.store.hold_tables``.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "moratoria",
        sa.Column("moratorium_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_moratoria_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("moratorium_id", name=op.f("pk_moratoria")),
        sa.UniqueConstraint("ref", name=op.f("uq_moratoria_ref")),
    )
    op.create_index("ix_moratoria_borrower", "moratoria", ["borrower_id"])
    op.create_table(
        "moratorium_loans",
        sa.Column("moratorium_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["moratorium_id"],
            ["moratoria.moratorium_id"],
            name=op.f("fk_moratorium_loans_moratorium_id_moratoria"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_moratorium_loans_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("moratorium_id", "loan_id", name=op.f("pk_moratorium_loans")),
    )
    op.create_index("ix_moratorium_loans_loan", "moratorium_loans", ["loan_id"])
    op.create_table(
        "debt_disputes",
        sa.Column("dispute_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verification_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_debt_disputes_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("dispute_id", name=op.f("pk_debt_disputes")),
        sa.UniqueConstraint("ref", name=op.f("uq_debt_disputes_ref")),
    )
    op.create_index("ix_debt_disputes_loan", "debt_disputes", ["loan_id"])
    op.create_table(
        "validation_notices",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("message_key", sa.String(length=200), nullable=False),
        sa.Column("first_communication", sa.Date(), nullable=False),
        sa.Column("enqueued_on", sa.Date(), nullable=False),
        sa.Column("itemization_date", sa.Date(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "amount_on_itemization",
                "interest_since",
                "fees_since",
                "payments_since",
                "credits_since",
                "current_amount",
            )
        ),
        sa.Column("validation_end", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_validation_notices_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_validation_notices")),
    )


def downgrade() -> None:
    op.drop_table("validation_notices")
    op.drop_index("ix_debt_disputes_loan", table_name="debt_disputes")
    op.drop_table("debt_disputes")
    op.drop_index("ix_moratorium_loans_loan", table_name="moratorium_loans")
    op.drop_table("moratorium_loans")
    op.drop_index("ix_moratoria_borrower", table_name="moratoria")
    op.drop_table("moratoria")
