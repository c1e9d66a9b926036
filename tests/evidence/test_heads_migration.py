"""Migration 0012 on a log written before it: every chain gets its head, and the seq its
latest root sealed; down and up again leaves the log as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, func, insert, inspect, select

from arrears.core.evidence import chain
from arrears.core.evidence.chain import Head
from arrears.services import evidence as log
from arrears.store.evidence_tables import (
    evidence_heads,
    evidence_records,
    evidence_root_heads,
    evidence_roots,
)
from arrears.store.migrate import downgrade, upgrade

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def write_chain(conn: Connection, borrower_id: str, n: int) -> list[Head]:
    """``n`` records, inserted as rows (no code of the new revision involved)."""
    head: Head | None = None
    out: list[Head] = []
    for i in range(n):
        r = chain.append(head, borrower_id, "contact.attempt", {"i": i}, T0 + timedelta(hours=i))
        conn.execute(
            insert(evidence_records).values(
                borrower_id=r.borrower_id,
                seq=r.seq,
                at=r.at_text,
                kind=r.kind,
                payload=r.payload_json(),
                prev_hash=r.prev_hash,
                hash=r.hash,
            )
        )
        head = Head(borrower_id, r.seq, r.hash)
        out.append(head)
    return out


def test_heads_are_filled_from_the_log_and_its_roots(engine: Engine) -> None:
    downgrade(engine, "0011")
    assert "evidence_heads" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        a = write_chain(conn, "a", 3)
        b = write_chain(conn, "b", 1)
        root_id = conn.execute(
            insert(evidence_roots).values(
                label="2024-05-01", root="00" * 32, chains=2, records=3, created_at="x"
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        # Sealed when a had two records and b none.
        conn.execute(
            insert(evidence_root_heads).values(
                root_id=root_id, borrower_id="a", seq=a[1].seq, hash=a[1].hash
            )
        )
        c = write_chain(conn, "c", 2)
    upgrade(engine)
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                evidence_heads.c.borrower_id,
                evidence_heads.c.seq,
                evidence_heads.c.hash,
                evidence_heads.c.sealed_seq,
            ).order_by(evidence_heads.c.borrower_id)
        ).all()
        assert [tuple(r) for r in rows] == [
            ("a", 3, a[2].hash, 2),
            ("b", 1, b[0].hash, None),
            ("c", 2, c[1].hash, None),
        ]
        # The next root stores the heads that moved since: a (2 -> 3), b and c (new).
        stored = log.store_root(conn, "2024-05-02", T0)
        moved = conn.execute(
            select(evidence_root_heads.c.borrower_id, evidence_root_heads.c.seq)
            .where(evidence_root_heads.c.root_id == stored.root_id)
            .order_by(evidence_root_heads.c.borrower_id)
        ).all()
        assert [tuple(m) for m in moved] == [("a", 3), ("b", 1), ("c", 2)]
        assert stored.root == chain.root([a[2], b[0], c[1]])


def test_down_and_up_again_keeps_the_log(engine: Engine) -> None:
    with engine.begin() as conn:
        write_chain(conn, "a", 2)
    downgrade(engine, "0011")
    with engine.begin() as conn:
        write_chain(conn, "b", 1)  # no heads trigger at 0011
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(evidence_records)).scalar() == 3
        assert dict(
            conn.execute(select(evidence_heads.c.borrower_id, evidence_heads.c.seq)).all()
        ) == {"a": 2, "b": 1}
        assert log.verify_db(conn) == []
