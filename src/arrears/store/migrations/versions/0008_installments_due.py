"""installments: an index by due date, for the close's quiet-day check

The accrual of one day moves every loan with nothing overdue and nothing due yesterday or
today in one UPDATE (``services/close/accrual.py``); this index finds the installments due in that
two-day window (and the kernel's window) without reading every loan's installments.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_installments_due_date", "installments", ["due_date", "loan_id"])


def downgrade() -> None:
    op.drop_index("ix_installments_due_date", table_name="installments")
