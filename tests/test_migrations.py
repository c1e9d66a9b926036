from sqlalchemy import Engine, inspect

import arrears.store.api_tables
import arrears.store.case_tables
import arrears.store.close_tables
import arrears.store.credit_tables
import arrears.store.evidence_tables
import arrears.store.hold_tables
import arrears.store.outbox_tables
import arrears.store.people_tables
import arrears.store.profile_tables  # noqa: F401
from arrears.store.tables import metadata


def test_migrations_create_every_table(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= names
