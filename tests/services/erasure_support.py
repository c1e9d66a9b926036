"""Builders for the erasure tests (no tests here): a book run through the demo's closes, a
borrower made due by ending what they have under way, and the scan of every text column of
every table for a value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, String, func, insert, inspect, select, text, update

from arrears.cli.common import behaviour_model
from arrears.services.settings import default_settings
from arrears.services.simulation.demo import run_demo
from arrears.store import tables as t
from arrears.store.case_tables import borrower_contacts, cases, complaints, plans, visits
from arrears.store.credit_tables import credit_disputes
from arrears.store.hold_tables import moratoria
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles, emergency_contacts
from arrears.store.sealed import PREFIX, unseal

AT = datetime(2040, 6, 1, 2, 0, tzinfo=UTC)
ON = date(2040, 6, 1)  # more than five years after anything the demo does (or records now)


def demo_book(engine: Engine, loans: int = 120, days: int = 20) -> None:
    run_demo(engine, loans, days, default_settings(), behaviour_model(None))


@dataclass(frozen=True)
class Person:
    borrower_id: str
    values: tuple[str, ...]  # every personal value of theirs the database held


def _unique(conn: Connection, value: str) -> bool:
    """No other borrower's name, number or address holds ``value`` (a generated name may be
    another's, or part of one: the scan would find that borrower, not ours). The columns are
    sealed, so they are read whole (opened by their type) and searched here, not by LIKE."""
    b, p, e = t.borrowers.c, borrower_profiles.c, emergency_contacts.c
    held = [
        *conn.execute(select(b.name, b.phone)).all(),
        *conn.execute(select(p.address, p.email)).all(),
        *conn.execute(select(e.name, e.phone)).all(),
    ]
    return sum(1 for row in held for x in row if x and value in x) == 1


def richest_borrower(engine: Engine) -> Person:
    """The borrower with the most messages whose values are theirs alone."""
    with engine.connect() as conn:
        ranked = conn.execute(
            select(outbox.c.borrower_id, func.count().label("n"))
            .group_by(outbox.c.borrower_id)
            .order_by(func.count().desc(), outbox.c.borrower_id)
        ).all()
        for borrower_id, _ in ranked:
            who = person(conn, borrower_id)
            if all(_unique(conn, v) for v in who.values):
                return who
    raise AssertionError("no borrower with values of their own")


def person(conn: Connection, borrower_id: str) -> Person:
    b = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == borrower_id)).one()
    p = conn.execute(
        select(borrower_profiles).where(borrower_profiles.c.borrower_id == borrower_id)
    ).first()
    ec = conn.execute(
        select(emergency_contacts.c.name, emergency_contacts.c.phone).where(
            emergency_contacts.c.borrower_id == borrower_id
        )
    ).all()
    values = [b.name, b.phone]
    if p is not None:
        values += [v for v in (p.address, p.email) if v]
    values += [v for row in ec for v in row if v]
    return Person(borrower_id, tuple(dict.fromkeys(values)))


def scan(engine: Engine, values: tuple[str, ...]) -> dict[tuple[str, str, str], int]:
    """Where each value occurs in any text column of any table: (table, column, value) ->
    rows. Raw SQL over the live schema, so a table or column no code knows of is read too; a
    value stored sealed (``enc1:``) is opened with its column's key first, so an erased value
    cannot hide inside its ciphertext."""
    found: dict[tuple[str, str, str], int] = {}
    schema = inspect(engine)
    # Read the schema first: on SQLite a second connection inside the scan's would wait for
    # its write lock (every transaction there begins IMMEDIATE).
    columns = [
        (table, col["name"])
        for table in schema.get_table_names()
        for col in schema.get_columns(table)
        if isinstance(col["type"], String)
    ]
    assert len(columns) > 100  # every table's text columns, not a few
    opened = 0
    with engine.connect() as conn:
        for table, column in columns:
            for (stored,) in conn.execute(text(f'SELECT "{column}" FROM "{table}"')):
                if not isinstance(stored, str):
                    continue
                if stored.startswith(PREFIX):
                    stored = unseal(table, column, stored) or ""
                    opened += 1
                for v in values:
                    if v in stored:
                        key = (table, column, v)
                        found[key] = found.get(key, 0) + 1
    assert opened, "no sealed value was read: the scan would not see through encryption"
    return found


def end_all_under_way(conn: Connection, borrower_id: str) -> None:
    """Settle the borrower's loans and end what is open, as years of collection would."""
    loan_ids = select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower_id)
    conn.execute(
        update(t.loan_state).where(t.loan_state.c.loan_id.in_(loan_ids)).values(status="settled")
    )
    conn.execute(
        update(cases)
        .where(cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None))
        .values(closed_on=date(2025, 1, 1), close_reason="cured")
    )
    for table, status in ((complaints, "upheld"), (plans, "completed"), (visits, "reported")):
        conn.execute(update(table).where(table.c.borrower_id == borrower_id).values(status=status))


def free_texts(conn: Connection, who: Person) -> None:
    """Rows a person wrote, quoting the borrower's name, number and address."""
    name, phone = who.values[0], who.values[1]
    said = f"{name} ({phone}) says: write to {' / '.join(who.values[2:])}"
    loan = conn.execute(
        select(t.loans.c.loan_id).where(t.loans.c.borrower_id == who.borrower_id).limit(1)
    ).scalar_one()
    at = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    b = who.borrower_id
    conn.execute(
        insert(complaints).values(
            key=f"c-{b}", borrower_id=b, loan_id=loan, against="contact", text=said,
            received_at=at, due_on=date(2025, 3, 16), status="upheld", outcome=said,
        )
    )  # fmt: skip
    conn.execute(
        insert(visits).values(
            key=f"v-{b}", borrower_id=b, loan_id=loan, status="reported", requested_by="ag1",
            requested_at=at, reason=said, address=said, report=said,
        )
    )  # fmt: skip
    conn.execute(
        insert(plans).values(
            key=f"p-{b}", borrower_id=b, loan_id=loan, status="completed", reason="income",
            note=said, on_date=date(2025, 3, 1), months=3, first_due=date(2025, 4, 1),
            waive_penalty=0, total=100, monthly=34, requested_at=at, decision_note=said,
        )
    )  # fmt: skip
    conn.execute(
        insert(borrower_contacts).values(
            key=f"m-{b}", borrower_id=b, loan_id=loan, kind="message", text=said,
            received_at=at, on_date=date(2025, 3, 1),
        )
    )  # fmt: skip
    conn.execute(
        insert(moratoria).values(
            ref=f"BS-{b}", borrower_id=b, kind="breathing-space", starts_on=date(2025, 1, 1),
            ends_on=date(2025, 2, 1), started_at=at, ended_at=at, end_reason=said,
        )
    )  # fmt: skip
    conn.execute(
        insert(credit_disputes).values(
            key=f"cd-{b}", loan_id=loan, month="2025-01", reason=said, opened_at=at,
            deadline=date(2025, 3, 20), outcome="upheld", outcome_reason=said, resolved_at=at,
        )
    )  # fmt: skip
