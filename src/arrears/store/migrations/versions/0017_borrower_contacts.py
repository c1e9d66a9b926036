"""borrower contacts: the borrower reaching the lender

``borrower_contacts``: a message the borrower sent, or a callback they asked for at a time of
their choosing (the callback is also a queue item, at the top of the queue). The debtor counts
as reached on the day of either, for the policy's unreachable days and the gate's third-party
rules.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "borrower_contacts",
        sa.Column("contact_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_borrower_contacts_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_borrower_contacts_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_borrower_contacts")),
        sa.UniqueConstraint("key", name=op.f("uq_borrower_contacts_key")),
    )
    op.create_index(
        "ix_borrower_contacts_borrower", "borrower_contacts", ["borrower_id", "on_date"]
    )


def downgrade() -> None:
    op.drop_index("ix_borrower_contacts_borrower", table_name="borrower_contacts")
    op.drop_table("borrower_contacts")
