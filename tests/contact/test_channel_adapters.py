"""Choosing the adapters, counting what is due and reading the mailbox: the services behind
``arrears outbox dispatch`` and ``arrears outbox mailbox``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from arrears.adapters import MailboxAdapter, SmtpAdapter, WebhookAdapter
from arrears.services import outbox
from arrears.services.channel_adapters import build_adapters, choose_adapters

from .test_outbox import NOW, messages

WEBHOOK_ENV = {"ARREARS_WEBHOOK_URL": "http://127.0.0.1:9/hook", "ARREARS_WEBHOOK_SECRET": "s" * 32}


def test_every_message_channel_defaults_to_the_mailbox() -> None:
    assert choose_adapters([], {}) == ({"sms": "outbox", "email": "outbox", "letter": "outbox"}, ())


def test_flags_win_over_the_environment() -> None:
    env = {"ARREARS_OUTBOX_ADAPTERS": "sms=webhook, email=smtp"}
    chosen, problems = choose_adapters(["sms=outbox"], env)
    assert problems == () and chosen == {"sms": "outbox", "email": "smtp", "letter": "outbox"}


def test_a_bad_spec_names_where_it_came_from() -> None:
    for specs, env, source in (
        (["sms"], {}, "--adapter"),
        (["fax=outbox"], {}, "--adapter"),
        (["sms=carrier-pigeon"], {}, "--adapter"),
        ([], {"ARREARS_OUTBOX_ADAPTERS": "sms=pager"}, "ARREARS_OUTBOX_ADAPTERS"),
    ):
        chosen, problems = choose_adapters(specs, env)
        assert chosen is None and [(p.record, p.code) for p in problems] == [(source, "invalid")]
        assert "is not CHANNEL=ADAPTER" in problems[0].reason


def test_adapters_are_shared_by_name_and_a_missing_setting_names_the_channel(
    engine: Engine,
) -> None:
    built, problems = build_adapters(
        engine, {"sms": "webhook", "email": "outbox", "letter": "outbox"}, WEBHOOK_ENV
    )
    assert problems == () and built is not None
    assert isinstance(built["sms"], WebhookAdapter) and isinstance(built["email"], MailboxAdapter)
    assert built["email"] is built["letter"]
    smtp_env = {"ARREARS_SMTP_HOST": "127.0.0.1", "ARREARS_SMTP_FROM": "c@lender.example"}
    built, _ = build_adapters(engine, {"email": "smtp"}, smtp_env)
    assert built is not None and isinstance(built["email"], SmtpAdapter)
    built, problems = build_adapters(engine, {"email": "smtp"}, {})
    assert built is None
    assert [str(p) for p in problems] == ["--adapter email=smtp: ARREARS_SMTP_HOST is not set"]


def test_count_due_counts_only_queued_messages_due_on_the_channels(engine: Engine) -> None:
    with engine.begin() as conn:
        outbox.enqueue(conn, messages(3, "sms", "s") + messages(2, "email", "e"), NOW)
    with engine.connect() as conn:
        assert outbox.count_due(conn, ["sms"], NOW) == 3
        assert outbox.count_due(conn, ["sms", "email"], NOW) == 5
        assert outbox.count_due(conn, ["letter"], NOW) == 0
        assert outbox.count_due(conn, ["sms", "email"], NOW - timedelta(seconds=1)) == 0


def test_the_mailbox_reads_newest_first_for_one_borrower(engine: Engine) -> None:
    sent = messages(8, "sms", "m")
    adapter = MailboxAdapter(engine)
    for m in sent:
        adapter.send(m)
    with engine.connect() as conn:
        every = outbox.mailbox_entries(conn, None, 50)
        mine = outbox.mailbox_entries(conn, "B1", 50)
        two = outbox.mailbox_entries(conn, None, 2)
    assert [e.message_key for e in every] == [m.key for m in reversed(sent)]
    assert [e.message_key for e in mine] == [m.key for m in reversed(sent) if m.borrower_id == "B1"]
    assert [e.message_key for e in two] == [sent[-1].key, sent[-2].key]
    assert every[0].body == sent[-1].body and every[0].received_at.utcoffset() == timedelta(0)
