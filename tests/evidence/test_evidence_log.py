"""The evidence log in the database (SQLite, and PostgreSQL when configured): appends, the
append-only triggers, tampering behind the triggers' back, roots, and concurrent appends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from arrears.core.evidence import chain
from arrears.core.evidence.chain import Code, Entry, Head
from arrears.services import evidence as log
from arrears.store.evidence_tables import (
    evidence_heads,
    evidence_records,
    evidence_root_heads,
    evidence_roots,
)

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
ZEROS = "0" * 64


def fill(engine: Engine, borrowers: dict[str, int]) -> None:
    with engine.begin() as conn:
        for borrower_id, n in borrowers.items():
            for i in range(n):
                log.append(
                    conn,
                    borrower_id,
                    "contact.attempt",
                    {"channel": "sms", "amount": f"{100 + i}.00"},
                    T0 + timedelta(minutes=i),
                )


@contextmanager
def bypass(engine: Engine) -> Iterator[Connection]:
    """A connection that can change evidence rows: what an attacker with DBA rights can do."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            triggers = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            ).scalars()
            for name in list(triggers):
                conn.execute(text(f'DROP TRIGGER "{name}"'))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


def problems(engine: Engine, borrower_id: str | None = None) -> list[tuple[Any, ...]]:
    with engine.begin() as conn:
        return [(p.borrower_id, p.seq, p.code) for p in log.verify_db(conn, borrower_id)]


# --- appending --------------------------------------------------------------------------------


def test_append_and_load_round_trip(engine: Engine) -> None:
    with engine.begin() as conn:
        first = log.append(conn, "b1", "contact.attempt", {"channel": "sms"}, T0)
        second = log.append(conn, "b1", "contact.outcome", {"outcome": "无人接听"}, T0)
    with engine.begin() as conn:
        loaded = log.load_chain(conn, "b1")
        row = conn.execute(select(evidence_records).where(evidence_records.c.seq == 2)).one()
    assert loaded == [first, second]
    assert (second.seq, second.prev_hash) == (2, first.hash)
    # Stored as the exact hashed text: canonical payload, UTC time with microseconds.
    assert row.payload == '{"outcome":"无人接听"}'
    assert row.at == "2024-05-01T09:30:00.000000Z"
    assert problems(engine) == []


def test_append_many_is_one_insert_and_continues_existing_chains(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    statements: list[str] = []

    def count(_conn: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVIDENCE_RECORDS"):
            statements.append(statement)

    entries = [Entry(f"c{i % 7}", "visit", {"n": i}, T0) for i in range(300)]
    entries.append(Entry("b1", "promise", {"amount": "50.00", "due": "2024-05-10"}, T0))
    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as conn:
            records = log.append_many(conn, entries)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert records[-1].seq == 3 and records[-1].borrower_id == "b1"
    with engine.begin() as conn:
        assert len(log.load_chain(conn, "c0")) == 43  # 300 / 7, rounded up for c0
        assert log.append_many(conn, []) == []
    assert problems(engine) == []


def test_a_bad_entry_writes_nothing(engine: Engine) -> None:
    entries = [Entry("b1", "visit", {}, T0), Entry("b1", "visit", {"amount": 1.5}, T0)]
    with pytest.raises(chain.EvidenceError, match="floats"), engine.begin() as conn:
        log.append_many(conn, entries)
    with engine.begin() as conn:
        assert log.load_chain(conn, "b1") == []


# --- the database refuses changes -------------------------------------------------------------


def test_update_is_refused(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE evidence_records SET payload = '{}' WHERE seq = 1"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE evidence_records SET seq = seq + 10"))


def test_delete_is_refused(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE seq = 2"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM evidence_records"))
    with engine.begin() as conn:
        assert len(log.load_chain(conn, "b1")) == 2


def test_roots_cannot_be_changed_either(engine: Engine) -> None:
    fill(engine, {"b1": 1})
    with engine.begin() as conn:
        log.store_root(conn, "2024-05-01", T0)
    for statement in (
        "UPDATE evidence_roots SET root = 'x'",
        "DELETE FROM evidence_roots",
        "UPDATE evidence_root_heads SET seq = 9",
        "DELETE FROM evidence_root_heads",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_truncate_is_refused_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is a PostgreSQL statement")
    fill(engine, {"b1": 1})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE evidence_records"))


def test_insert_or_replace_cannot_overwrite_on_sqlite(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    fill(engine, {"b1": 1})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT OR REPLACE INTO evidence_records VALUES "
                "('b1', 1, '2024-05-01T09:30:00.000000Z', 'visit', '{}', :z, :z)"
            ),
            {"z": ZEROS},
        )


def test_an_insert_that_does_not_link_is_refused(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    row = "('b1', 3, '2024-05-01T09:30:00.000000Z', 'visit', '{}', :prev, :h)"
    with pytest.raises(DBAPIError, match="chain broken"), engine.begin() as conn:
        conn.execute(
            text(f"INSERT INTO evidence_records VALUES {row}"), {"prev": ZEROS, "h": ZEROS}
        )
    with pytest.raises(DBAPIError, match="chain broken"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO evidence_records VALUES "
                "('b2', 1, '2024-05-01T09:30:00.000000Z', 'visit', '{}', :prev, :h)"
            ),
            {"prev": "f" * 64, "h": ZEROS},
        )


# --- tampering behind the triggers' back ------------------------------------------------------


def test_edited_record_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 5, "b2": 3})
    with bypass(engine) as conn:
        conn.execute(
            text(
                'UPDATE evidence_records SET payload = \'{"amount":"1.00","channel":"sms"}\' '
                "WHERE borrower_id = 'b1' AND seq = 3"
            )
        )
    assert problems(engine) == [("b1", 3, Code.HASH)]
    assert problems(engine, "b2") == []


def test_edited_time_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with bypass(engine) as conn:
        conn.execute(
            text("UPDATE evidence_records SET at = '2024-04-30T09:30:00.000000Z' WHERE seq = 2")
        )
    assert problems(engine) == [("b1", 2, Code.HASH)]


def test_unreadable_payload_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 3})
    with bypass(engine) as conn:
        conn.execute(text("UPDATE evidence_records SET payload = '{not json' WHERE seq = 2"))
    assert problems(engine) == [("b1", 2, Code.MALFORMED)]


def test_deleted_record_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE seq = 2"))
    assert problems(engine) == [("b1", 2, Code.SEQUENCE)]


def test_reordered_records_are_named(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with bypass(engine) as conn:  # swap seq 2 and 3 through a free number
        conn.execute(text("UPDATE evidence_records SET seq = 99 WHERE seq = 2"))
        conn.execute(text("UPDATE evidence_records SET seq = 2 WHERE seq = 3"))
        conn.execute(text("UPDATE evidence_records SET seq = 3 WHERE seq = 99"))
    assert problems(engine) == [("b1", 2, Code.HASH)]


def test_inserted_record_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with engine.begin() as conn:
        second = log.load_chain(conn, "b1")[1]
    forged = chain.append(second, "b1", "contact.outcome", {"outcome": "refused"}, T0)
    with bypass(engine) as conn:  # make room after seq 2, then slip the forgery in
        conn.execute(text("UPDATE evidence_records SET seq = seq + 100 WHERE seq >= 3"))
        conn.execute(text("UPDATE evidence_records SET seq = seq - 99 WHERE seq >= 100"))
        conn.execute(
            evidence_records.insert(),
            [
                {
                    "borrower_id": "b1",
                    "seq": 3,
                    "at": forged.at_text,
                    "kind": forged.kind,
                    "payload": forged.payload_json(),
                    "prev_hash": forged.prev_hash,
                    "hash": forged.hash,
                }
            ],
        )
    # The forgery links to record 2; the genuine record 3, renumbered 4, no longer matches.
    assert problems(engine) == [("b1", 4, Code.HASH)]


def test_truncation_is_caught_against_the_latest_root(engine: Engine) -> None:
    fill(engine, {"b1": 5, "b2": 2})
    with engine.begin() as conn:
        log.store_root(conn, "2024-05-01", T0)
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE borrower_id = 'b1' AND seq >= 4"))
    assert problems(engine) == [("b1", 4, Code.TRUNCATED)]
    assert problems(engine, "b1") == [("b1", 4, Code.TRUNCATED)]


def test_truncation_without_a_root_is_caught_by_the_heads_table(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE seq = 5"))
    assert problems(engine) == [("b1", 5, Code.HEAD_ROW)]


def test_truncation_without_a_root_and_heads_rewound_is_not_detectable(engine: Engine) -> None:
    fill(engine, {"b1": 5})
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE seq = 5"))
        record_4 = conn.execute(
            select(evidence_records.c.hash).where(evidence_records.c.seq == 4)
        ).scalar_one()
        conn.execute(
            update(evidence_heads).values(seq=4, hash=record_4)
        )  # what only a root kept elsewhere can catch: seal one every day
    assert problems(engine) == []


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE evidence_heads SET hash = 'ab' WHERE borrower_id = 'b1'",
        "UPDATE evidence_heads SET seq = 1 WHERE borrower_id = 'b1'",
        "DELETE FROM evidence_heads WHERE borrower_id = 'b1'",
    ],
)
def test_a_heads_row_that_is_not_the_chains_end_is_named(engine: Engine, tamper: str) -> None:
    fill(engine, {"a": 1, "b1": 3, "c": 2})
    with bypass(engine) as conn:
        conn.execute(text(tamper))
    assert [(b, c) for b, _, c in problems(engine)] == [("b1", Code.HEAD_ROW)]
    assert [(b, c) for b, _, c in problems(engine, "b1")] == [("b1", Code.HEAD_ROW)]
    assert problems(engine, "c") == []


def test_a_heads_row_without_a_chain_is_named(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    with bypass(engine) as conn:
        conn.execute(insert(evidence_heads).values(borrower_id="a0", seq=3, hash="cd" * 32))
        conn.execute(insert(evidence_heads).values(borrower_id="z9", seq=1, hash="cd" * 32))
    assert problems(engine) == [("a0", 3, Code.HEAD_ROW), ("z9", 1, Code.HEAD_ROW)]


def chain_ends(conn: Connection) -> dict[str, tuple[int, str]]:
    """Each chain's last record, read from the log itself (the reference for the heads table)."""
    r = evidence_records
    last = select(r.c.borrower_id, func.max(r.c.seq).label("seq")).group_by(r.c.borrower_id)
    sub = last.subquery()
    rows = conn.execute(
        select(r.c.borrower_id, r.c.seq, r.c.hash).join(
            sub, (sub.c.borrower_id == r.c.borrower_id) & (sub.c.seq == r.c.seq)
        )
    )
    return {b: (seq, h) for b, seq, h in rows}


def test_the_heads_table_follows_every_kind_of_append(engine: Engine) -> None:
    fill(engine, {"b1": 2, "b2": 1})
    with engine.begin() as conn:
        # One statement appending several records to one chain, and starting new chains.
        log.append_many(
            conn,
            [Entry(b, "contact.attempt", {"n": i}, T0) for i in range(3) for b in ("b2", "b3")],
        )
        log.append(conn, "b1", "contact.outcome", {"outcome": "reached"}, T0)
        assert chain_ends(conn) == {
            b: (seq, h)
            for b, seq, h in conn.execute(
                select(evidence_heads.c.borrower_id, evidence_heads.c.seq, evidence_heads.c.hash)
            )
        }
        assert {b: seq for b, (seq, _) in chain_ends(conn).items()} == {"b1": 3, "b2": 4, "b3": 3}
    with pytest.raises(DBAPIError), engine.begin() as conn:
        # A record that does not link moves no head either: the statement fails whole.
        conn.execute(
            insert(evidence_records).values(
                borrower_id="b1",
                seq=4,
                at="2024-05-01T09:30:00.000000Z",
                kind="x",
                payload="{}",
                prev_hash=ZEROS,
                hash="ef" * 32,
            )
        )
    with engine.begin() as conn:
        assert (
            conn.execute(
                select(evidence_heads.c.seq).where(evidence_heads.c.borrower_id == "b1")
            ).scalar_one()
            == 3
        )


def test_a_removed_chain_is_caught_against_the_root(engine: Engine) -> None:
    fill(engine, {"a": 1, "b1": 2, "c": 1})
    with engine.begin() as conn:
        log.store_root(conn, "2024-05-01", T0)
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE borrower_id IN ('a', 'b1')"))
    assert problems(engine) == [("a", 1, Code.MISSING_CHAIN), ("b1", 1, Code.MISSING_CHAIN)]


def test_a_consistently_rewritten_chain_is_caught_against_the_root(engine: Engine) -> None:
    fill(engine, {"b1": 3})
    with engine.begin() as conn:
        log.store_root(conn, "2024-05-01", T0)
    with bypass(engine) as conn:
        conn.execute(text("DELETE FROM evidence_records WHERE borrower_id = 'b1'"))
        conn.execute(text("DELETE FROM evidence_heads WHERE borrower_id = 'b1'"))
        # The forger rebuilds a valid chain with other content.
        log.append_many(conn, [Entry("b1", "contact.attempt", {"forged": i}, T0) for i in range(3)])
    assert problems(engine) == [("b1", 3, Code.HEAD_MISMATCH)]


def test_a_changed_root_is_caught(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    with engine.begin() as conn:
        log.store_root(conn, "2024-05-01", T0)
    with bypass(engine) as conn:
        conn.execute(text("UPDATE evidence_roots SET root = :z"), {"z": ZEROS})
    assert problems(engine) == [(None, None, Code.ROOT_MISMATCH)]


def test_a_published_root_that_differs_is_reported(engine: Engine) -> None:
    fill(engine, {"b1": 2})
    with engine.begin() as conn:
        stored = log.store_root(conn, "2024-05-01", T0)
        assert log.verify_report(conn, expected_root=stored.root.upper()).intact
        report = log.verify_report(conn, expected_root="ab" * 32)
    assert [p.code for p in report.problems] == [Code.ROOT_MISMATCH]


# --- roots ------------------------------------------------------------------------------------


def test_store_root_commits_to_every_chains_head(engine: Engine) -> None:
    fill(engine, {"b2": 3, "b1": 2, "B": 1})
    with engine.begin() as conn:
        stored = log.store_root(conn, "2024-05-01", T0)
        heads = [log.load_chain(conn, b)[-1].head for b in ("B", "b1", "b2")]  # code point order
    assert stored.root == chain.root(heads)
    assert (stored.label, stored.chains, stored.records) == ("2024-05-01", 3, 6)
    assert stored.created_at == "2024-05-01T09:30:00.000000Z"


def test_store_root_is_idempotent_per_label_and_seals_only_changed_heads(engine: Engine) -> None:
    fill(engine, {"b1": 2, "b2": 2})
    with engine.begin() as conn:
        first = log.store_root(conn, "2024-05-01", T0)
    fill(engine, {"b2": 1, "b3": 1})
    with engine.begin() as conn:
        again = log.store_root(conn, "2024-05-01", T0 + timedelta(days=1))
        second = log.store_root(conn, "2024-05-02", T0 + timedelta(days=1))
        sealed = conn.execute(
            select(evidence_root_heads.c.root_id, func.count()).group_by(
                evidence_root_heads.c.root_id
            )
        ).all()
        old_heads = log.root_heads(conn, first)
        roots = conn.execute(select(func.count()).select_from(evidence_roots)).scalar()
        latest = log.get_root(conn)
    assert again == first
    assert roots == 2 and latest == second
    assert sorted(sealed) == [(first.root_id, 2), (second.root_id, 2)]  # b2 and b3 changed
    assert [(h.borrower_id, h.seq) for h in old_heads] == [("b1", 2), ("b2", 2)]
    assert (second.chains, second.records) == (3, 6)
    assert first.root != second.root


def test_an_empty_log_has_the_empty_root(engine: Engine) -> None:
    with engine.begin() as conn:
        stored = log.store_root(conn, "2024-05-01", T0)
    assert stored.root == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert (stored.chains, stored.records) == (0, 0)


def test_verify_report_counts_what_it_checked(engine: Engine) -> None:
    fill(engine, {"b1": 4, "b2": 3})
    with engine.begin() as conn:
        log.store_root(conn, "d1", T0)
        report = log.verify_report(conn)
        one = log.verify_report(conn, "b2")
        with pytest.raises(chain.EvidenceError, match="no evidence root"):
            log.verify_report(conn, root_label="nope")
    assert (report.chains, report.records, report.intact) == (2, 7, True)
    assert (one.chains, one.records) == (1, 3)
    assert report.root is not None and report.root.label == "d1"


# --- concurrency ------------------------------------------------------------------------------


def _all_at_once(threads: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run ``work(0)`` .. ``work(threads - 1)`` in threads released together; their errors
    (a thread cannot fail the test itself)."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(t: int) -> None:
        try:
            barrier.wait()
            work(t)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return errors


@pytest.mark.parametrize("start_empty", [True, False])
def test_concurrent_appends_do_not_fork_a_chain(engine: Engine, start_empty: bool) -> None:
    if not start_empty:
        fill(engine, {"b1": 1})
    threads, per_thread = 4, 10

    def work(t: int) -> None:
        for i in range(per_thread):
            with engine.begin() as conn:
                log.append(conn, "b1", "contact.attempt", {"thread": t, "i": i}, T0)

    assert _all_at_once(threads, work) == []
    with engine.begin() as conn:
        records = log.load_chain(conn, "b1")
    expected = threads * per_thread + (0 if start_empty else 1)
    assert [r.seq for r in records] == list(range(1, expected + 1))
    assert problems(engine) == []


def test_bulk_and_single_appends_at_once_neither_fork_nor_deadlock(engine: Engine) -> None:
    """Batches above log.BULK_BORROWERS hold every chain with one lock; single appends hold
    it shared and their bucket; a transaction that starts small and then appends a batch
    keeps to buckets. All at once on one contested chain: every record lands, in order."""
    crowd = [f"c{k:04d}" for k in range(log.BULK_BORROWERS + 50)]
    threads, rounds = 4, 6

    def work(t: int) -> None:
        for i in range(rounds):
            with engine.begin() as conn:
                if t == 0:  # a batch over the contested chain and the crowd
                    entries = [Entry(b, "note", {"t": t, "i": i}, T0) for b in ["b1", *crowd]]
                    log.append_many(conn, entries)
                elif t == 1:  # small first, then a batch in the same transaction
                    log.append(conn, "b1", "note", {"t": t, "i": i}, T0)
                    log.append_many(conn, [Entry(b, "note", {"t": t}, T0) for b in crowd])
                else:
                    log.append(conn, "b1", "note", {"t": t, "i": i}, T0)

    assert _all_at_once(threads, work) == []
    with engine.begin() as conn:
        b1 = log.load_chain(conn, "b1")
        crowd_chain = log.load_chain(conn, crowd[-1])
    assert [r.seq for r in b1] == list(range(1, threads * rounds + 1))
    assert [r.seq for r in crowd_chain] == list(range(1, 2 * rounds + 1))
    assert problems(engine) == []


def test_heads_reads_current_heads(engine: Engine) -> None:
    fill(engine, {"b1": 3, "b2": 1})
    with engine.begin() as conn:
        found = log.heads(conn, ["b1", "b2", "nobody"])
        chain_b1 = log.load_chain(conn, "b1")
    assert found == {"b1": chain_b1[-1].head, "b2": Head("b2", 1, found["b2"].hash)}
