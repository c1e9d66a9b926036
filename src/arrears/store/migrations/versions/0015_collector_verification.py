"""collector verification: collector status, agencies, one-time codes, attempts, incidents

A borrower can check a visiting collector: by a one-time code the collector got from the lender
for the borrower's loan (only its keyed hash is kept), or by a signed credential. ``collectors``
gains ``status`` (active | deactivated) and when it was deactivated; ``agencies`` registers the
agencies collectors work for (filled from the collectors on record); ``code_attempts`` is what
the guessing limits count; ``impostor_incidents`` what the lender follows up.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("collectors", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=12), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "agencies",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), server_default="active", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_agencies")),
    )
    op.execute(
        "INSERT INTO agencies (name, status) SELECT DISTINCT agency, 'active' FROM collectors "
        "WHERE agency IS NOT NULL"
    )
    op.create_table(
        "collector_codes",
        sa.Column("code_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code_hmac", sa.String(length=64), nullable=False),
        sa.Column("collector_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.collector_id"],
            name=op.f("fk_collector_codes_collector_id_collectors"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_collector_codes_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_collector_codes_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("code_id", name=op.f("pk_collector_codes")),
    )
    op.create_index("ix_collector_codes_hmac", "collector_codes", ["code_hmac"])
    op.create_index(
        "ix_collector_codes_borrower", "collector_codes", ["borrower_id", "valid_until"]
    )
    op.create_table(
        "code_attempts",
        sa.Column("attempt_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("code_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_code_attempts")),
    )
    op.create_index("ix_code_attempts_borrower_at", "code_attempts", ["borrower_id", "at"])
    op.create_index("ix_code_attempts_outcome_at", "code_attempts", ["outcome", "at"])
    op.create_table(
        "impostor_incidents",
        sa.Column("incident_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("collector_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("evidence_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_impostor_incidents")),
    )
    op.create_index("ix_impostor_incidents_at", "impostor_incidents", ["at"])


def downgrade() -> None:
    op.drop_table("impostor_incidents")
    op.drop_table("code_attempts")
    op.drop_table("collector_codes")
    op.drop_table("agencies")
    with op.batch_alter_table("collectors", schema=None) as batch_op:
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("status")
