"""What the REST API keeps: sign-in codes sent to borrowers, session tokens, and the answers to
requests made with an Idempotency-Key. Migration 0022 creates these tables.

Codes and tokens are stored as keyed hashes (HMAC-SHA-256 with the server secret), never in
clear: a copy of the database signs no one in.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from arrears.store.tables import metadata

login_codes = Table(
    "login_codes",
    metadata,
    Column("code_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", String(64), nullable=False),
    Column("code_hmac", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Index("ix_login_codes_borrower", "borrower_id", "issued_at"),
)

api_sessions = Table(
    "api_sessions",
    metadata,
    Column("token_hmac", String(64), primary_key=True),
    Column("kind", String(10), nullable=False),  # borrower | staff
    Column("subject", String(64), nullable=False),  # the borrower id or the staff username
    Column("role", String(20), nullable=False),  # borrower, or the staff member's role
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("subject", String(64), primary_key=True),  # whose key: keys are per caller
    Column("key", String(200), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", String(400), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Staff who sign in with a username and a password (argon2id hash), each with one role.
staff_users = Table(
    "staff_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # admin|supervisor|agent|field_collector|compliance
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every time a staff member was shown personal data unmasked (a number to dial, an address to
# visit): who, when, by which route, whose data, which fields. Compliance reads it.
pii_reads = Table(
    "pii_reads",
    metadata,
    Column("read_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("username", String(64), nullable=False),
    Column("role", String(20), nullable=False),
    Column("route", String(200), nullable=False),
    Column("borrower_id", String(64), nullable=False),
    Column("fields", String(200), nullable=False),  # comma-separated: number, address
    Index("ix_pii_reads_borrower", "borrower_id", "at"),
)
