"""erasure: the day a borrower's personal data was erased at the end of retention

``borrowers.erased_on``: null while the borrower's personal data is held; set by
``arrears erase`` in the transaction that replaces it with placeholders (loans, the ledger and
the evidence log stay). One column, so that renumbering this migration at a merge is a
one-line change.

Revision ID: 0026
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("borrowers", sa.Column("erased_on", sa.Date(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch would copy borrowers into
    # a new table, and dropping the old one is refused while loans refer to it.
    op.drop_column("borrowers", "erased_on")
