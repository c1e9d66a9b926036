"""evidence: each chain's head, kept by the database as records are appended

Sealing a root needs every chain's head. Found by a group-by over the whole log, that read
grew with history (3-4.5 s of a million-loan close, and more every day); ``evidence_heads``
holds one row per chain, moved forward by a trigger in the statement that appends, so the
read grows with the number of chains. ``sealed_seq`` is the head's seq when the latest root
sealed it: the heads a root must store (those that moved since) are the rows where it differs.

The table is derived from the log and checked against it: ``arrears evidence verify`` reports
a chain whose row here is not its last record (a changed row would otherwise go into the next
root unnoticed). Unlike the log it is updated in place, so it has no append-only triggers.

On PostgreSQL the trigger runs once per statement over the statement's new rows (a transition
table): per row, it cost as much as the insert. ``borrower_id`` is in the "C" collation, so the
primary key is in code point order, the order roots are computed in. On SQLite a row trigger.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

FILLFACTOR = 50  # room on the page for the updated row: heap-only updates (see 0010)

# Every chain's last record, and the seq the latest root stored for it (null: none).
_CURRENT = """
    SELECT r.borrower_id, r.seq, r.hash,
           (SELECT max(s.seq) FROM evidence_root_heads s WHERE s.borrower_id = r.borrower_id)
      FROM evidence_records r
     WHERE r.seq = (SELECT max(m.seq) FROM evidence_records m WHERE m.borrower_id = r.borrower_id)
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def _postgresql() -> None:
    op.execute(
        f"""
        CREATE TABLE evidence_heads (
            borrower_id VARCHAR(64) COLLATE "C" NOT NULL,
            seq INTEGER NOT NULL,
            hash VARCHAR(64) NOT NULL,
            sealed_seq INTEGER,
            CONSTRAINT pk_evidence_heads PRIMARY KEY (borrower_id)
        ) WITH (fillfactor = {FILLFACTOR})
        """
    )
    op.execute(
        """
        INSERT INTO evidence_heads (borrower_id, seq, hash, sealed_seq)
        SELECT DISTINCT ON (r.borrower_id) r.borrower_id, r.seq, r.hash, s.seq
          FROM evidence_records r
          LEFT JOIN (SELECT borrower_id, max(seq) AS seq FROM evidence_root_heads
                      GROUP BY borrower_id) s ON s.borrower_id = r.borrower_id
         ORDER BY r.borrower_id, r.seq DESC
        """
    )
    # Statistics now: the next close looks heads up by lists of ids, and without them the
    # planner scans the table for each list.
    op.execute("ANALYZE evidence_heads")
    op.execute(
        """
        CREATE FUNCTION evidence_heads_advance() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO evidence_heads AS h (borrower_id, seq, hash)
            SELECT DISTINCT ON (borrower_id) borrower_id, seq, hash
              FROM added ORDER BY borrower_id, seq DESC
            ON CONFLICT (borrower_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER evidence_records_heads AFTER INSERT ON evidence_records "
        "REFERENCING NEW TABLE AS added "
        "FOR EACH STATEMENT EXECUTE FUNCTION evidence_heads_advance()"
    )


def _sqlite() -> None:
    op.execute(
        """
        CREATE TABLE evidence_heads (
            borrower_id VARCHAR(64) NOT NULL,
            seq INTEGER NOT NULL,
            hash VARCHAR(64) NOT NULL,
            sealed_seq INTEGER,
            CONSTRAINT pk_evidence_heads PRIMARY KEY (borrower_id)
        )
        """
    )
    op.execute(f"INSERT INTO evidence_heads (borrower_id, seq, hash, sealed_seq) {_CURRENT}")
    # After the link trigger has let the row in, so only a linked record moves the head.
    op.execute(
        """
        CREATE TRIGGER evidence_records_heads AFTER INSERT ON evidence_records
        BEGIN
            INSERT INTO evidence_heads (borrower_id, seq, hash) VALUES
                (NEW.borrower_id, NEW.seq, NEW.hash)
            ON CONFLICT (borrower_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
        END
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER evidence_records_heads ON evidence_records")
        op.execute("DROP FUNCTION evidence_heads_advance()")
    else:
        op.execute("DROP TRIGGER evidence_records_heads")
    op.execute("DROP TABLE evidence_heads")
