"""What the web console reads (services.collection.console): who may open a case, the gate
asked about the call an agent holds now, search, and a case assigned to an agent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, select, text, update

from arrears.services.collection.cases import sync_cases
from arrears.services.collection.console import (
    agent_may_open,
    assign_case,
    assigned_cases,
    blocked_contacts,
    call_gate,
    search,
)
from arrears.services.collection.queue import enqueue_calls, get_item, next_item
from arrears.services.pii_audit import count_reads, list_reads, record_reads
from arrears.store import tables
from arrears.store.sealed import phone_tail

from .test_cases_support import CLOSE_AT, call_action, overdue_loans, sh


def test_an_agent_opens_the_cases_assigned_to_them_and_the_call_they_hold(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2", "L3"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
        assert assign_case(conn, "B-L1", "ann") == ("ann", ())
        _, problems = assign_case(conn, "NOBODY", "ann")
        assert [(p.field, p.code) for p in problems] == [("borrower_id", "not_found")]
        _, problems = assign_case(conn, "B-L2", " ")
        assert [p.field for p in problems] == ["agent"]
        enqueue_calls(conn, [call_action("L2")])
        held = next_item(conn, "bob", sh("2024-03-01 10:05"))
        assert held is not None and held.borrower_id == "B-L2"
    with engine.connect() as conn:
        assert [c.borrower_id for c in assigned_cases(conn, "ann")] == ["B-L1"]
        assert agent_may_open(conn, "ann", "B-L1")
        assert not agent_may_open(conn, "ann", "B-L2")  # bob holds its call
        assert agent_may_open(conn, "bob", "B-L2")
        assert not agent_may_open(conn, "bob", "B-L1")
        assert not agent_may_open(conn, "ann", "B-L3")


def test_the_gate_on_a_held_call_is_the_close_gate_now(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
        enqueue_calls(conn, [call_action("L1")])
        item = next_item(conn, "ann", sh("2024-03-01 10:05"))
        assert item is not None
    with engine.connect() as conn:
        by_day = call_gate(conn, item, sh("2024-03-01 10:05"))
        at_night = call_gate(conn, item, sh("2024-03-01 23:30"))
    assert by_day.allowed and not by_day.violations
    assert not at_night.allowed
    assert "cn.hours" in [v.rule for v in at_night.violations]
    assert all(v.source for v in at_night.violations)


def test_search_finds_a_borrower_by_id_loan_or_the_end_of_their_phone(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)
        assign_case(conn, "B-L2", "ann")
        phone = conn.execute(
            select(tables.borrowers.c.phone).where(tables.borrowers.c.borrower_id == "B-L2")
        ).scalar_one()
    digits = "".join(ch for ch in phone if ch.isdigit())
    with engine.connect() as conn:
        assert [f.borrower_id for f in search(conn, "B-L1")] == ["B-L1"]
        by_loan = search(conn, "L2")
        by_phone = search(conn, digits[-6:])
        assert search(conn, "  ") == [] and search(conn, digits[-3:]) == []
    assert [(f.borrower_id, f.loan_ids, f.assigned_agent) for f in by_loan] == [
        ("B-L2", ("L2",), "ann")
    ]
    assert "B-L2" in [f.borrower_id for f in by_phone]
    assert by_loan[0].dpd > 0


def test_search_by_the_last_four_digits_goes_through_the_blind_index(
    engine: Engine, tmp_path: Path
) -> None:
    """Phones are sealed: the search cannot match their ends in SQL, only the tails' HMACs,
    and it checks digits before the last four on the phones it opens."""
    overdue_loans(engine, tmp_path, ["L1", "L2", "L3"])
    phones = {"B-L1": "138 0000 4321", "B-L2": "139-1111-4321", "B-L3": "13722224322"}
    with engine.begin() as conn:
        for bid, phone in phones.items():
            conn.execute(
                update(tables.borrowers)
                .where(tables.borrowers.c.borrower_id == bid)
                .values(phone=phone, phone_tail=phone_tail(phone))
            )
        [stored] = conn.execute(
            text("SELECT phone_tail FROM borrowers WHERE borrower_id = 'B-L1'")
        ).scalars()
    assert len(stored) == 64 and "4321" not in stored
    with engine.connect() as conn:
        assert [f.borrower_id for f in search(conn, "4321")] == ["B-L1", "B-L2"]
        assert [f.borrower_id for f in search(conn, "1111 4321")] == ["B-L2"]
        assert [f.borrower_id for f in search(conn, "4322")] == ["B-L3"]
        assert search(conn, "9999") == []
        assert [f.borrower_id for f in search(conn, "04321")] == ["B-L1"]
        assert [f.phone for f in search(conn, "4321", limit=1)] == ["138 0000 4321"]


def test_no_blocked_contact_on_a_fresh_book(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.connect() as conn:
        assert blocked_contacts(conn) == []
        assert get_item(conn, 1) is None


def test_the_read_log_gives_its_newest_page_and_its_size(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        for k, b in enumerate(["B-L1", "B-L2", "B-L1"]):
            record_reads(
                conn,
                username="ann",
                role="agent",
                route=f"GET /x/{k}",
                borrower_ids=[b],
                fields=["number"],
                at=sh("2024-03-01 10:00"),
            )
    with engine.connect() as conn:
        assert [r.route for r in list_reads(conn, latest=2)] == ["GET /x/2", "GET /x/1"]
        assert [r.route for r in list_reads(conn)] == ["GET /x/0", "GET /x/1", "GET /x/2"]
        assert count_reads(conn, borrower_id="B-L1") == 2
        assert count_reads(conn, username="bob") == 0
