"""What the collection engine must know about a borrower beyond the loan: language, time zones,
emergency contacts, risk score and flags. Migration 0003 creates these tables.

Kept apart from ``borrowers`` (name, phone) so that personal data needed only for contact can be
minimised and purged on its own schedule.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, Text

from arrears.store.sealed import Sealed
from arrears.store.tables import metadata

borrower_profiles = Table(
    "borrower_profiles",
    metadata,
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), primary_key=True),
    Column("language", String(8), nullable=False, server_default="zh-CN"),  # zh-CN | en
    # Every IANA zone the borrower may be in, comma-separated; contact must suit all of them.
    Column("timezones", Text, nullable=False, server_default="Asia/Shanghai"),
    Column("email", Sealed("borrower_profiles.email"), nullable=True),
    Column("address", Sealed("borrower_profiles.address"), nullable=True),  # field visits only
    Column("risk_score", Integer, nullable=False, server_default="500"),  # 0 (low) .. 1000
    Column("vulnerable", Boolean, nullable=False, server_default="0"),
    Column("rule_pack", String(16), nullable=False, server_default="cn"),  # cn|us-reg-f|uk-conc
)

emergency_contacts = Table(
    "emergency_contacts",
    metadata,
    Column("borrower_id", String(64), ForeignKey("borrowers.borrower_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("name", Sealed("emergency_contacts.name"), nullable=False),
    Column("phone", Sealed("emergency_contacts.phone"), nullable=False),
    Column("relation", String(40), nullable=False),
)
