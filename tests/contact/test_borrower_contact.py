"""The borrower reaching the lender (the seed's first advice): a message or a callback request
is kept, logged, makes the debtor reachable (emergency contacts off limits again) and a
callback is the first call an agent gets; bad requests change nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.compliance import Contact, check
from arrears.core.compliance.packs import get_pack
from arrears.services import evidence as log
from arrears.services.collection.borrower_contact import CALLBACK_PRIORITY, reach_lender
from arrears.services.collection.case_frames import case_views
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.gate_context import context_for
from arrears.services.collection.history import history_for
from arrears.services.collection.queue import enqueue_calls, next_item
from arrears.store.case_tables import borrower_contacts, queue_items
from factories import counts, refused, succeeded

from .test_cases_support import CLOSE_AT, call_action, overdue_loans, sh

CN = get_pack("cn")
assert CN is not None
EC = Contact(
    at=sh("2024-03-20 10:00"),
    debt_id="L1",
    channel="call",
    party="emergency_contact",
    number="13900000001",
    content="请转告张三尽快给我们回电",
)


def _setup(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"], emergency={"B-L1": ["13900000001"]})
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), CLOSE_AT)


def test_a_message_makes_the_debtor_reached_and_emergency_contacts_off_limits(
    engine: Engine, tmp_path: Path
) -> None:
    _setup(engine, tmp_path)
    # Case opened 03-01, nobody spoke with the debtor: unreachable by 03-20, so the gate lets
    # an emergency contact be called.
    with engine.connect() as conn:
        before = context_for(conn, ["B-L1"], EC.at)["B-L1"]
        hist = history_for(conn, ["B-L1"])["B-L1"]
    assert before.reachable is False and check(hist, EC, before, CN).allowed
    with engine.begin() as conn:
        done = succeeded(
            reach_lender(
                conn,
                key="app-msg-1",
                borrower_id="B-L1",
                at=sh("2024-03-19 21:30"),
                text="我这个月失业了，想和你们商量分期还款",
            )
        )
    assert (done.kind, done.loan_id, done.queue_key, done.already_recorded) == (
        "message",
        "L1",
        None,
        False,
    )
    with engine.connect() as conn:
        after = context_for(conn, ["B-L1"], EC.at)["B-L1"]
        views = {v["borrower_id"]: v for v in case_views(conn, date(2024, 3, 20))}
        chain = log.load_chain(conn, "B-L1")
        assert log.verify_db(conn) == []
    assert after.reachable is True
    blocked = check(hist, EC, after, CN)
    assert "cn.third-party.unreachable" in {v.rule for v in blocked.violations}
    # The policy's count starts again from the day the borrower wrote.
    assert views["B-L1"]["unreachable_days"] == 1 and views["B-L2"]["unreachable_days"] == 19
    (request,) = [r for r in chain if r.kind == "borrower.request"]
    assert request.payload["kind"] == "message" and "text" not in request.payload
    assert len(request.payload["text_sha256"]) == 64


def test_a_callback_is_the_first_call_an_agent_gets_at_the_chosen_time(
    engine: Engine, tmp_path: Path
) -> None:
    _setup(engine, tmp_path)
    with engine.begin() as conn:
        added, problems = enqueue_calls(conn, [call_action("L2")])
        assert (added, problems) == (1, [])
        done = succeeded(
            reach_lender(
                conn,
                key="app-cb-1",
                borrower_id="B-L1",
                at=sh("2024-03-01 09:00"),
                text="请下午三点后打给我",
                callback_at=sh("2024-03-01 15:00"),
            )
        )
    assert done.kind == "callback" and done.queue_key == "borrower/app-cb-1"
    with engine.begin() as conn:
        early = next_item(conn, "agent1", sh("2024-03-01 14:00"))
    assert early is not None and early.loan_id == "L2"  # not due yet: the policy's call first
    with engine.begin() as conn:
        conn.execute(queue_items.update().values(claimed_by=None, claimed_at=None))
        item = next_item(conn, "agent2", sh("2024-03-01 15:05"))
    assert item is not None and (item.borrower_id, item.step, item.priority) == (
        "B-L1",
        "callback",
        CALLBACK_PRIORITY,
    )
    assert item.script == "请下午三点后打给我"


def test_the_same_key_applies_once_and_another_request_under_it_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    _setup(engine, tmp_path)
    args = {"key": "k1", "borrower_id": "B-L1", "at": sh("2024-03-01 09:00"), "text": "你好"}
    with engine.begin() as conn:
        succeeded(reach_lender(conn, **args))  # type: ignore[arg-type]
    before = counts(engine)
    with engine.begin() as conn:
        again = succeeded(reach_lender(conn, **args))  # type: ignore[arg-type]
        other = refused(reach_lender(conn, **{**args, "text": "别的"}))  # type: ignore[arg-type]
    assert again.already_recorded and other.code == "conflict" and other.field == "key"
    assert counts(engine) == before


def test_bad_requests_are_refused_and_change_nothing(engine: Engine, tmp_path: Path) -> None:
    _setup(engine, tmp_path)
    before = counts(engine)
    at = sh("2024-03-01 09:00")
    cases = [
        ({"text": ""}, "text"),  # a message that says nothing
        ({"text": "x" * 2001}, "text"),
        ({"callback_at": sh("2024-03-01 08:00")}, "callback_at"),  # before it was asked
        ({"callback_at": sh("2024-03-20 10:00")}, "callback_at"),  # more than 14 days ahead
        ({"callback_at": sh("2024-03-01 22:30")}, "callback_at"),  # CN: no calls 22:00-08:00
        ({"callback_at": sh("2024-03-02 10:00").replace(tzinfo=None)}, "callback_at"),
        ({"at": at.replace(tzinfo=None), "text": "hi"}, "at"),
        ({"borrower_id": "NOPE", "text": "hi"}, "borrower_id"),
        ({"loan_id": "L2", "text": "hi"}, "loan_id"),  # another borrower's loan
        ({"key": " ", "text": "hi"}, "key"),
    ]
    for change, field in cases:
        args = {"key": "k", "borrower_id": "B-L1", "at": at, **change}
        with engine.begin() as conn:
            problem = refused(reach_lender(conn, **args))  # type: ignore[arg-type]
        assert problem.field == field, (change, problem)
    assert counts(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(borrower_contacts)).scalar() == 0


def test_borrower_contact_command(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _setup(engine, tmp_path)
    runner = CliRunner()
    args = ["borrower", "contact", "B-L1", "--key", "cli-1", "--db", db_url]
    when = ["--callback-at", "2024-03-01T15:00+08:00", "--at", "2024-03-01T09:00+08:00"]
    r = runner.invoke(app, [*args, *when, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["queue_key"] == "borrower/cli-1"
    r = runner.invoke(app, [*args[:3], "--key", "cli-2", "--db", db_url])
    assert r.exit_code == 2 and "a message must say something" in r.stderr
