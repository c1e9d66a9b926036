"""The evidence log's tables, on the shared ``arrears.store.tables.metadata``.

Importing this module registers them. Migration 0002 creates them together with the triggers that
make them append-only (UPDATE, DELETE and, on PostgreSQL, TRUNCATE are refused).

Why the columns look the way they do:

* ``at`` is TEXT in the exact form that was hashed (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), not a
  timestamp type: a driver or server time-zone conversion must never change hashed bytes. The
  fixed-width form still sorts and range-filters correctly as text.
* ``payload`` is the canonical JSON text, for the same reason.
* No foreign key to ``borrowers``: the evidence must outlive (and not be cascaded by) changes to
  the operational tables.
* ``evidence_root_heads`` stores, per root, the heads that changed since the previous root, so
  the heads any root committed to can be rebuilt (latest row per borrower with root_id <= R),
  which is what lets ``verify`` detect records removed from the end of a chain.
* ``evidence_heads``: each chain's last record (seq, hash), moved forward by a trigger in the
  statement that appends (migration 0012), and the seq the latest root sealed. Sealing reads
  it instead of grouping the whole log; ``verify`` checks it against the chains.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint

from arrears.store.tables import metadata

evidence_records = Table(
    "evidence_records",
    metadata,
    Column("borrower_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("at", String(27), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_evidence_records_at", "at"),
)

evidence_roots = Table(
    "evidence_roots",
    metadata,
    Column("root_id", Integer, primary_key=True, autoincrement=True),
    Column("label", String(64), nullable=False),  # e.g. the close's business date, 2024-05-01
    Column("root", String(64), nullable=False),
    Column("chains", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("created_at", String(27), nullable=False),  # same text form as evidence_records.at
    UniqueConstraint("label", name="uq_evidence_roots_label"),
)

evidence_root_heads = Table(
    "evidence_root_heads",
    metadata,
    Column("root_id", Integer, ForeignKey("evidence_roots.root_id"), primary_key=True),
    Column("borrower_id", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_evidence_root_heads_borrower", "borrower_id", "seq"),
)

evidence_heads = Table(
    "evidence_heads",
    metadata,
    Column("borrower_id", String(64), primary_key=True),  # COLLATE "C" on PostgreSQL
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("sealed_seq", Integer, nullable=True),  # the head's seq at the latest root
)
