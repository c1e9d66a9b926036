"""Verifying collectors: agencies, one-time visit codes, the attempts to check them (the
guessing limits count these) and the suspected-impostor incidents the lender follows up.
Migration 0015 creates them (and adds ``status`` to ``collectors``).
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from arrears.store.tables import metadata

agencies = Table(
    "agencies",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("status", String(12), nullable=False, server_default="active"),  # | deactivated
)

collector_codes = Table(
    "collector_codes",
    metadata,
    Column("code_id", Integer, primary_key=True, autoincrement=True),
    Column("code_hmac", String(64), nullable=False),  # HMAC-SHA256(server secret, code), hex
    Column("collector_id", String(64), ForeignKey("collectors.collector_id"), nullable=False),
    Column("loan_id", String(64), ForeignKey("loans.loan_id"), nullable=False),
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("case_id", Integer, nullable=True),  # the borrower's open case when issued
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Index("ix_collector_codes_hmac", "code_hmac"),
    Index("ix_collector_codes_borrower", "borrower_id", "valid_until"),
)

code_attempts = Table(
    "code_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(12), nullable=False),  # verified | refused | locked | busy
    Column("code_id", Integer, nullable=True),
    Index("ix_code_attempts_borrower_at", "borrower_id", "at"),
    Index("ix_code_attempts_outcome_at", "outcome", "at"),
)

impostor_incidents = Table(
    "impostor_incidents",
    metadata,
    Column("incident_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("borrower_id", String(64), nullable=True),  # None: reported without a borrower
    Column("source", String(12), nullable=False),  # code | credential | channel
    Column("reason", String(40), nullable=False),
    Column("collector_id", String(64), nullable=True),  # the collector a real code named
    Column("detail", Text, nullable=False, server_default=""),
    Column("evidence_seq", Integer, nullable=True),  # the record in the borrower's chain
    Index("ix_impostor_incidents_at", "at"),
)
