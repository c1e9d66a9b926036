"""case_routings: a case's routing to people, recorded once per case and kind

The policy routes a case (forbearance, dispute review, legal) every business day its condition
holds. The close used to append a ``case.routed`` evidence record each of those days: at a
million loans, 60k records a day repeating the legal referrals of the day before. Now the first
routing of a case to a kind is kept here and recorded in evidence; later days find it here and
add nothing. A later case of the same borrower is routed afresh.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_routings",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("routed_on", sa.Date(), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.case_id"], name=op.f("fk_case_routings_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "kind", name=op.f("pk_case_routings")),
    )
    # What is on record already: each open case's first routing of each kind, from the log
    # (its payload names the kind, loan, policy, reason and business date).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            INSERT INTO case_routings (case_id, kind, routed_on, policy, loan_id, reason)
            SELECT DISTINCT ON (c.case_id, p.kind)
                   c.case_id, p.kind, CAST(p.business_date AS DATE), p.policy, p.loan_id, p.reason
              FROM cases c
              JOIN evidence_records e ON e.borrower_id = c.borrower_id AND e.kind = 'case.routed'
             CROSS JOIN LATERAL json_to_record(CAST(e.payload AS json))
                   AS p(kind text, business_date text, policy text, loan_id text, reason text)
             WHERE c.closed_on IS NULL AND CAST(p.business_date AS DATE) >= c.opened_on
             ORDER BY c.case_id, p.kind, e.seq
            """
        )
    else:
        # SQLite: with min(), the bare columns come from the row holding the minimum.
        op.execute(
            """
            INSERT INTO case_routings (case_id, kind, routed_on, policy, loan_id, reason)
            SELECT case_id, kind, routed_on, policy, loan_id, reason FROM (
                SELECT c.case_id AS case_id, json_extract(e.payload, '$.kind') AS kind,
                       json_extract(e.payload, '$.business_date') AS routed_on,
                       json_extract(e.payload, '$.policy') AS policy,
                       json_extract(e.payload, '$.loan_id') AS loan_id,
                       json_extract(e.payload, '$.reason') AS reason, min(e.seq)
                  FROM cases c
                  JOIN evidence_records e
                    ON e.borrower_id = c.borrower_id AND e.kind = 'case.routed'
                 WHERE c.closed_on IS NULL
                   AND json_extract(e.payload, '$.business_date') >= c.opened_on
                 GROUP BY c.case_id, json_extract(e.payload, '$.kind')
            )
            """
        )


def downgrade() -> None:
    op.drop_table("case_routings")
