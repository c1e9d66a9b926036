"""``arrears outbox ...`` end to end on each backend: JSON shapes, adapters from flags and env,
bad input exits 2 with one ``error:`` line and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from arrears.services import outbox

from .test_adapters import SECRET as WEBHOOK_SECRET
from .test_adapters import WebhookReceiver, message, running_receiver

runner = CliRunner()
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
AT = "2026-03-02T10:00:00+08:00"  # NOW, as the operator would type it


UNSET: dict[str, str | None] = {
    name: None for name in ("ARREARS_SMTP_HOST", "ARREARS_WEBHOOK_URL", "ARREARS_OUTBOX_ADAPTERS")
}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def ok_json(*args: str, env: dict[str, str | None] | None = None) -> Any:
    res = run(*args, "--json", env=env)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def bad(res: Result, code: int, *needles: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for needle in needles:
        assert needle in line


@pytest.fixture
def gateway() -> Iterator[WebhookReceiver]:
    with running_receiver() as state:
        yield state


@pytest.fixture
def queued(engine: Engine) -> list[str]:
    batch = [
        message(key="m1"),
        message(key="m2", borrower_id="B2"),
        message(
            key="m3", channel="email", recipient="a@b.example", not_before=NOW + timedelta(hours=1)
        ),
    ]
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW - timedelta(hours=6))
    return [m.key for m in batch]


def test_list_and_show(db_url: str, queued: list[str]) -> None:
    listed = ok_json("outbox", "list", "--db", db_url)
    assert listed["counts"] == {"queued": 3, "sending": 0, "sent": 0, "failed": 0, "cancelled": 0}
    assert sorted(m["key"] for m in listed["messages"]) == queued
    assert "body" not in listed["messages"][0]
    only = ok_json("outbox", "list", "--borrower", "B2", "--db", db_url)
    assert [m["key"] for m in only["messages"]] == ["m2"]
    shown = ok_json("outbox", "show", "m1", "--db", db_url)
    assert shown["body"] == message().body and shown["status"] == "queued"
    assert shown["business_date"] == "2026-03-02" and shown["attempts"] == 0
    text = run("outbox", "show", "m1", "--db", db_url)
    assert text.exit_code == 0 and message().body in text.stdout
    table = run("outbox", "list", "--db", db_url)
    assert table.exit_code == 0 and "queued 3" in table.stdout


def test_dispatch_to_the_mailbox_by_default(db_url: str, queued: list[str]) -> None:
    report = ok_json("outbox", "dispatch", "--at", AT, "--db", db_url)
    assert report["sent"] == 2 and report["sent_by_channel"] == {"sms": 2}  # m3 not yet due
    assert report["adapters"] == {"sms": "outbox", "email": "outbox", "letter": "outbox"}
    boxed = ok_json("outbox", "mailbox", "--db", db_url)
    assert sorted(b["message_key"] for b in boxed) == ["m1", "m2"]
    later = ok_json("outbox", "dispatch", "--at", "2026-03-02T11:00:00+08:00", "--db", db_url)
    assert later["sent"] == 1 and later["sent_by_channel"] == {"email": 1}
    assert ok_json("outbox", "list", "--status", "sent", "--db", db_url)["counts"]["sent"] == 3
    text = run("outbox", "mailbox", "--borrower", "B2", "--db", db_url)
    assert text.exit_code == 0 and "#" in text.stdout and "m1" not in text.stdout


def test_dispatch_through_the_webhook_configured_by_env(
    db_url: str, queued: list[str], gateway: WebhookReceiver
) -> None:
    env: dict[str, str | None] = {
        "ARREARS_WEBHOOK_URL": gateway.url,
        "ARREARS_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "ARREARS_OUTBOX_ADAPTERS": "sms=webhook",
    }
    report = ok_json("outbox", "dispatch", "--at", AT, "--db", db_url, env=env)
    assert report["adapters"]["sms"] == "webhook" and report["sent"] == 2
    assert sorted(gateway.applied) == ["m1", "m2"]
    # A flag overrides the env: email to the mailbox explicitly.
    flag = ok_json(
        "outbox", "dispatch", "--adapter", "email=outbox", "--at", "2026-03-02T12:00:00+08:00",
        "--db", db_url, env=env,
    )  # fmt: skip
    assert flag["sent_by_channel"] == {"email": 1}


def test_bad_input_exits_2_and_changes_nothing(db_url: str, queued: list[str]) -> None:
    bad(run("outbox", "list", "--status", "lost", "--db", db_url), 2, "--status", "'lost'")
    bad(
        run("outbox", "dispatch", "--adapter", "sms=pigeon", "--db", db_url),
        2,
        "'sms=pigeon' is not CHANNEL=ADAPTER",
    )
    bad(
        run("outbox", "dispatch", "--adapter", "email=smtp", "--db", db_url, env=UNSET),
        2,
        "email=smtp",
        "ARREARS_SMTP_HOST is not set",
    )
    bad(
        run("outbox", "dispatch", "--adapter", "sms=webhook", "--db", db_url, env=UNSET),
        2,
        "ARREARS_WEBHOOK_URL is not set",
    )
    bad(
        run("outbox", "dispatch", "--db", db_url, env={**UNSET, "ARREARS_OUTBOX_ADAPTERS": "sms"}),
        2,
        "ARREARS_OUTBOX_ADAPTERS",
    )
    bad(run("outbox", "dispatch", "--at", "tomorrow", "--db", db_url), 2, "--at")
    bad(run("outbox", "dispatch", "--at", "2026-03-02T10:00", "--db", db_url), 2, "UTC offset")
    bad(run("outbox", "show", "nope", "--db", db_url), 1, "nope: no such message")
    bad(run("outbox", "retry", "m1", "--db", db_url), 1, "m1: no failed message")
    listed = ok_json("outbox", "list", "--db", db_url)
    assert listed["counts"] == {"queued": 3, "sending": 0, "sent": 0, "failed": 0, "cancelled": 0}


def test_every_command_has_help() -> None:
    for command in ("list", "show", "dispatch", "retry", "mailbox"):
        res = run("outbox", command, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout
