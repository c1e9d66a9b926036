"""Alembic environment: migrations run on the connection the caller hands in."""

from __future__ import annotations

from alembic import context

import arrears.store.api_tables
import arrears.store.case_tables
import arrears.store.close_tables
import arrears.store.credit_tables
import arrears.store.evidence_tables
import arrears.store.hold_tables
import arrears.store.outbox_tables
import arrears.store.people_tables
import arrears.store.profile_tables  # noqa: F401  (registers the profile tables)
from arrears.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always migrate programmatically
    raise RuntimeError("run migrations through arrears.store.migrate.upgrade(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
