"""Erasing a borrower's personal data at the end of retention, on both databases: due or
refused with the rule's reason, idempotent, one evidence record, no clear value of theirs
left in any text column of any table, the evidence log still verifying, nothing sent to them
or signed in as them afterwards."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from arrears.adapters import MailboxAdapter
from arrears.core.evidence.chain import Kind
from arrears.services import erasure as svc
from arrears.services import evidence as log
from arrears.services import outbox
from arrears.services.collection.dispatch import dispatch
from arrears.services.collection.queue import list_queue, next_item
from arrears.services.collection.verification import record_incident
from arrears.services.erasure_writes import erased_columns
from arrears.services.own_records import add_file, add_note
from arrears.services.settings import default_settings
from arrears.services.signin import send_code, sign_in
from arrears.store import tables as t
from arrears.store.case_tables import queue_items
from arrears.store.evidence_tables import evidence_records
from arrears.store.outbox_tables import mailbox
from arrears.store.outbox_tables import outbox as outbox_table
from factories import import_rows, loan_row, refused, succeeded

from .erasure_support import (
    AT,
    ON,
    Person,
    demo_book,
    end_all_under_way,
    free_texts,
    richest_borrower,
    scan,
)

SECRET = b"s" * 32


def _records(engine: Engine, borrower_id: str) -> list[str]:
    with engine.connect() as conn:
        return [r.kind for r in log.load_chain(conn, borrower_id)]


def _own_records(engine: Engine, who: Person) -> None:
    name, phone = who.values[0], who.values[1]
    at = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        succeeded(
            add_note(
                conn, key=f"n-{who.borrower_id}", borrower_id=who.borrower_id, at=at,
                happened_at=at - timedelta(hours=1), channel="call", caller_name=name,
                said=f"{name} was called on {phone}",
            )
        )  # fmt: skip
        succeeded(
            add_file(
                conn, key=f"f-{who.borrower_id}", borrower_id=who.borrower_id, at=at,
                kind="screenshot", name=f"{name}-{phone}.png", data=b"png",
            )
        )  # fmt: skip
        # A call from an unofficial number the borrower reported: the incident quotes it.
        record_incident(conn, at, "channel", "unofficial_phone", who.borrower_id, {"phone": phone})
        free_texts(conn, who)


def test_erasure_leaves_no_clear_value_anywhere_and_the_log_still_verifies(
    engine: Engine,
) -> None:
    demo_book(engine)
    who = richest_borrower(engine)
    _own_records(engine, who)
    before = scan(engine, who.values)
    # The scan sees what it looks for: the name in the messages, the number in the attempts.
    assert any(table == "outbox" for table, _, _ in before), before
    assert any(table == "borrower_records" for table, _, _ in before), before
    with engine.begin() as conn:
        refused_now = refused(svc.erase_borrower(conn, who.borrower_id, ON, at=AT))
        end_all_under_way(conn, who.borrower_id)
    assert refused_now.code == "conflict" and refused_now.field == "erasure"
    kinds_before = _records(engine, who.borrower_id)
    others = scan(engine, ("尊敬的",))  # the other borrowers' messages stay as they were

    with engine.begin() as conn:
        done = succeeded(svc.erase_borrower(conn, who.borrower_id, ON, at=AT))
    assert not done.already_erased and done.erased_on == ON and done.rows_changed > 0

    assert scan(engine, who.values) == {}
    assert _records(engine, who.borrower_id) == [*kinds_before, svc.ERASED]
    with engine.connect() as conn:
        assert log.verify_db(conn) == []
        record = log.load_chain(conn, who.borrower_id)[-1]
        erased_on = conn.execute(
            select(t.borrowers.c.erased_on).where(t.borrowers.c.borrower_id == who.borrower_id)
        ).scalar_one()
    assert erased_on == ON
    assert record.kind == svc.ERASED and record.payload["on"] == ON.isoformat()
    assert record.payload["retention_years"] == 5 and record.payload["governs"] in (
        "settings",
        "pack",
    )
    assert not any(v in record.payload_json() for v in who.values)
    assert scan(engine, ("尊敬的",)).keys() <= others.keys()  # only theirs were blanked


def test_the_loans_and_the_ledger_stay(engine: Engine, tmp_path: Path) -> None:
    _settled(engine, tmp_path, borrower_name="钱多多", phone="13911112222")
    money = ("loans", "loan_events", "journal_entries", "postings", "installments")

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            return {
                n: int(
                    conn.execute(select(func.count()).select_from(t.metadata.tables[n])).scalar()
                )
                for n in money
            }

    held = counts()
    with engine.begin() as conn:
        succeeded(svc.erase_borrower(conn, "B-L1", ON, at=AT))
    assert counts() == held
    with engine.connect() as conn:
        loan = conn.execute(select(t.loans).where(t.loans.c.loan_id == "L1")).one()
        b = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == "B-L1")).one()
    assert loan.principal == 120000 and (b.name, b.phone) == ("", "")


def _settled(engine: Engine, tmp_path: Path, loan_id: str = "L1", **over: str) -> str:
    """An imported loan read as settled (as a close would once it is repaid)."""
    import_rows(engine, tmp_path, [loan_row(loan_id, **over)])
    borrower = f"B-{loan_id}"
    with engine.begin() as conn:
        conn.execute(
            update(t.loan_state).where(t.loan_state.c.loan_id == loan_id).values(status="settled")
        )
    return borrower


def test_not_due_is_refused_with_the_reason_and_nothing_changes(
    engine: Engine, tmp_path: Path
) -> None:
    import_rows(engine, tmp_path, [loan_row("L1")])  # active: open
    with engine.begin() as conn:
        p = refused(svc.erase_borrower(conn, "B-L1", ON, at=AT))
        assert (p.code, p.field, p.record) == ("conflict", "erasure", "borrower B-L1")
        assert p.reason.startswith("not due for erasure (loan_open): ")
        missing = refused(svc.erase_borrower(conn, "B-nobody", ON, at=AT))
        assert missing.code == "not_found"
    # Settled, but the retention runs five years from the last activity (the drawdown,
    # 2024-01-15): due on 2029-01-15, not the day before.
    b = _settled(engine, tmp_path, "L2")
    with engine.begin() as conn:
        early = refused(svc.erase_borrower(conn, b, date(2029, 1, 14), at=AT))
        assert early.reason.startswith("not due for erasure (retention_running): ")
        assert "2029-01-15" in early.reason
    with engine.connect() as conn:
        erased = conn.execute(select(t.borrowers.c.erased_on)).scalars().all()
        assert erased == [None, None]
        assert conn.execute(select(func.count()).select_from(evidence_records)).scalar() == 0
    with engine.begin() as conn:
        assert succeeded(svc.erase_borrower(conn, b, date(2029, 1, 15), at=AT)).erased_on == date(
            2029, 1, 15
        )


def test_a_longer_pack_retention_governs(engine: Engine, tmp_path: Path) -> None:
    b = _settled(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            t.metadata.tables["borrower_profiles"]
            .update()
            .where(t.metadata.tables["borrower_profiles"].c.borrower_id == b)
            .values(rule_pack="us-reg-f")
        )
    one_year = replace(
        default_settings(),
        retention=replace(default_settings().retention, personal_data_years=1),
    )
    with engine.begin() as conn:
        v = succeeded(svc.check(conn, b, date(2026, 1, 15), one_year))
        assert (v.due, v.reason.value, v.horizon.years, v.horizon.governs) == (
            False,
            "retention_running",
            3,
            "pack",
        )
        assert succeeded(svc.check(conn, b, date(2027, 1, 15), one_year)).due


def test_erasing_an_erased_borrower_is_a_no_op_that_says_so(engine: Engine, tmp_path: Path) -> None:
    b = _settled(engine, tmp_path)
    with engine.begin() as conn:
        first = succeeded(svc.erase_borrower(conn, b, ON, at=AT))
    with engine.begin() as conn:
        again = succeeded(svc.erase_borrower(conn, b, ON + timedelta(days=9), at=AT))
    assert not first.already_erased and again.already_erased
    assert again.erased_on == ON and again.rows_changed == 0
    assert _records(engine, b).count(svc.ERASED) == 1


def test_nothing_is_sent_to_an_erased_borrower_nor_called_nor_signed_in(
    engine: Engine, tmp_path: Path
) -> None:
    b = _settled(engine, tmp_path, phone="13955556666")
    now = AT
    lender = default_settings().lender
    with engine.begin() as conn:
        assert succeeded(send_code(conn, "13955556666", now, SECRET, lender)) is not None
        conn.execute(
            insert(queue_items).values(
                key="cb-1", borrower_id=b, loan_id="L1", on_date=ON, policy="borrower",
                step="callback", party="debtor", number="13955556666", script="call me",
                priority=100, dpd=0, amount=0, due_at=now - timedelta(hours=1),
            )
        )  # fmt: skip
        succeeded(svc.erase_borrower(conn, b, ON, at=AT))
    with engine.begin() as conn:
        # The old number names no one now: the sign-in answers as for any unknown number.
        assert send_code(conn, "13955556666", now, SECRET, lender) == (None, ())
        assert refused(sign_in(conn, "13955556666", "000000", now, SECRET)).code == ("unauthorized")
        # The callback left on the queue is done, and no agent is handed it.
        assert [i for i in list_queue(conn) if i.borrower_id == b] == []
        assert next_item(conn, "agent1", now) is None
        # The sign-in code queued before erasure was cancelled; a stray row queued after it
        # (a message planned from an old copy) is refused by the dispatcher, saying why.
        row = conn.execute(select(outbox_table).where(outbox_table.c.borrower_id == b)).one()
        assert (row.status, row.recipient, row.body) == ("cancelled", "(erased)", "(erased)")
        conn.execute(
            outbox_table.update()
            .where(outbox_table.c.borrower_id == b)
            .values(status="queued", next_attempt_at=now - timedelta(minutes=1))
        )
    report = dispatch(engine, {"sms": MailboxAdapter(engine)}, now)
    assert (report.sent, report.failed) == (0, 1)
    assert "personal data erased on 2040-06-01" in report.errors[0][1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mailbox)).scalar() == 0
        failed = outbox.get(conn, row.message_key)
        assert failed is not None and failed.status == "failed"
        assert log.load_chain(conn, b)[-1].kind == Kind.CONTACT_FAILED.value
        assert log.verify_db(conn) == []


def test_due_borrowers_dry_run_lists_and_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    due = _settled(engine, tmp_path, "L1")
    young = _settled(engine, tmp_path, "L2", disbursed_on="2028-01-15")
    import_rows(engine, tmp_path, [loan_row("L3")])  # open: not even a candidate
    with engine.begin() as conn:
        dry = succeeded(svc.erase_due_borrowers(conn, date(2030, 1, 1), True, at=AT))
    assert (dry.checked, dry.due, dry.erased) == (2, (due,), ())
    assert dry.kept == {"retention_running": 1} and young
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(evidence_records)).scalar() == 0
        assert set(conn.execute(select(t.borrowers.c.erased_on)).scalars()) == {None}
    ticks: list[tuple[int, int]] = []
    with engine.begin() as conn:
        run = succeeded(
            svc.erase_due_borrowers(
                conn, date(2030, 1, 1), False, at=AT, progress=lambda *tick: ticks.append(tick)
            )
        )
    assert [e.borrower_id for e in run.erased] == [due] and ticks == [(1, 2), (2, 2)]
    with engine.begin() as conn:  # run again: the erased one is no longer a candidate
        again = succeeded(svc.erase_due_borrowers(conn, date(2030, 1, 1), False, at=AT))
    assert (again.checked, again.due) == (1, ())


def test_the_columns_erasure_writes_are_named() -> None:
    columns = erased_columns()
    for expected in ("borrowers.name", "borrowers.phone", "borrower_profiles.address",
                     "visits.address", "outbox.recipient", "contact_attempts.number",
                     "queue_items.number", "complaints.text", "borrower_records.caller_name",
                     "borrowers.erased_on"):  # fmt: skip
        assert expected in columns
    assert len(columns) == len(set(columns))


@pytest.mark.parametrize(("years", "kept", "governs"), [(1, 2, "pack"), (5, 5, "settings")])
def test_the_setting_moves_the_day_down_to_the_packs_floor(
    engine: Engine, tmp_path: Path, years: int, kept: int, governs: str
) -> None:
    # China's pack keeps recordings 2 years: a 1-year setting erases no sooner than that.
    b = _settled(engine, tmp_path)
    chosen = replace(
        default_settings(),
        retention=replace(default_settings().retention, personal_data_years=years),
    )
    with engine.connect() as conn:
        v = succeeded(svc.check(conn, b, ON, chosen))
    assert v.due_from == date(2024 + kept, 1, 15) and v.horizon.governs == governs
