"""Collection work tables: collectors and training, cases, contact attempts (the compliance
gate's history), promises to pay, field visits and the agent work queue. Migration 0005
creates them.

Times that the gate reads (``contact_attempts.at``, visit windows, notices) are stored as UTC
instants (``DateTime(timezone=True)``); SQLite keeps them naive, so the readers in
``arrears.services.collection.common`` re-attach UTC. ``on_date`` columns hold the business
date the row belongs to, so "when was this step last done" needs no time-zone arithmetic.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from arrears.store.sealed import Sealed
from arrears.store.tables import metadata

collectors = Table(
    "collectors",
    metadata,
    Column("collector_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("agency", String(200), nullable=True),  # None: the lender's own staff
    Column("registered", Boolean, nullable=False),
    Column("credential_no", String(64), nullable=False),  # the employee number
    # active | deactivated (migration 0015); a deactivated collector is no longer registered,
    # and their codes and credentials stop verifying.
    Column("status", String(12), nullable=False, server_default="active"),
    Column("deactivated_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("credential_no", name="uq_collectors_credential_no"),
)

collector_training = Table(
    "collector_training",
    metadata,
    Column("collector_id", String(64), ForeignKey("collectors.collector_id"), primary_key=True),
    Column("trained_on", Date, primary_key=True),
    Column("course", String(200), primary_key=True),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date, nullable=True),
    Column("close_reason", String(40), nullable=True),
    Column("assigned_agent", String(64), nullable=True),
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("hardship", Boolean, nullable=False, server_default="0"),
    Column("dispute", Boolean, nullable=False, server_default="0"),
    Column("plan_in_force", Boolean, nullable=False, server_default="0"),
    Column("visit_approved_by", String(64), nullable=True),
    Column("visit_approved_at", DateTime(timezone=True), nullable=True),
    # At most one open case per borrower: a partial unique index on both databases.
    Index(
        "uq_cases_open_borrower",
        "borrower_id",
        unique=True,
        sqlite_where=text("closed_on IS NULL"),
        postgresql_where=text("closed_on IS NULL"),
    ),
    Index("ix_cases_borrower", "borrower_id", "opened_on"),
)

# A case handed to people (forbearance, dispute review, legal): recorded once per case and
# kind, with an evidence record, when the policy first routes it; the policy keeps routing it
# every day its condition holds, and those days add nothing. Migration 0013.
case_routings = Table(
    "case_routings",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.case_id"), primary_key=True),
    Column("kind", String(20), primary_key=True),  # forbearance | dispute_review | legal
    Column("routed_on", Date, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

contact_attempts = Table(
    "contact_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the action key: one attempt per key
    Column("borrower_id", String(64), nullable=False),
    Column("debt_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("on_date", Date, nullable=False),  # business date of the action
    Column("channel", String(10), nullable=True),
    Column("party", String(20), nullable=False),
    # The number or address contacted, sealed (store.sealed; "" when there was none).
    Column("number", Sealed("contact_attempts.number"), nullable=False, server_default=""),
    Column("connected", Boolean, nullable=False),
    Column("conversation", Boolean, nullable=False),
    Column("consent_until", DateTime(timezone=True), nullable=True),
    Column("outcome", String(40), nullable=True),
    Column("content_sha256", String(64), nullable=True),
    Column("collectors", Text, nullable=False, server_default=""),  # comma-separated ids
    Column("purpose", String(20), nullable=False, server_default="collection"),
    Column("policy", String(64), nullable=True),
    Column("step", String(64), nullable=True),
    Column("agent", String(64), nullable=True),
    Column("recording_location", Text, nullable=True),
    Column("recording_sha256", String(64), nullable=True),
    UniqueConstraint("key", name="uq_contact_attempts_key"),
    Index("ix_contact_attempts_borrower_at", "borrower_id", "at"),
)

promises = Table(
    "promises",
    metadata,
    Column("promise_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("borrower_id", String(64), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("promised_on", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(12), nullable=False),  # open | kept | partly_kept | broken
    Column("checked_on", Date, nullable=True),
    Column("paid", BigInteger, nullable=False, server_default="0"),
    Column("attempt_key", String(200), nullable=True),
    UniqueConstraint("key", name="uq_promises_key"),
    Index("ix_promises_status_due", "status", "due_on"),
    Index("ix_promises_borrower", "borrower_id"),
)

visits = Table(
    "visits",
    metadata,
    Column("visit_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    # requested | approved | assigned | noticed | reported | cancelled
    Column("status", String(12), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("approved_by", String(64), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    Column("collectors", Text, nullable=False, server_default=""),  # comma-separated ids
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=True),
    Column("address", Sealed("visits.address"), nullable=True),
    Column("notice_sent_at", DateTime(timezone=True), nullable=True),
    Column("reported_at", DateTime(timezone=True), nullable=True),
    Column("report", Text, nullable=True),
    Column("outcome", String(40), nullable=True),
    UniqueConstraint("key", name="uq_visits_key"),
    Index("ix_visits_borrower", "borrower_id"),
)

queue_items = Table(
    "queue_items",
    metadata,
    Column("item_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the action key: enqueued once
    Column("borrower_id", String(64), nullable=False),
    Column("loan_id", String(64), nullable=False),
    Column("on_date", Date, nullable=False),
    Column("policy", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("party", String(20), nullable=False),
    Column("number", Sealed("queue_items.number"), nullable=False),
    Column("script", Text, nullable=False, server_default=""),
    Column("priority", Integer, nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # overdue amount, fen, when enqueued
    Column("due_at", DateTime(timezone=True), nullable=False),
    # The end of the call's window: undialled by then, the close expires it (outcome expired).
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(40), nullable=True),
    UniqueConstraint("key", name="uq_queue_items_key"),
    Index("ix_queue_items_open", "done_at", "claimed_by"),
    Index("ix_queue_items_borrower", "borrower_id", "done_at"),  # the gate's planned calls
)

# The borrower reaching the lender (a message, or a callback asked for at a chosen time):
# the debtor is reachable from that day on, and a callback is a call at the top of the queue.
borrower_contacts = Table(
    "borrower_contacts",
    metadata,
    Column("contact_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the borrower's idempotency key
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=True),
    Column("kind", String(12), nullable=False),  # message | callback
    Column("text", Text, nullable=False, server_default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("on_date", Date, nullable=False),  # the borrower's local date of receipt
    Column("callback_at", DateTime(timezone=True), nullable=True),
    Column("queue_key", String(200), nullable=True),  # the queue item of a callback
    UniqueConstraint("key", name="uq_borrower_contacts_key"),
    Index("ix_borrower_contacts_borrower", "borrower_id", "on_date"),
)


# A borrower's complaint against a contact, a collector or an amount, linked to records of
# their evidence chain; answered by its pack's deadline (data/borrower/complaints.yaml).
complaints = Table(
    "complaints",
    metadata,
    Column("complaint_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the borrower's idempotency key
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=True),
    Column("against", String(12), nullable=False),  # contact | collector | amount
    Column("collector_id", String(64), ForeignKey("collectors.collector_id"), nullable=True),
    Column("rule", String(64), nullable=True),  # the pack rule the borrower says was broken
    Column("evidence", Text, nullable=False, server_default=""),  # seqs, comma-separated
    Column("text", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("due_on", Date, nullable=False),  # the answer's deadline, the borrower's date
    Column("status", String(10), nullable=False),  # open | upheld | rejected | withdrawn
    Column("outcome", Text, nullable=False, server_default=""),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(64), nullable=True),
    UniqueConstraint("key", name="uq_complaints_key"),
    Index("ix_complaints_borrower", "borrower_id"),
    Index("ix_complaints_status", "status", "due_on"),
)


# What a borrower adds to their own evidence chain, as the seed's lawyers advise: a note of a
# call or a visit (when, the caller's name, what was said), or a screenshot, a recording or a
# document, kept by its SHA-256 (the borrower keeps the file; the chain proves what it was).
borrower_records = Table(
    "borrower_records",
    metadata,
    Column("record_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the borrower's idempotency key
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("kind", String(12), nullable=False),  # note | screenshot | recording | document
    Column("channel", String(12), nullable=True),  # notes: call | visit | message | other
    Column("happened_at", DateTime(timezone=True), nullable=True),  # notes: when it happened
    Column("caller_name", String(200), nullable=True),  # notes: the name the caller gave
    Column("text", Text, nullable=False, server_default=""),  # notes: what was said
    Column("file_name", String(255), nullable=True),  # files
    Column("file_size", BigInteger, nullable=True),
    Column("sha256", String(64), nullable=False),  # of the text (notes) or the file
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("seq", Integer, nullable=False),  # the record's place in the borrower's chain
    UniqueConstraint("key", name="uq_borrower_records_key"),
    Index("ix_borrower_records_borrower", "borrower_id"),
)


# A borrower's installment plan (协商分期还款): requested, decided by the lender's policy or a
# supervisor (who may counter-offer), then in force on the ledger (a ``reschedule`` loan event)
# until it is completed or broken.
plans = Table(
    "plans",
    metadata,
    Column("plan_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the borrower's idempotency key
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    # pending (a supervisor's) | countered (the borrower's) | rejected | active | completed |
    # broken | cancelled
    Column("status", String(12), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("documents", Text, nullable=False, server_default=""),  # SHA-256s, comma-separated
    Column("on_date", Date, nullable=False),  # the business date the plan re-ages the loan on
    Column("months", Integer, nullable=False),
    Column("first_due", Date, nullable=False),
    Column("waive_penalty", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),  # what the plan repays, fen
    Column("monthly", BigInteger, nullable=False),  # each installment but the last
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64), nullable=True),  # "policy" or a supervisor
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decision_note", Text, nullable=False, server_default=""),
    Column("event_ref", String(128), nullable=True),  # the reschedule event, once in force
    Column("first_n", Integer, nullable=True),  # the plan's first installment number
    Column("ended_on", Date, nullable=True),  # completed, broken or cancelled on
    UniqueConstraint("key", name="uq_plans_key"),
    Index("ix_plans_loan", "loan_id", "status"),
    Index("ix_plans_status", "status"),
)


# A restructuring (债务重组) of one loan: the new terms, who approved it and why, the days past
# due before it and the how-many-th it is, and the end of its observation period (during which
# the loan is classified at least special mention). The ledger's side is a ``reschedule`` loan
# event with a rate.
restructures = Table(
    "restructures",
    metadata,
    Column("restructure_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("approved_by", String(64), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("documents", Text, nullable=False, server_default=""),  # SHA-256s, comma-separated
    Column("on_date", Date, nullable=False),
    Column("months", Integer, nullable=False),
    Column("rate", String(40), nullable=True),  # None: no interest on the restructured debt
    Column("waive_interest", BigInteger, nullable=False),
    Column("waive_penalty", BigInteger, nullable=False),
    Column("dpd_before", Integer, nullable=False),
    Column("count", Integer, nullable=False),  # the loan's 1st, 2nd, ... restructure
    Column("observe_until", Date, nullable=False),
    Column("event_ref", String(128), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("key", name="uq_restructures_key"),
    Index("ix_restructures_loan", "loan_id"),
    Index("ix_restructures_observe", "observe_until"),
)
