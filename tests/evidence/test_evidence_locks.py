"""One transaction may append for a whole book of borrowers (a first close opening their cases).

With one PostgreSQL advisory lock per borrower, 50,000 borrowers in one transaction ran the
server out of shared lock memory ("out of shared memory: increase max_locks_per_transaction").
Borrowers now share a fixed number of lock buckets.
"""

from datetime import UTC, datetime

from sqlalchemy import Engine

from arrears.core.evidence.chain import Entry
from arrears.services import evidence as log
from arrears.services.evidence import LOCK_BUCKETS, _lock_key


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
