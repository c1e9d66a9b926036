"""The collection floor's commands end to end: queue, outcome (with a recording file), promise,
case, visit and collector, with their JSON shapes, exit codes and nothing-changes-on-error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from arrears.services import evidence as log
from arrears.services.collection.queue import enqueue_calls
from arrears.store.case_tables import contact_attempts, promises

from .test_cases_support import call_action, overdue_loans

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_queue_outcome_promise_case(db_url: str, engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        enqueue_calls(conn, [call_action("L1", priority=1), call_action("L2", priority=2)])
    assert ok_json("case", "sync", "--date", "2024-03-01", "--db", db_url) == {
        "opened": 2,
        "reprioritised": 0,
        "closed": 0,
    }
    listed = ok_json("queue", "list", "--db", db_url)
    assert [i["loan_id"] for i in listed] == ["L2", "L1"]
    got = ok_json(
        "queue", "next", "--agent", "alice", "--at", "2024-03-01T10:00:00+08:00", "--db", db_url
    )
    assert got["loan_id"] == "L2" and got["claimed_by"] == "alice"
    recording = tmp_path / "call.wav"
    recording.write_bytes(b"RIFF fake audio bytes")
    expected_sha = hashlib.sha256(b"RIFF fake audio bytes").hexdigest()
    args = (
        "outcome",
        "record",
        "--item",
        str(got["item_id"]),
        "--outcome",
        "promise_to_pay",
        "--agent",
        "alice",
        "--at",
        "2024-03-01T10:05:00+08:00",
        "--promise-date",
        "2024-03-08",
        "--promise-amount",
        "300.50",
        "--recording",
        str(recording),
        "--db",
        db_url,
    )
    first = ok_json(*args)
    assert first["recording_sha256"] == expected_sha and first["already_recorded"] is False
    assert ok_json(*args)["already_recorded"] is True
    # Bad input: a different outcome for the same item is refused and changes nothing.
    res = run(
        "outcome", "record", "--item", str(got["item_id"]), "--outcome", "busy", "--db", db_url
    )
    assert res.exit_code == 2 and "outcome: already recorded as promise_to_pay" in res.stderr
    res = run("outcome", "record", "--item", "999", "--outcome", "busy", "--db", db_url)
    assert res.exit_code == 1 and "queue item 999: item_id: no such queue item" in res.stderr
    res = run(
        "outcome",
        "record",
        "--item",
        "2",
        "--outcome",
        "promise_to_pay",
        "--promise-date",
        "2024-03-08",
        "--promise-amount",
        "1.234",
        "--db",
        db_url,
    )
    assert res.exit_code == 2 and "promise_amount" in res.stderr
    res = run(
        "outcome",
        "record",
        "--item",
        "2",
        "--outcome",
        "reached",
        "--recording",
        str(tmp_path / "missing.wav"),
        "--db",
        db_url,
    )
    assert res.exit_code == 2 and "no such file" in res.stderr
    res = run(
        "outcome",
        "record",
        "--item",
        "2",
        "--outcome",
        "reached",
        "--at",
        "2024-03-01T10:05:00",
        "--db",
        db_url,
    )
    assert res.exit_code == 2 and "no offset" in res.stderr
    assert _count(engine, contact_attempts) == 1 and _count(engine, promises) == 1
    plist = ok_json("promise", "list", "--db", db_url)
    assert [(p["loan_id"], p["amount"], p["due_on"], p["status"]) for p in plist] == [
        ("L2", "300.50", "2024-03-08", "open")
    ]
    assert ok_json("promise", "check", "--date", "2024-03-08", "--db", db_url) == {
        "due": 1,
        "kept": 0,
        "partly_kept": 0,
        "broken": 1,
    }
    shown = ok_json("case", "show", "B-L2", "--db", db_url)
    assert [c["outcome"] for c in shown["contacts"]] == ["promise_to_pay"]
    assert shown["promises"][0]["status"] == "broken"
    cases = ok_json("case", "list", "--date", "2024-03-09", "--db", db_url)
    assert {c["borrower_id"]: c["promise_broken_on"] for c in cases} == {
        "B-L1": None,
        "B-L2": "2024-03-08",
    }
    res = run("case", "show", "NOBODY", "--db", db_url)
    assert res.exit_code == 1
    with engine.connect() as conn:
        assert log.verify_db(conn) == []


def test_collectors_and_a_visit(db_url: str, engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    for cid, cred in (("c1", "C-1"), ("c2", "C-2")):
        ok_json(
            "collector",
            "add",
            cid,
            "--name",
            f"Collector {cid}",
            "--credential",
            cred,
            "--db",
            db_url,
        )
        ok_json("collector", "train", cid, "--on", "2024-01-05", "--course", "合规", "--db", db_url)
    again = ok_json(
        "collector", "add", "c1", "--name", "Collector c1", "--credential", "C-1", "--db", db_url
    )
    assert again == {"collector_id": "c1", "added": False}
    res = run("collector", "add", "c3", "--name", "X", "--credential", "C-1", "--db", db_url)
    assert res.exit_code == 2 and "credential_no: already belongs to c1" in res.stderr
    res = run("collector", "train", "c9", "--on", "2024-01-05", "--course", "x", "--db", db_url)
    assert res.exit_code == 1
    listed = ok_json("collector", "list", "--db", db_url)
    assert [(c["collector_id"], c["last_trained_on"]) for c in listed] == [
        ("c1", "2024-01-05"),
        ("c2", "2024-01-05"),
    ]
    v = ok_json(
        "visit",
        "request",
        "--loan",
        "L1",
        "--key",
        "v1",
        "--by",
        "agent",
        "--at",
        "2024-03-02T09:00:00+08:00",
        "--db",
        db_url,
    )
    vid = str(v["visit_id"])
    res = run(
        "visit",
        "assign",
        vid,
        "--collector",
        "c1",
        "--collector",
        "c2",
        "--start",
        "2024-03-20T10:00:00+08:00",
        "--end",
        "2024-03-20T11:00:00+08:00",
        "--db",
        db_url,
    )
    assert (
        res.exit_code == 2 and "status" in res.stderr
    )  # not approved yet: a conflict, like every state refusal
    ok_json(
        "visit", "approve", vid, "--by", "boss", "--at", "2024-03-03T09:00:00+08:00", "--db", db_url
    )
    res = run(
        "visit",
        "assign",
        vid,
        "--collector",
        "c1",
        "--start",
        "2024-03-20T10:00:00+08:00",
        "--end",
        "2024-03-20T11:00:00+08:00",
        "--at",
        "2024-03-04T09:00:00+08:00",
        "--db",
        db_url,
    )
    assert res.exit_code == 2 and "cn.visit.collectors" in res.stderr
    assigned = ok_json(
        "visit",
        "assign",
        vid,
        "--collector",
        "c1",
        "--collector",
        "c2",
        "--start",
        "2024-03-20T10:00:00+08:00",
        "--end",
        "2024-03-20T11:00:00+08:00",
        "--at",
        "2024-03-04T09:00:00+08:00",
        "--db",
        db_url,
    )
    assert assigned["status"] == "assigned" and assigned["collectors"] == ["c1", "c2"]
    ok_json("visit", "notice", vid, "--sent-at", "2024-03-05T09:00:00+08:00", "--db", db_url)
    done = ok_json(
        "visit",
        "report",
        vid,
        "--outcome",
        "not_home",
        "--report",
        "无人应门",
        "--at",
        "2024-03-20T10:30:00+08:00",
        "--db",
        db_url,
    )
    assert done["status"] == "reported" and done["outcome"] == "not_home"
    assert [x["status"] for x in ok_json("visit", "list", "--db", db_url)] == ["reported"]


def test_case_assign_and_search(db_url: str, engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    ok_json("case", "sync", "--date", "2024-03-01", "--db", db_url)
    assert ok_json("case", "assign", "B-L2", "--agent", "ann", "--db", db_url) == {
        "borrower_id": "B-L2",
        "assigned_agent": "ann",
    }
    res = run("case", "assign", "NOBODY", "--agent", "ann", "--db", db_url)
    assert res.exit_code == 1 and "borrower_id" in res.output
    [found] = ok_json("case", "search", "L2", "--db", db_url)
    assert (found["borrower_id"], found["loans"], found["assigned_agent"]) == (
        "B-L2",
        ["L2"],
        "ann",
    )
    assert "*" in found["phone"]  # masked
