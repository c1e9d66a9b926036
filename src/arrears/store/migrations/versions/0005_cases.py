"""cases: collectors, cases, contact attempts, promises, visits, agent queue (owner: cases)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collectors",
        sa.Column("collector_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("credential_no", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("collector_id", name=op.f("pk_collectors")),
        sa.UniqueConstraint("credential_no", name="uq_collectors_credential_no"),
    )
    op.create_table(
        "contact_attempts",
        sa.Column("attempt_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("debt_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=True),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=200), server_default="", nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("conversation", sa.Boolean(), nullable=False),
        sa.Column("consent_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("collectors", sa.Text(), server_default="", nullable=False),
        sa.Column("purpose", sa.String(length=20), server_default="collection", nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=True),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("recording_location", sa.Text(), nullable=True),
        sa.Column("recording_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_contact_attempts")),
        sa.UniqueConstraint("key", name="uq_contact_attempts_key"),
    )
    op.create_index(
        "ix_contact_attempts_borrower_at", "contact_attempts", ["borrower_id", "at"], unique=False
    )
    op.create_table(
        "queue_items",
        sa.Column("item_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("script", sa.Text(), server_default="", nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_queue_items")),
        sa.UniqueConstraint("key", name="uq_queue_items_key"),
    )
    op.create_index("ix_queue_items_open", "queue_items", ["done_at", "claimed_by"], unique=False)
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.Column("assigned_agent", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("hardship", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("dispute", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("plan_in_force", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("visit_approved_by", sa.String(length=64), nullable=True),
        sa.Column("visit_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_cases_borrower_id_borrowers")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_borrower", "cases", ["borrower_id", "opened_on"], unique=False)
    op.create_index(
        "uq_cases_open_borrower",
        "cases",
        ["borrower_id"],
        unique=True,
        sqlite_where=sa.text("closed_on IS NULL"),
        postgresql_where=sa.text("closed_on IS NULL"),
    )
    op.create_table(
        "collector_training",
        sa.Column("collector_id", sa.String(length=64), nullable=False),
        sa.Column("trained_on", sa.Date(), nullable=False),
        sa.Column("course", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["collector_id"],
            ["collectors.collector_id"],
            name=op.f("fk_collector_training_collector_id_collectors"),
        ),
        sa.PrimaryKeyConstraint(
            "collector_id", "trained_on", "course", name=op.f("pk_collector_training")
        ),
    )
    op.create_table(
        "promises",
        sa.Column("promise_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("checked_on", sa.Date(), nullable=True),
        sa.Column("paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("attempt_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_promises_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("promise_id", name=op.f("pk_promises")),
        sa.UniqueConstraint("key", name="uq_promises_key"),
    )
    op.create_index("ix_promises_borrower", "promises", ["borrower_id"], unique=False)
    op.create_index("ix_promises_status_due", "promises", ["status", "due_on"], unique=False)
    op.create_table(
        "visits",
        sa.Column("visit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collectors", sa.Text(), server_default="", nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("notice_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_visits_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_visits_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visits")),
        sa.UniqueConstraint("key", name="uq_visits_key"),
    )
    op.create_index("ix_visits_borrower", "visits", ["borrower_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_visits_borrower", table_name="visits")
    op.drop_table("visits")
    op.drop_index("ix_promises_status_due", table_name="promises")
    op.drop_index("ix_promises_borrower", table_name="promises")
    op.drop_table("promises")
    op.drop_table("collector_training")
    op.drop_index(
        "uq_cases_open_borrower",
        table_name="cases",
        sqlite_where=sa.text("closed_on IS NULL"),
        postgresql_where=sa.text("closed_on IS NULL"),
    )
    op.drop_index("ix_cases_borrower", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_queue_items_open", table_name="queue_items")
    op.drop_table("queue_items")
    op.drop_index("ix_contact_attempts_borrower_at", table_name="contact_attempts")
    op.drop_table("contact_attempts")
    op.drop_table("collectors")
