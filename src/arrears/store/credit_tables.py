"""Credit reporting's tables, on the shared metadata. Migration 0006 creates them.

* ``credit_notices``: a notice of negative reporting sent to the borrower (recorded when the
  outbox delivers it); ``key`` is the caller's idempotency key.
* ``credit_settlements``: marks a payment as made by a guarantor or with assets, so that the
  month the loan is settled by it reads ``D`` or ``Z`` instead of ``C``. Kept beside the ledger
  rather than in it: the money movement is an ordinary payment either way.
* ``credit_disputes``: a borrower's objection (异议) to one month of one loan, its deadline and
  outcome. The outcome and its reason also go to the evidence log.
* ``credit_checkpoints``: a cache of where each loan's history stood at the last export.

Times are stored as UTC; SQLite drops the zone, so readers treat a naive value as UTC.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from arrears.store.tables import metadata

credit_notices = Table(
    "credit_notices",
    metadata,
    Column("notice_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("channel", String(10), nullable=False),  # sms | letter
    Index("ix_credit_notices_loan", "loan_id"),
)

credit_settlements = Table(
    "credit_settlements",
    metadata,
    Column("payment_ref", String(128), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("kind", String(10), nullable=False),  # guarantor | assets
    Index("ix_credit_settlements_loan", "loan_id"),
)

credit_disputes = Table(
    "credit_disputes",
    metadata,
    Column("dispute_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM
    Column("reason", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("deadline", Date, nullable=False),  # the outcome is due by the end of this day
    Column("outcome", String(10), nullable=True),  # corrected | upheld; null while open
    Column("outcome_reason", Text, nullable=True),
    Column("corrected_status", String(1), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Index("ix_credit_disputes_loan", "loan_id"),
)

# Where each loan's credit history stood at the last export (``arrears.core.credit.checkpoint``): a
# cache, keyed by what it was derived from, so the next month's export walks one month forward.
credit_checkpoints = Table(
    "credit_checkpoints",
    metadata,
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), primary_key=True),
    Column("state", Text, nullable=False),
)
