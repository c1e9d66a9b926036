"""Shared fixtures. Database tests run on SQLite always, and on PostgreSQL too when
``ARREARS_TEST_DATABASE_URL`` names a server (CI points it at 127.0.0.1:5432/test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

# A fixed data key for the sealed columns, set before anything reads it (it is read once a
# process): the tests never make a development key in the home directory, and the worker
# processes and the commands the tests start share it.
os.environ["ARREARS_DATA_KEY"] = "arrears tests: a fixed data key, never a real one"

from arrears.store.engine import database_url, make_engine
from arrears.store.migrate import upgrade

PG_URL = os.environ.get("ARREARS_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    assert PG_URL
    admin = create_engine(database_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"arrears_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = database_url(PG_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fresh_pg(url: str) -> str:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite file or a clean PostgreSQL schema."""
    if request.param == "sqlite":
        url = str(tmp_path / "arrears.db")
    else:
        url = _fresh_pg(request.getfixturevalue("pg_database"))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
