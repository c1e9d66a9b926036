"""profiles: borrower contact profiles and emergency contacts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "borrower_profiles",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), server_default="zh-CN", nullable=False),
        sa.Column("timezones", sa.Text(), server_default="Asia/Shanghai", nullable=False),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("risk_score", sa.Integer(), server_default="500", nullable=False),
        sa.Column("vulnerable", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("rule_pack", sa.String(length=16), server_default="cn", nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_borrower_profiles_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_borrower_profiles")),
    )
    op.create_table(
        "emergency_contacts",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("relation", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_emergency_contacts_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("borrower_id", "seq", name=op.f("pk_emergency_contacts")),
    )


def downgrade() -> None:
    op.drop_table("emergency_contacts")
    op.drop_table("borrower_profiles")
