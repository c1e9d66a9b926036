"""Instants as the database stores them: aware UTC in, aware UTC out on both backends."""

from __future__ import annotations

from datetime import UTC, datetime


def to_utc(value: datetime) -> datetime:
    """An aware instant in UTC, as stored. Naive values are a caller's bug."""
    if value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


def from_db(value: datetime) -> datetime:
    """SQLite returns stored UTC instants naive; PostgreSQL returns them aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def maybe_from_db(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)
