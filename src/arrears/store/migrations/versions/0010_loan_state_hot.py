"""loan_state: every update in place (PostgreSQL's heap-only tuples)

Each business day rewrites every active loan's row (at least ``as_of``). PostgreSQL can update
a row without touching any index (a heap-only tuple: the new version on the same page, no index
entry) only when no indexed column changes and the page has room. The index on (status,
as_of) made every one of those updates insert an index entry into both indexes; it served
only the close's list of pending loans, which on any day is nearly every active loan (a
sequential read does as well). Without it, and with half of each page left free on
PostgreSQL (fillfactor 50; the table is rewritten so that the existing rows get the room),
the day's updates stay on their pages, and pruning on later reads reclaims the old versions
without a vacuum. Measured at 100k loans: the accrual phase 3.2-4.1 s before, 2.75-2.85 s
after (BENCHMARKS.md).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FILLFACTOR = 50


def upgrade() -> None:
    op.drop_index("ix_loan_state_status_as_of", table_name="loan_state")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE loan_state SET (fillfactor = {FILLFACTOR})")
        op.execute("CLUSTER loan_state USING pk_loan_state")  # the rewrite; allowed in a txn


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE loan_state RESET (fillfactor)")
    op.create_index("ix_loan_state_status_as_of", "loan_state", ["status", "as_of"])
