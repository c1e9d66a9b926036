"""cases: room on each page for the daily priority update (PostgreSQL's heap-only tuples)

Every open case's priority is its borrower's highest DPD, rewritten each business day (263k
rows at a million loans). No index covers ``priority``, so the update can stay on its page,
without new entries in the three indexes, when the page has room for a copy of every row:
fillfactor 50 and a rewrite, as migration 0010 did for ``loan_state``. (With fillfactor 70,
138 of 300 updates stayed on their pages.)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE cases SET (fillfactor = {FILLFACTOR})")
        op.execute("CLUSTER cases USING pk_cases")  # the rewrite; allowed in a transaction


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cases RESET (fillfactor)")
