"""evidence: hash-chained evidence records, daily roots, append-only triggers

Revision ID: 0002
Revises: 0001

The triggers are the database's half of "append-only": UPDATE and DELETE (and TRUNCATE on
PostgreSQL) on the evidence tables raise. An INSERT into ``evidence_records`` must also link to
the chain: seq 1 starts from the genesis hash, any other seq names the hash of seq - 1 as its
prev_hash. On SQLite the INSERT trigger also refuses a row whose (borrower_id, seq) exists,
because ``INSERT OR REPLACE`` deletes the old row *without* firing DELETE triggers (unless
recursive triggers are on), which would otherwise be a quiet way to overwrite evidence.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "evidence log is append-only"
BROKEN_LINK = "evidence chain broken: prev_hash must be the hash of record seq - 1"
GENESIS = "0" * 64
TABLES = ("evidence_records", "evidence_roots", "evidence_root_heads")


def upgrade() -> None:
    op.create_table(
        "evidence_records",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.String(length=27), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("borrower_id", "seq", name=op.f("pk_evidence_records")),
    )
    with op.batch_alter_table("evidence_records", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_records_at", ["at"], unique=False)

    op.create_table(
        "evidence_roots",
        sa.Column("root_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("chains", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=27), nullable=False),
        sa.PrimaryKeyConstraint("root_id", name=op.f("pk_evidence_roots")),
        sa.UniqueConstraint("label", name="uq_evidence_roots_label"),
    )
    op.create_table(
        "evidence_root_heads",
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["root_id"],
            ["evidence_roots.root_id"],
            name=op.f("fk_evidence_root_heads_root_id_evidence_roots"),
        ),
        sa.PrimaryKeyConstraint("root_id", "borrower_id", name=op.f("pk_evidence_root_heads")),
    )
    with op.batch_alter_table("evidence_root_heads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_root_heads_borrower", ["borrower_id", "seq"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _sqlite_triggers() -> None:
    for table in TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
    op.execute(
        f"""
        CREATE TRIGGER evidence_records_link BEFORE INSERT ON evidence_records
        BEGIN
            SELECT RAISE(ABORT, '{APPEND_ONLY}')
             WHERE EXISTS (SELECT 1 FROM evidence_records
                            WHERE borrower_id = NEW.borrower_id AND seq = NEW.seq);
            SELECT RAISE(ABORT, '{BROKEN_LINK}')
             WHERE NOT ((NEW.seq = 1 AND NEW.prev_hash = '{GENESIS}')
                        OR EXISTS (SELECT 1 FROM evidence_records
                                    WHERE borrower_id = NEW.borrower_id
                                      AND seq = NEW.seq - 1 AND hash = NEW.prev_hash));
        END
        """
    )


def _postgresql_triggers() -> None:
    op.execute(
        f"""
        CREATE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{APPEND_ONLY}' USING DETAIL = TG_OP || ' on ' || TG_TABLE_NAME;
        END
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION evidence_records_link() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.seq = 1 AND NEW.prev_hash = '{GENESIS}' THEN
                RETURN NEW;
            END IF;
            IF NEW.seq > 1 AND EXISTS (SELECT 1 FROM evidence_records
                                        WHERE borrower_id = NEW.borrower_id
                                          AND seq = NEW.seq - 1 AND hash = NEW.prev_hash) THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{BROKEN_LINK}'
                USING DETAIL = 'borrower ' || NEW.borrower_id || ' seq ' || NEW.seq;
        END
        $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION evidence_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only()"
        )
    op.execute(
        "CREATE TRIGGER evidence_records_link BEFORE INSERT ON evidence_records "
        "FOR EACH ROW EXECUTE FUNCTION evidence_records_link()"
    )


def downgrade() -> None:
    # Dropping a table drops its triggers on both databases; the functions go separately.
    op.drop_table("evidence_root_heads")
    op.drop_table("evidence_roots")
    op.drop_table("evidence_records")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS evidence_records_link()")
        op.execute("DROP FUNCTION IF EXISTS evidence_append_only()")
