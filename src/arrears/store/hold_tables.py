"""Holds on collection that the law names: moratoria on a borrower's debts and written
disputes of a debt. Migration 0014 creates them.

* ``moratoria``: a UK Breathing Space or mental health crisis moratorium (The Debt Respite
  Scheme (Breathing Space Moratorium and Mental Health Crisis Moratorium) (England and Wales)
  Regulations 2020), in force from ``starts_on`` through ``ends_on`` (inclusive; null while a
  mental health crisis moratorium has no end date yet). ``moratorium_loans``: the debts it
  covers, fixed when it starts.
* ``validation_notices``: the Regulation F validation notice of a loan (12 CFR 1006.34), one
  per loan, with the itemisation it stated and the end of the validation period.
* ``debt_disputes``: a written dispute or a request for the name of the original creditor
  (Regulation F, 12 CFR 1006.38); collection of the debt pauses until ``verification_sent_at``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from arrears.store.tables import metadata

moratoria = Table(
    "moratoria",
    metadata,
    Column("moratorium_id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(128), nullable=False, unique=True),  # e.g. the Insolvency Service's
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("kind", String(24), nullable=False),  # breathing-space | mental-health-crisis
    Column("starts_on", Date, nullable=False),
    Column("ends_on", Date, nullable=True),  # the last day in force
    Column("started_at", DateTime(timezone=True), nullable=False),  # when it was recorded
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", Text, nullable=True),
    Index("ix_moratoria_borrower", "borrower_id"),
)

moratorium_loans = Table(
    "moratorium_loans",
    metadata,
    Column("moratorium_id", Integer, ForeignKey("moratoria.moratorium_id"), primary_key=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), primary_key=True),
    Index("ix_moratorium_loans_loan", "loan_id"),
)

debt_disputes = Table(
    "debt_disputes",
    metadata,
    Column("dispute_id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(128), nullable=False, unique=True),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("kind", String(20), nullable=False),  # dispute | original-creditor
    Column("received_on", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("verification_sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_debt_disputes_loan", "loan_id"),
)

validation_notices = Table(
    "validation_notices",
    metadata,
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), primary_key=True),
    Column("borrower_id", String(64), nullable=False),
    Column("message_key", String(200), nullable=False),
    Column("first_communication", Date, nullable=False),
    Column("enqueued_on", Date, nullable=False),  # taken as the day it is sent
    Column("itemization_date", Date, nullable=False),
    Column("amount_on_itemization", BigInteger, nullable=False),  # fen, as the rest
    Column("interest_since", BigInteger, nullable=False),
    Column("fees_since", BigInteger, nullable=False),
    Column("payments_since", BigInteger, nullable=False),
    Column("credits_since", BigInteger, nullable=False),
    Column("current_amount", BigInteger, nullable=False),
    Column("validation_end", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
