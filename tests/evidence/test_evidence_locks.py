"""One transaction may append for a whole book of borrowers (a first close opening their cases).

With one PostgreSQL advisory lock per borrower, 50,000 borrowers in one transaction ran the
server out of shared lock memory ("out of shared memory: increase max_locks_per_transaction").
Borrowers now share a fixed number of lock buckets.
"""

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, text

from arrears.core.evidence.chain import Entry
from arrears.services import evidence as log
from arrears.services.evidence import _LOCK_NAMESPACE, LOCK_BUCKETS, _lock_key


def test_lock_keys_fall_in_the_buckets() -> None:
    keys = {_lock_key(f"B{k:06d}") for k in range(20_000)}
    assert keys <= set(range(LOCK_BUCKETS))
    assert len(keys) == LOCK_BUCKETS  # 20k ids spread over every bucket


def test_one_transaction_appends_for_twenty_thousand_borrowers(engine: Engine) -> None:
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    entries = [Entry(f"B{k:06d}", "case.opened", {"n": k}, at) for k in range(20_000)]
    with engine.begin() as conn:
        assert len(log.append_many(conn, entries)) == 20_000
    with engine.connect() as conn:
        assert log.verify_db(conn, borrower_id="B000123") == []


def _holds_every_chain(conn: Connection) -> bool:
    """Whether this session holds the ALL_CHAINS advisory lock (key -1, an oid of 2^32 - 1)."""
    q = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "AND classid = :ns AND objid = 4294967295 AND objsubid = 2"
    )
    return bool(conn.execute(q, {"ns": _LOCK_NAMESPACE}).scalar())


def test_a_lock_taken_in_a_rolled_back_savepoint_is_taken_again(engine: Engine) -> None:
    """PostgreSQL releases a lock taken after a savepoint when the savepoint rolls back; the
    chains' lock must not be remembered as held past it, or the next appends go unlocked."""
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite holds its one write lock")
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    many = [Entry(f"S{k:04d}", "case.opened", {"n": k}, at) for k in range(300)]
    with engine.begin() as conn:
        point = conn.begin_nested()
        log.append_many(conn, many)  # more than BULK_BORROWERS: every chain, exclusively
        assert _holds_every_chain(conn)
        point.rollback()
        assert not _holds_every_chain(conn)
        log.append_many(conn, many)
        assert _holds_every_chain(conn)


def _holds_bucket(conn: Connection, key: int) -> bool:
    """Whether this session holds the advisory lock of bucket ``key`` (the two-key form)."""
    q = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
        "AND classid = :ns AND objid = :key AND objsubid = 2 AND granted"
    )
    return bool(conn.execute(q, {"ns": _LOCK_NAMESPACE, "key": key}).scalar())


def test_a_bucket_taken_in_a_rolled_back_savepoint_is_taken_again(engine: Engine) -> None:
    """A transaction does not ask again for a bucket it holds (a call's outcome and its
    promise append to one chain twice), but what a savepoint took goes with the savepoint."""
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite holds its one write lock")
    first, second = "B100001", "B100002"
    assert _lock_key(first) != _lock_key(second)
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    with engine.begin() as conn:
        log.append(conn, first, "case.opened", {"n": 1}, at)
        log.append(conn, first, "case.note", {"n": 2}, at)
        assert _holds_bucket(conn, _lock_key(first))
        point = conn.begin_nested()
        log.append(conn, second, "case.opened", {"n": 1}, at)
        assert _holds_bucket(conn, _lock_key(second))
        point.rollback()
        assert not _holds_bucket(conn, _lock_key(second))
        log.append(conn, second, "case.opened", {"n": 1}, at)
        assert _holds_bucket(conn, _lock_key(second))
        assert _holds_bucket(conn, _lock_key(first))
    with engine.connect() as conn:
        assert log.verify_db(conn, borrower_id=first) == []
        assert log.verify_db(conn, borrower_id=second) == []
