"""Where the collection close keeps its place, so that a crash and a rerun act once.

The accrual phase resumes by each loan's ``as_of``; the collection phase works borrowers in id
order, one chunk per transaction, and records the last borrower of each committed chunk here in
the same transaction. A rerun starts after it, so no contact is chosen, gated or enqueued twice.
Migration 0007 creates the table.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, String, Table, Text

from arrears.store.tables import metadata

close_progress = Table(
    "close_progress",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("phase", String(20), primary_key=True),  # collection | done
    Column("last_key", String(64), nullable=False),  # the last borrower id committed
    # What the committed chunks did so far (counts by channel, rule, ...), as JSON, so that a
    # resumed close reports the whole day and not just the part after the crash.
    Column("tally", Text, nullable=False, server_default="{}"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
