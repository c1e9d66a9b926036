"""ADBC connections to PostgreSQL: Arrow in and out, for the close's bulk reads and writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine


def pg_connect(engine: Engine) -> Any:
    """A new ADBC connection to ``engine``'s PostgreSQL database (autocommit off)."""
    import adbc_driver_postgresql.dbapi as pgapi

    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return pgapi.connect(uri)
