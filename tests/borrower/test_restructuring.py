"""Restructuring: new terms on the ledger, count and DPD before kept, special mention while
observed, bad input refused with nothing changed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.ledger.journal import balances
from arrears.core.ledger.replay import replay
from arrears.core.loans.product import Method
from arrears.core.loans.schedule import build_schedule
from arrears.core.money import Rate
from arrears.services import events
from arrears.services import evidence as log
from arrears.services.accounts import load_accounts, load_events, loan_balances
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.close.reference import close_through
from arrears.services.policy_files import default_policy_set
from arrears.services.restructuring import restructure
from arrears.store import tables as t
from arrears.store.case_tables import restructures
from contact.test_cases_support import overdue_loans, sh
from factories import refused, succeeded

AT = sh("2024-03-01 20:00")


def state(conn: Connection, loan_id: str = "L1") -> dict[str, object]:
    return dict(
        conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan_id)).one()._mapping
    )


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    overdue_loans(engine, tmp_path, ["L1", "L2"])  # 1,200.00 over 3 months, 15 days overdue
    return engine


def test_a_restructure_re_ages_the_loan_at_its_new_rate(book: Engine) -> None:
    with book.connect() as conn:
        before = state(conn)
    owed_interest, penalty = before["overdue_interest"], before["outstanding_penalty"]
    assert isinstance(owed_interest, int) and isinstance(penalty, int) and penalty > 0
    with book.begin() as conn:
        done = succeeded(
            restructure(
                conn,
                key="r1",
                loan_id="L1",
                approved_by="sup1",
                reason="illness",
                at=AT,
                months=12,
                rate="6%",
                waive_interest=owed_interest,  # all the overdue interest
                waive_penalty=penalty // 2,
                documents=[b"hospital letter"],
            )
        )
        assert (done.count, done.dpd_before, done.observe_until) == (
            1,
            before["dpd"],
            date(2025, 3, 1),
        )
        after = state(conn)
        # Principal 1,200.00 plus the half of the penalty not waived, over 12 months at 6% a
        # year: the schedule the loan product's own builder makes for those terms.
        total = 120_000 + penalty - penalty // 2
        dues = tuple(date(2024, 3 + k, 1) if k < 10 else date(2025, k - 9, 1) for k in range(1, 13))
        six = Rate.parse("6%", "annual")
        expected = build_schedule(total, six, Method.ANNUITY, date(2024, 3, 1), dues, 365, 4)
        rows = conn.execute(
            select(t.installments)
            .where(t.installments.c.loan_id == "L1", t.installments.c.n > 3)
            .order_by(t.installments.c.n)
        ).all()
        assert [(r.due_date, r.principal, r.interest) for r in rows] == [
            (i.due_date, i.principal, i.interest) for i in expected
        ]
        assert after["dpd"] == 0 and after["classification"] == "special_mention"
        rec, acct = load_accounts(conn, ["L1"])["L1"]
        replayed = succeeded(replay(rec.terms, rec.product, load_events(conn, "L1"), acct.as_of))
        assert loan_balances(conn, "L1") == balances(replayed.entries)
        record = log.load_chain(conn, "B-L1")[-1]
        assert record.kind == "loan.restructured" and record.payload["count"] == 1
        assert record.payload["documents"] == [hashlib.sha256(b"hospital letter").hexdigest()]
    # The close keeps it special mention while observed; the first installment falls due
    # with its interest on 1 April and is paid.
    close_through(book, date(2024, 4, 1))
    config = CloseConfig(default_policy_set())
    close_business_day(
        book, date(2024, 4, 2), config, now=datetime.combine(date(2024, 4, 2), time(0, 30), UTC)
    )
    with book.connect() as conn:
        assert state(conn)["classification"] == "special_mention"
    first = expected[0]
    # Paid on its due date (recorded a day later: the ledger re-ages, no penalty is owed).
    succeeded(events.pay(book, "L1", first.principal + first.interest, date(2024, 4, 1), "rp-1"))
    with book.connect() as conn:
        s = state(conn)
        assert s["dpd"] == 0 and s["classification"] == "special_mention"


def test_a_second_restructure_counts_and_payoff_drops_future_interest(book: Engine) -> None:
    with book.begin() as conn:
        succeeded(
            restructure(
                conn,
                key="r1",
                loan_id="L1",
                approved_by="s",
                reason="other",
                at=AT,
                months=6,
                rate="12%",
            )
        )
        again = succeeded(
            restructure(
                conn, key="r2", loan_id="L1", approved_by="s", reason="other", at=AT, months=12
            )
        )
        assert again.count == 2 and again.rate is None
        same = succeeded(
            restructure(
                conn, key="r2", loan_id="L1", approved_by="s", reason="other", at=AT, months=12
            )
        )
        assert same.already_recorded
        assert conn.execute(select(func.count()).select_from(restructures)).scalar_one() == 2
        owed = state(conn)["outstanding_principal"]
    assert isinstance(owed, int)
    # Paying every fen of principal settles it: nothing of the interest not yet due is charged.
    succeeded(events.pay(book, "L1", owed, date(2024, 3, 1), "payoff"))
    with book.connect() as conn:
        assert state(conn)["status"] == "settled"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"months": 0}, "months"),
        ({"months": 61}, "months"),
        ({"rate": "-1%"}, "rate"),
        ({"rate": "lots"}, "rate"),
        ({"reason": "bored"}, "reason"),
        ({"approved_by": " "}, "approved_by"),
        ({"loan_id": "NOPE"}, "loan_id"),
        ({"waive_interest": 10**9}, "waive_interest"),
        ({"waive_penalty": 10**9}, "waive_penalty"),
        ({"waive_penalty": -5}, "waive_penalty"),
        ({"at": datetime(2024, 3, 1, 12)}, "at"),
    ],
)
def test_bad_restructures_change_nothing(
    book: Engine, changes: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {
        "key": "bad",
        "loan_id": "L1",
        "approved_by": "sup1",
        "reason": "illness",
        "at": AT,
        "months": 12,
    } | changes
    with book.begin() as conn:
        before, chain = state(conn), len(log.load_chain(conn, "B-L1"))
        problem = refused(restructure(conn, **args))  # type: ignore[arg-type]
        assert problem.field == field, problem
        assert state(conn) == before and len(log.load_chain(conn, "B-L1")) == chain
        assert conn.execute(select(func.count()).select_from(restructures)).scalar_one() == 0


def test_cli(book: Engine, db_url: str) -> None:
    runner = CliRunner()
    args = ["loan", "restructure", "L1", "--key", "c1", "--by", "sup1", "--reason", "job_loss"]
    out = runner.invoke(app, [*args, "--months", "24", "--rate", "4.35%", "--db", db_url, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["rate"] == "4.35%" and data["count"] == 1
    listed = runner.invoke(app, ["loan", "restructures", "L1", "--db", db_url])
    assert "no. 1" in listed.output and "4.35%" in listed.output
    again = ["loan", "restructure", "L1", "--key", "c2", "--by", "s", "--reason", "job_loss"]
    bad = runner.invoke(app, [*again, "--months", "99", "--db", db_url])
    assert bad.exit_code == 2 and "months" in bad.output
