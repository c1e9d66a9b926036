"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; this module names it.

Money columns are BIGINT minor units (fen). Rates are exact decimal strings. Dates are DATE.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from arrears.store.sealed import Sealed, phone_tail


def _phone_tail_of_row(context: Any) -> str:
    """``phone_tail``'s default: the tail of the phone inserted with it."""
    return phone_tail(context.get_current_parameters()["phone"])


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

products = Table(
    "products",
    metadata,
    Column("product_id", String(64), primary_key=True),
    Column("spec", Text, nullable=False),  # the Product settings as canonical JSON
)

borrowers = Table(
    "borrowers",
    metadata,
    Column("borrower_id", String(64), primary_key=True),
    # Sealed (store.sealed): encrypted at rest, equality lookups still work.
    Column("name", Sealed("borrowers.name"), nullable=False),
    Column("phone", Sealed("borrowers.phone"), nullable=False),
    # The blind index of the phone's last four digits, for staff search (migration 0025).
    # Set on every insert from the phone; a writer changing a phone sets it too.
    Column("phone_tail", String(64), nullable=True, default=_phone_tail_of_row),
    Index("ix_borrowers_phone_tail", "phone_tail"),
    # The day the borrower's personal data was erased (migration 0026); null while it is held.
    Column("erased_on", Date, nullable=True),
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", String(64), primary_key=True),
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("product_id", String(64), ForeignKey("products.product_id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal", BigInteger, nullable=False),
    Column("rate", String(40), nullable=False),
    Column("rate_basis", String(10), nullable=False),
    Column("months", Integer, nullable=False),
    Column("method", String(20), nullable=False),
    Column("disbursed_on", Date, nullable=False),
    Column("due_day", Integer, nullable=True),  # None: the drawdown day
    # Bumped by every write to the loan's money; payments lock the row (see ledger service).
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_loans_borrower", "borrower_id"),
)

# Everything that happens to a loan's money after disbursement, in the order recorded.
# ``ref`` is the caller's idempotency key: the same ref applies once.
loan_events = Table(
    "loan_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    # payment | reversal | waiver | write_off | reschedule
    Column("kind", String(20), nullable=False),
    Column("ref", String(128), nullable=False),
    # payments, waivers: the amount; a reschedule: the penalty waived first
    Column("amount", BigInteger, nullable=False, server_default="0"),
    Column("component", String(20), nullable=True),  # waivers: penalty | interest
    Column("reverses", String(128), nullable=True),  # reversals: the ref undone
    Column("months", Integer, nullable=True),  # a reschedule: its installments (migration 0020)
    Column("first_due", Date, nullable=True),  # a reschedule: its first due date
    # a restructure: its new yearly rate (exact decimal string) and the interest waived
    Column("rate", String(40), nullable=True),  # migration 0021
    Column("waive_interest", BigInteger, nullable=True),
    Column("effective_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("ref", name="uq_loan_events_ref"),
    Index("ix_loan_events_loan", "loan_id"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # idempotency key: the same key applies once
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("memo", Text, nullable=False, server_default=""),
    UniqueConstraint("key", name="uq_journal_entries_key"),
    Index("ix_journal_entries_loan", "loan_id"),
)

postings = Table(
    "postings",
    metadata,
    Column("posting_id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("journal_entries.entry_id"), nullable=False),
    Column("account", String(120), nullable=False),
    Column("amount", BigInteger, nullable=False),  # debit positive, credit negative
    Index("ix_postings_entry", "entry_id"),
    Index("ix_postings_account", "account"),
)

# The loan's account as of a date: a cache of the pure replay (arrears.core.ledger.replay),
# rewritten by the close and by events, and checked against a replay in tests. The journal is
# the money's truth; these rows hold what the journal cannot (accrued penalty not yet posted,
# the schedule).
installments = Table(
    "installments",
    metadata,
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("start", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("principal", BigInteger, nullable=False),
    Column("interest", BigInteger, nullable=False),
    Column("paid_principal", BigInteger, nullable=False),
    Column("paid_interest", BigInteger, nullable=False),
    Index("ix_installments_due_date", "due_date", "loan_id"),  # the close's quiet-day check
)

loan_state = Table(
    "loan_state",
    metadata,
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("penalty_unposted", BigInteger, nullable=False),
    Column("penalty_owed", BigInteger, nullable=False),
    Column("prepaid_principal", BigInteger, nullable=False),
    # Read-outs of the account on as_of, kept for queries (portfolio summary, queues).
    Column("dpd", Integer, nullable=False),
    Column("bucket", String(4), nullable=False),
    Column("classification", String(20), nullable=False),
    Column("overdue_principal", BigInteger, nullable=False),
    Column("overdue_interest", BigInteger, nullable=False),
    Column("overdue_penalty", BigInteger, nullable=False),
    Column("outstanding_principal", BigInteger, nullable=False),
    Column("outstanding_interest", BigInteger, nullable=False),
    Column("outstanding_penalty", BigInteger, nullable=False),
    Column("consecutive_overdue", Integer, nullable=False),
    # No index but the key: the close rewrites every active row each day, and on PostgreSQL
    # (fillfactor 50, migration 0010) an update that changes no indexed column stays on its page.
)


def overdue_total() -> ColumnElement[Any]:
    """What a loan has overdue, principal + interest + penalty, in fen (exact in SQL)."""
    c = loan_state.c
    return c.overdue_principal + c.overdue_interest + c.overdue_penalty


def outstanding_total() -> ColumnElement[Any]:
    """What a loan owes in all, principal + interest + penalty, in fen."""
    c = loan_state.c
    return c.outstanding_principal + c.outstanding_interest + c.outstanding_penalty


close_runs = Table(
    "close_runs",
    metadata,
    Column("business_date", Date, primary_key=True),
    Column("status", String(10), nullable=False),  # started | done
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("loans", Integer, nullable=False, server_default="0"),
    Column("summary", Text, nullable=False, server_default="{}"),
)
