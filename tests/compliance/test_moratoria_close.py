"""Moratoria and written disputes through the business-day close, on a real database.

UK Breathing Space (Debt Respite Scheme Regulations 2020, regs. 7, 11, 26): on the days in
force the creditor adds no interest, fees or charges to the moratorium debts and makes no
contact asking for payment. US Regulation F §1006.38: a written dispute pauses collection of
the debt until verification is sent. The close must plan no contact for the borrower (each one
blocked with the rule, in the evidence log), accrue no penalty on those days, and record every
start and end; the columnar kernel and the per-loan reference must leave the same books.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters.mailbox import MailboxAdapter
from arrears.services import debt_disputes, moratoria
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.collection.dispatch import dispatch
from arrears.services.collection.queue import next_item
from arrears.services.policy_files import default_policy_set
from arrears.store import tables as t
from arrears.store.case_tables import contact_attempts, queue_items
from arrears.store.engine import make_engine
from arrears.store.evidence_tables import evidence_records
from arrears.store.outbox_tables import outbox
from factories import COLUMNS, assert_journal_consistent, loan_row, second_database, succeeded

PROFILE = ["rule_pack", "timezones", "language"]
FIRST = date(2026, 3, 12)  # the first close: both loans are a month past their first due date
START = FIRST + timedelta(days=1)  # the moratorium's first day


def rows(pack: str) -> list[dict[str, str]]:
    zone = {"uk-conc": "Europe/London", "us-reg-f": "America/New_York"}[pack]
    common = {
        "principal": "6000.00",
        "months": "6",
        "disbursed_on": "2026-01-10",
        "rule_pack": pack,
        "timezones": zone,
        "language": "en",
    }
    return [
        loan_row("L1", borrower_id="B1", phone="+447700900001", **common),
        loan_row("L2", borrower_id="B2", phone="+447700900002", **common),
    ]


def book(engine: Engine, tmp_path: Path, pack: str) -> None:
    import_rows_with(engine, tmp_path, rows(pack))


def import_rows_with(engine: Engine, tmp_path: Path, loans: list[dict[str, str]]) -> None:
    from arrears.services.importer import import_file
    from factories import write_csv

    path = write_csv(tmp_path / f"loans-{id(loans)}.csv", loans, COLUMNS + PROFILE)
    succeeded(import_file(engine, path))


def close(engine: Engine, day: date, kernel: Any = "polars") -> None:
    config = CloseConfig(default_policy_set(), kernel=kernel)
    close_business_day(engine, day, config, now=datetime.combine(day, time(0, 30), UTC))


def penalty(engine: Engine, loan_id: str) -> int:
    with engine.connect() as conn:
        s = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan_id)).one()
        return int(s.penalty_owed + s.penalty_unposted)


def contacts(engine: Engine, borrower_id: str) -> int:
    with engine.connect() as conn:
        return sum(
            int(
                conn.execute(
                    select(func.count()).where(table.c.borrower_id == borrower_id)
                ).scalar_one()
            )
            for table in (outbox, queue_items, contact_attempts)
        )


def evidence(engine: Engine, borrower_id: str) -> list[tuple[str, str]]:
    e = evidence_records
    with engine.connect() as conn:
        q = select(e.c.kind, e.c.payload).where(e.c.borrower_id == borrower_id).order_by(e.c.seq)
        return [(k, p) for k, p in conn.execute(q).all()]


def start(engine: Engine, **fields: Any) -> moratoria.MoratoriumRecord:
    with engine.begin() as conn:
        record, problems = moratoria.start_moratorium(conn, now=datetime.now(UTC), **fields)
    assert record is not None, problems
    return record


def test_breathing_space_stops_contact_and_penalty_and_is_recorded(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    assert contacts(engine, "B1") > 0  # overdue a month: the policy contacts both borrowers
    m = start(engine, ref="BS-1", borrower_id="B1", kind="breathing-space", starts_on=START)
    assert (m.ends_on, m.loan_ids) == (START + timedelta(days=59), ("L1",))
    before = {lid: penalty(engine, lid) for lid in ("L1", "L2")}
    planned = contacts(engine, "B1")
    blocked_before = sum(k == "contact.blocked" for k, _ in evidence(engine, "B1"))
    for k in range(5):
        close(engine, START + timedelta(days=k))
    assert penalty(engine, "L1") == before["L1"]  # no charge added on the days in force
    assert penalty(engine, "L2") > before["L2"]  # the borrower without one accrues as before
    assert contacts(engine, "B1") == planned  # nothing planned, queued or sent
    records = evidence(engine, "B1")
    assert [k for k, _ in records].count(moratoria.STARTED) == 1
    blocked = [p for k, p in records if k == "contact.blocked"][blocked_before:]
    assert blocked and all("uk.pause.breathing-space" in p for p in blocked)
    assert_journal_consistent(engine)

    # Ended early (cancelled on review): penalty and contact resume from the next day.
    last = START + timedelta(days=4)
    with engine.begin() as conn:
        ended, problems = moratoria.end_moratorium(
            conn, m.moratorium_id, on=last, reason="cancelled on review", now=datetime.now(UTC)
        )
    assert ended is not None, problems
    close(engine, last + timedelta(days=1))
    assert penalty(engine, "L1") > before["L1"]
    assert [k for k, _ in evidence(engine, "B1")].count(moratoria.ENDED) == 1
    assert_journal_consistent(engine)


def test_a_payment_during_a_moratorium_replays_the_same_books(
    engine: Engine, tmp_path: Path
) -> None:
    from arrears.services import events

    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    start(engine, ref="BS-2", borrower_id="B1", kind="breathing-space", starts_on=START)
    for k in range(3):
        close(engine, START + timedelta(days=k))
    succeeded(events.pay(engine, "L1", 10_000, START + timedelta(days=2), "PAY-1"))
    # The payment's replay knows the moratorium: no adjustment entry, books consistent.
    with engine.connect() as conn:
        kinds = conn.execute(
            select(t.journal_entries.c.kind).where(t.journal_entries.c.loan_id == "L1")
        ).scalars()
        assert "adjustment" not in set(kinds)
    assert_journal_consistent(engine)


@pytest.fixture
def other_url(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with second_database(db_url, tmp_path) as url:
        yield url


def test_kernel_and_reference_close_leave_the_same_books_under_a_moratorium(
    engine: Engine, other_url: str, tmp_path: Path
) -> None:
    other = make_engine(other_url)
    try:
        for db, kernel in ((engine, "polars"), (other, "reference")):
            book(db, tmp_path, "uk-conc")
            close(db, FIRST, kernel)
            start(db, ref="MHC-1", borrower_id="B1", kind="mental-health-crisis", starts_on=START)
            for k in range(40):  # across a month end (penalty posted) and a due date
                close(db, START + timedelta(days=k), kernel)
        states = []
        for db in (engine, other):
            with db.connect() as conn:
                q = select(t.loan_state).order_by(t.loan_state.c.loan_id)
                states.append([tuple(r) for r in conn.execute(q).all()])
        assert states[0] == states[1]
        assert penalty(engine, "L1") == penalty(other, "L1")
        assert_journal_consistent(engine)
        assert_journal_consistent(other)
    finally:
        other.dispose()


def test_moratorium_bad_input_names_the_field_and_writes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    now = datetime.now(UTC)
    cases = [
        ({"borrower_id": "B9", "kind": "breathing-space", "starts_on": START}, "borrower"),
        ({"borrower_id": "B1", "kind": "holiday", "starts_on": START}, "kind"),
        ({"borrower_id": "B1", "kind": "breathing-space", "starts_on": FIRST}, "from"),
        (
            {"borrower_id": "B1", "kind": "breathing-space", "starts_on": START, "until": START},
            "until",
        ),
        (
            {
                "borrower_id": "B1",
                "kind": "breathing-space",
                "starts_on": START,
                "loan_ids": ["L2"],
            },
            "loan",
        ),
    ]
    for fields, field in cases:
        with engine.begin() as conn:
            value, problems = moratoria.start_moratorium(conn, ref="X", now=now, **fields)
        assert value is None and problems[0].field == field, (fields, problems)
    start(engine, ref="BS-A", borrower_id="B1", kind="breathing-space", starts_on=START)
    # The same ref again is the same moratorium; a second breathing space within 12 months is not.
    again = start(engine, ref="BS-A", borrower_id="B1", kind="breathing-space", starts_on=START)
    assert again.ref == "BS-A"
    with engine.begin() as conn:
        value, problems = moratoria.start_moratorium(
            conn, ref="BS-B", borrower_id="B1", kind="breathing-space",
            starts_on=START + timedelta(days=200), now=now,
        )  # fmt: skip
    assert value is None and problems[0].code == "conflict"
    with engine.connect() as conn:
        assert len(moratoria.list_moratoria(conn)) == 1
    assert [k for k, _ in evidence(engine, "B1")].count(moratoria.STARTED) == 1


def test_a_us_written_dispute_pauses_collection_of_that_debt_until_verification(
    engine: Engine, tmp_path: Path
) -> None:
    book(engine, tmp_path, "us-reg-f")
    close(engine, FIRST)
    with engine.begin() as conn:
        dispute, problems = debt_disputes.open_debt_dispute(
            conn, ref="LTR-1", loan_id="L1", kind="dispute", received_on=FIRST,
            now=datetime.combine(FIRST, time(12), UTC),
        )  # fmt: skip
    assert dispute is not None, problems
    planned = contacts(engine, "B1")
    for k in range(3):
        close(engine, START + timedelta(days=k))
    assert contacts(engine, "B1") == planned
    blocked = [p for k, p in evidence(engine, "B1") if k == "contact.blocked"]
    assert blocked and any("us.pause.verification" in p for p in blocked)
    assert contacts(engine, "B2") > 0  # the undisputed debt is collected as before
    with engine.begin() as conn:
        when = datetime.combine(START + timedelta(days=2), time(18), UTC)
        sent, problems = debt_disputes.record_verification_sent(
            conn, dispute.dispute_id, sent_at=when, now=datetime.now(UTC)
        )
    assert sent is not None, problems
    kinds = [k for k, _ in evidence(engine, "B1")]
    assert debt_disputes.VERIFICATION_SENT in kinds
    with engine.connect() as conn:
        assert debt_disputes.verification_pending(conn, ["B1"]) == {}


def test_breathing_space_waives_the_interest_that_accrued_on_days_in_force(
    engine: Engine, tmp_path: Path
) -> None:
    """Reg. 7: no interest added for the days in force. The installment due on 2026-04-10
    covers [2026-03-10, 2026-04-10), 31 days; a breathing space from 2026-03-13 covers 28 of
    them, so 28/31 of its scheduled interest is waived on its due date, once; the installment
    due on 2026-05-10 is wholly inside the 60 days and is waived whole."""
    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    start(engine, ref="BS-3", borrower_id="B1", kind="breathing-space", starts_on=START)
    with engine.connect() as conn:
        i = t.installments
        rows = conn.execute(
            select(i.c.n, i.c.start, i.c.due_date, i.c.interest)
            .where(i.c.loan_id == "L1")
            .order_by(i.c.n)
        ).all()
    april = next(r for r in rows if r.due_date == date(2026, 4, 10))
    may = next(r for r in rows if r.due_date == date(2026, 5, 10))
    assert (april.due_date - april.start).days == 31
    # Half-up to the fen, computed here with integers: (2 x interest x 28 + 31) // 62.
    expected_april = (2 * april.interest * 28 + 31) // 62
    day = START
    while day <= date(2026, 5, 11):
        close(engine, day)
        day += timedelta(days=1)
    close(engine, date(2026, 5, 11))  # a rerun of a closed day waives nothing again
    with engine.connect() as conn:
        e = t.loan_events
        waived = dict(
            conn.execute(
                select(e.c.ref, e.c.amount).where(e.c.loan_id == "L1", e.c.kind == "waiver")
            ).all()
        )
        other = conn.execute(
            select(func.count()).where(e.c.loan_id == "L2", e.c.kind == "waiver")
        ).scalar_one()
    assert waived == {f"relief:L1:{april.n}": expected_april, f"relief:L1:{may.n}": may.interest}
    assert other == 0  # the borrower without a moratorium pays the schedule's interest
    reliefs = [p for k, p in evidence(engine, "B1") if k == "moratorium.interest_relief"]
    assert len(reliefs) == 2 and f'"relief":{expected_april}' in reliefs[0]
    assert_journal_consistent(engine)


def _pending(engine: Engine, borrower_id: str) -> tuple[list[str], list[str | None]]:
    """(statuses of the borrower's outbox rows, outcomes of their queue items)."""
    with engine.connect() as conn:
        statuses = conn.execute(
            select(outbox.c.status).where(outbox.c.borrower_id == borrower_id)
        ).scalars()
        outcomes = conn.execute(
            select(queue_items.c.outcome).where(queue_items.c.borrower_id == borrower_id)
        ).scalars()
        return sorted(statuses), sorted(outcomes, key=str)


@pytest.mark.parametrize("pack", ["uk-conc", "us-reg-f"])
def test_what_the_close_planned_is_cancelled_when_the_pause_is_recorded(
    engine: Engine, tmp_path: Path, pack: str
) -> None:
    """The close queued today's texts and calls at dawn; Breathing Space (uk) or a written
    dispute (us) is recorded at told. None of B1's may go out; B2's are untouched."""
    book(engine, tmp_path, pack)
    close(engine, FIRST)
    messages, calls = _pending(engine, "B1")
    assert messages and set(messages) == {"queued"} and calls and set(calls) == {None}
    told = datetime.combine(FIRST, time(17), UTC)  # 17:00 in London, 13:00 in New York
    with engine.begin() as conn:
        if pack == "uk-conc":
            got, problems = moratoria.start_moratorium(
                conn, ref="BS-1", borrower_id="B1", kind="breathing-space", starts_on=START,
                now=told,
            )  # fmt: skip
        else:
            got, problems = debt_disputes.open_debt_dispute(
                conn, ref="LTR-1", loan_id="L1", kind="dispute", received_on=FIRST, now=told
            )
    assert got is not None, problems
    after_messages, after_calls = _pending(engine, "B1")
    assert set(after_messages) == {"cancelled"} and len(after_messages) == len(messages)
    assert set(after_calls) == {"cancelled"} and len(after_calls) == len(calls)
    cancelled = [p for k, p in evidence(engine, "B1") if k == "contact.cancelled"]
    assert len(cancelled) == len(messages) + len(calls)
    assert all(("BS-1" if pack == "uk-conc" else "LTR-1") in p for p in cancelled)
    other_messages, other_calls = _pending(engine, "B2")
    assert set(other_messages) == {"queued"} and set(other_calls) == {None}
    # The dispatcher and the agents find nothing of B1's to send or dial.
    report = dispatch(engine, {"sms": MailboxAdapter(engine)}, told, limit=1000)
    assert report.sent == len(other_messages)
    with engine.begin() as conn:
        item = next_item(conn, "agent-1", told)
    assert item is None or item.borrower_id == "B2"
