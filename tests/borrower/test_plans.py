"""Installment plans end to end: request, decision, the re-aged ledger, contact paused, the
plan kept or broken and collection resumed, every step in the evidence log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.credit.history import credit_history
from arrears.core.ledger.journal import balances
from arrears.core.ledger.plan import plan_amounts
from arrears.core.ledger.replay import replay
from arrears.services import events
from arrears.services import evidence as log
from arrears.services.accounts import load_accounts, load_events, loan_balances
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.close.reference import close_through
from arrears.services.collection.plans import (
    accept_offer,
    cancel_plan,
    decide_plan,
    default_policy,
    list_plans,
    preview_plan,
    request_plan,
)
from arrears.services.credit import loan_facts
from arrears.services.policy_files import default_policy_set
from arrears.store import tables as t
from arrears.store.case_tables import cases, plans
from contact.test_cases_support import overdue_loans, sh
from factories import refused, succeeded

AT = sh("2024-03-01 20:00")  # the business day closed through 2024-03-01


def real_close(engine: Engine, day: date) -> None:
    config = CloseConfig(default_policy_set())
    close_business_day(engine, day, config, now=datetime.combine(day, time(0, 30), UTC))


def state(conn: Connection, loan_id: str = "L1") -> dict[str, int]:
    row = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan_id)).one()
    return dict(row._mapping)


def journal_is_true(conn: Connection, loan_id: str = "L1") -> None:
    """Every entry balances, and the journal's balances are the replay's."""
    je, p = t.journal_entries, t.postings
    unbalanced = conn.execute(
        select(je.c.key)
        .join(p, p.c.entry_id == je.c.entry_id)
        .where(je.c.loan_id == loan_id)
        .group_by(je.c.key)
        .having(func.sum(p.c.amount) != 0)
    ).all()
    assert unbalanced == []
    rec, acct = load_accounts(conn, [loan_id])[loan_id]
    replayed = succeeded(replay(rec.terms, rec.product, load_events(conn, loan_id), acct.as_of))
    assert loan_balances(conn, loan_id) == balances(replayed.entries)
    assert replayed.account.installments == acct.installments


def flag(conn: Connection, borrower_id: str = "B-L1") -> bool | None:
    return conn.execute(
        select(cases.c.plan_in_force).where(
            cases.c.borrower_id == borrower_id, cases.c.closed_on.is_(None)
        )
    ).scalar()


def kinds(conn: Connection, borrower_id: str = "B-L1") -> list[str]:
    return [r.kind for r in log.load_chain(conn, borrower_id)]


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    # 1,200.00 over 3 months from 2024-01-15: 400.00 + interest due 15 Feb, unpaid.
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    real_close(engine, date(2024, 3, 2))  # the real close opens the cases
    return engine


def test_a_plan_within_the_policy_is_approved_kept_then_broken(book: Engine) -> None:
    with book.connect() as conn:
        before = state(conn)
        assert before["dpd"] > 0 and flag(conn) is False
    # What the plan must repay, from the stored state (independent of the plan code): every
    # unpaid fen of principal, the overdue interest, the penalty.
    total = (
        before["outstanding_principal"] + before["overdue_interest"] + before["outstanding_penalty"]
    )
    with book.begin() as conn:
        plan = succeeded(
            request_plan(
                conn,
                key="p1",
                borrower_id="B-L1",
                loan_id="L1",
                at=AT + timedelta(days=1),
                reason="job_loss",
                months=6,
            )
        )
    assert (plan.status, plan.decided_by, plan.total) == ("active", "policy", total)
    assert plan.monthly == total // 6 and plan.first_due == date(2024, 4, 2)
    with book.connect() as conn:
        after = state(conn)
        assert after["dpd"] == 0 and after["overdue_principal"] == 0
        assert after["outstanding_principal"] == total and after["outstanding_penalty"] == 0
        journal_is_true(conn)
        assert flag(conn) is True
        assert kinds(conn)[-2:] == ["borrower.request", "plan.active"]
        dues = conn.execute(
            select(t.installments.c.due_date, t.installments.c.principal)
            .where(t.installments.c.loan_id == "L1", t.installments.c.n > 3)
            .order_by(t.installments.c.n)
        ).all()
    assert [d for d, _ in dues] == [date(2024, m, 2) for m in range(4, 10)]
    assert tuple(a for _, a in dues) == plan_amounts(total, 6)
    # Contact pauses: the next closes plan nothing for B-L1 but plan reminders (the re-aged
    # loan is current, so the case closes as cured: no case, no collection).
    with book.connect() as conn:
        seen = len(log.load_chain(conn, "B-L1"))
    for day in (date(2024, 3, 3), date(2024, 3, 4)):
        real_close(book, day)
    with book.connect() as conn:
        new = log.load_chain(conn, "B-L1")[seen:]
        planned = [r.payload for r in new if r.kind == "contact.planned"]
        assert all(p["purpose"] == "plan_reminder" for p in planned), planned
        assert flag(conn) in (None, True)
    # The first installment is paid on time; the plan holds.
    close_through(book, date(2024, 4, 2))
    succeeded(events.pay(book, "L1", plan.monthly, date(2024, 4, 2), "pay-plan-1"))
    real_close(book, date(2024, 4, 3))
    with book.connect() as conn:
        assert list_plans(conn, borrower_id="B-L1")[0].status == "active"
        assert state(conn)["dpd"] == 0
    # The second is missed: 5 days of grace after 2 May, broken on the 8th.
    close_through(book, date(2024, 5, 6))
    real_close(book, date(2024, 5, 7))
    with book.connect() as conn:
        assert list_plans(conn, borrower_id="B-L1")[0].status == "active"  # within grace
    real_close(book, date(2024, 5, 8))
    with book.connect() as conn:
        (ended,) = list_plans(conn, borrower_id="B-L1")
        assert (ended.status, ended.ended_on) == ("broken", date(2024, 5, 8))
        assert flag(conn) is False  # collection resumes
        assert state(conn)["dpd"] == 6  # the re-aged loan is overdue from the missed 2 May
        assert "plan.ended" in kinds(conn)
        journal_is_true(conn)
        # Credit reporting follows the plan: February overdue, March and April current on the
        # re-aged loan, May overdue again from the missed installment.
        facts = succeeded(loan_facts(conn, "L1"))
    history = credit_history(facts.terms, facts.product, facts.events, date(2024, 5, 31))
    by_month = {m.month: m.status for m in history.months}
    assert by_month == {
        "2024-01": "*",
        "2024-02": "1",
        "2024-03": "N",
        "2024-04": "N",
        "2024-05": "1",
    }


def test_a_long_plan_goes_to_a_supervisor_who_counters_and_the_borrower_accepts(
    book: Engine,
) -> None:
    with book.begin() as conn:
        plan = succeeded(
            request_plan(
                conn, key="p2", borrower_id="B-L1", loan_id="L1", at=AT, reason="illness", months=24
            )
        )
        assert plan.status == "pending" and "longer than the 12 months" in plan.decision_note
        assert state(conn)["dpd"] > 0 and flag(conn) is False  # nothing re-aged yet
        countered = succeeded(
            decide_plan(conn, plan.plan_id, decision="counter", by="sup1", at=AT, months=18)
        )
        assert (countered.status, countered.months) == ("countered", 18)
        assert (
            refused(accept_offer(conn, plan.plan_id, borrower_id="B-L2", at=AT)).code == "not_found"
        )
        active = succeeded(accept_offer(conn, plan.plan_id, borrower_id="B-L1", at=AT))
        assert active.status == "active" and state(conn)["dpd"] == 0
        journal_is_true(conn)
        assert kinds(conn)[-4:] == [
            "borrower.request",
            "plan.decided",
            "plan.decided",
            "plan.active",
        ]


def test_a_plan_is_reversible(book: Engine) -> None:
    with book.connect() as conn:
        before = state(conn)
    with book.begin() as conn:
        plan = succeeded(
            request_plan(
                conn, key="p3", borrower_id="B-L1", loan_id="L1", at=AT, reason="forgot", months=3
            )
        )
        done = succeeded(
            cancel_plan(
                conn, plan.plan_id, by="sup1", at=AT, on=before["as_of"], note="entered in error"
            )
        )
        assert done.status == "cancelled" and flag(conn) is False
        back = state(conn)
        for k in ("dpd", "overdue_principal", "overdue_interest", "outstanding_principal"):
            assert back[k] == before[k], k
        journal_is_true(conn)


def test_rejected_and_refused_plans(book: Engine) -> None:
    with book.begin() as conn:
        pending = succeeded(
            request_plan(
                conn, key="p4", borrower_id="B-L1", loan_id="L1", at=AT, reason="dispute", months=3
            )
        )
        assert pending.status == "pending"  # a dispute goes to a person
        # one open plan per loan
        assert (
            refused(
                request_plan(
                    conn,
                    key="p5",
                    borrower_id="B-L1",
                    loan_id="L1",
                    at=AT,
                    reason="other",
                    months=3,
                )
            ).code
            == "conflict"
        )
        done = succeeded(decide_plan(conn, pending.plan_id, decision="reject", by="sup1", at=AT))
        assert done.status == "rejected" and state(conn)["dpd"] > 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"months": 61}, "months"),  # beyond the 5 years of the Measures
        ({"months": None, "monthly": 1}, "monthly"),  # 1 fen a month: centuries
        ({"months": None}, "months"),  # neither months nor monthly
        ({"reason": "bored"}, "reason"),
        ({"loan_id": "L2"}, "loan_id"),  # another borrower's loan
        ({"loan_id": "NOPE"}, "loan_id"),
        ({"waive_penalty": 10**9}, "waive_penalty"),  # more than the penalty owed
        ({"waive_penalty": -1}, "waive_penalty"),
        ({"key": ""}, "key"),
        ({"at": datetime(2024, 3, 1, 12)}, "at"),
    ],
)
def test_bad_requests_change_nothing(book: Engine, changes: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "key": "bad",
        "borrower_id": "B-L1",
        "loan_id": "L1",
        "at": AT,
        "reason": "job_loss",
        "months": 6,
    } | changes
    with book.begin() as conn:
        before, chain = state(conn), len(log.load_chain(conn, "B-L1"))
        problem = refused(request_plan(conn, **args))  # type: ignore[arg-type]
        assert problem.field == field, problem
        assert state(conn) == before and len(log.load_chain(conn, "B-L1")) == chain
        assert conn.execute(select(func.count()).select_from(plans)).scalar_one() == 0


def test_preview_by_monthly_amount_matches_the_request(book: Engine) -> None:
    with book.connect() as conn:
        shown = succeeded(preview_plan(conn, "L1", monthly=30_000))
        owed = state(conn)
    total = owed["outstanding_principal"] + owed["overdue_interest"] + owed["outstanding_penalty"]
    assert shown.total == total and shown.months == -(-total // 30_000)
    assert shown.monthly <= 30_000 and shown.amounts[-1] >= shown.monthly
    assert default_policy().max_months == 60


def test_cli(book: Engine, db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["plan", "preview", "L1", "--months", "6", "--db", db_url, "--json"])
    assert shown.exit_code == 0, shown.output
    preview = json.loads(shown.output)
    assert len(preview["schedule"]) == 6
    doc = tmp_path / "layoff-letter.pdf"
    doc.write_bytes(b"%PDF letter")
    args = ["plan", "request", "L1", "--borrower", "B-L1", "--key", "cli-p", "--db", db_url]
    asked = runner.invoke(
        app, [*args, "--reason", "job_loss", "--months", "24", "--document", str(doc), "--json"]
    )
    assert asked.exit_code == 0, asked.output
    plan = json.loads(asked.output)
    assert plan["status"] == "pending"
    queue = runner.invoke(app, ["plan", "list", "--status", "pending", "--db", db_url])
    assert f"{plan['plan_id']}\tB-L1\tL1\tpending" in queue.output
    decided = runner.invoke(
        app,
        [
            "plan",
            "decide",
            str(plan["plan_id"]),
            "--decision",
            "approve",
            "--by",
            "sup1",
            "--db",
            db_url,
        ],
    )
    assert decided.exit_code == 0 and "active" in decided.output, decided.output
    bad = runner.invoke(
        app, [*args[:-2], "--db", db_url, "--key", "x", "--reason", "nope", "--months", "3"]
    )
    assert bad.exit_code == 2 and "reason" in bad.output
    with book.connect() as conn:
        record = [r for r in log.load_chain(conn, "B-L1") if r.kind == "borrower.request"][-1]
    assert record.payload["documents"] == [hashlib.sha256(b"%PDF letter").hexdigest()]


def test_a_plan_on_one_loan_does_not_pause_the_borrowers_other_arrears(
    engine: Engine, tmp_path: Path
) -> None:
    from factories import import_rows, loan_row

    import_rows(
        engine,
        tmp_path,
        [loan_row("L1"), loan_row("L9", borrower_id="B-L1", borrower_name="Borrower L1")],
    )
    close_through(engine, date(2024, 3, 1))
    real_close(engine, date(2024, 3, 2))
    with engine.begin() as conn:
        plan = succeeded(
            request_plan(
                conn, key="one", borrower_id="B-L1", loan_id="L1", at=AT, reason="other", months=6
            )
        )
        assert plan.status == "active"
        assert flag(conn) is False  # L9 is still overdue and collected
        both = succeeded(
            request_plan(
                conn, key="two", borrower_id="B-L1", loan_id="L9", at=AT, reason="other", months=6
            )
        )
        assert both.status == "active" and flag(conn) is True  # now every arrears is in a plan
