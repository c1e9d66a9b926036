"""Adapters against real servers: an SMTP server (aiosmtpd, with STARTTLS and AUTH) and an HTTP
receiver (http.server) that checks the signature with its own HMAC code, written from the
documented scheme in docs/channels.md, and drops duplicate keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from arrears.adapters import (
    SmtpAdapter,
    SmtpConfig,
    WebhookAdapter,
    WebhookConfig,
    sign,
    verify_signature,
)
from arrears.core.contact.messages import OutboundMessage

SECRET = "test-secret-not-for-production"


def message(key: str = "2026-03-02:L1:sms_overdue:debtor:abc", **over: Any) -> OutboundMessage:
    base: dict[str, Any] = {
        "key": key,
        "borrower_id": "B1",
        "loan_id": "L1",
        "channel": "sms",
        "party": "debtor",
        "recipient": "+8613800000000",
        "template": "sms_overdue",
        "language": "zh-CN",
        "subject": "【安心】逾期提醒",
        "body": "【安心】王**您好，您尾号9876的借款已逾期5天。回复TD退订",
        "policy": "champion",
        "step": "sms_overdue",
        "business_date": date(2026, 3, 2),
    }
    base.update(over)
    return OutboundMessage(**base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------------------------------------
# The webhook receiver


@dataclass
class WebhookReceiver:
    """A gateway that applies each key once. ``script`` holds what to answer the next requests:
    an HTTP status, or "slow" (apply, but answer only after the client gave up)."""

    secret: str = SECRET
    script: list[int | str] = field(default_factory=list)
    received: list[str] = field(default_factory=list)  # keys of every signed request
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: int = 0
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers: Any, body: bytes) -> tuple[int, bytes, float]:
        stamp = headers.get("X-Arrears-Timestamp", "")
        expected = (
            "v1="
            + hmac.new(
                self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= 300
        if not fresh or not hmac.compare_digest(expected, headers.get("X-Arrears-Signature", "")):
            with self.lock:
                self.rejected += 1
                self.statuses.append(401)
            return 401, b"bad signature", 0.0
        key = headers["Idempotency-Key"]
        with self.lock:
            action = self.script.pop(0) if self.script else 200
            if isinstance(action, int) and action != 200:
                self.statuses.append(action)
                return action, b"try again" if action >= 500 else b"no", 0.0
            self.received.append(key)
            data = json.loads(body)
            assert data["key"] == key
            self.applied.setdefault(key, data)  # a key seen before is dropped, not re-applied
            answer = json.dumps({"id": f"gw-{list(self.applied).index(key) + 1}"}).encode()
            self.statuses.append(200)
        return 200, answer, 0.6 if action == "slow" else 0.0


@contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server on a free local port, for as long as the block runs."""
    state = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, answer, delay = state.handle(self.headers, body)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client timed out and went away

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with running_receiver() as state:
        yield state


def webhook(url: str, secret: str = SECRET, **over: Any) -> WebhookAdapter:
    config = WebhookConfig(url, secret, **{"timeout": 10.0, "backoff": 0.01, **over})
    return WebhookAdapter(config)


def test_webhook_delivers_a_signed_request_the_receiver_can_verify(
    receiver: WebhookReceiver,
) -> None:
    m = message()
    delivery = webhook(receiver.url).send(m)
    assert delivery.delivered and delivery.provider_id == "gw-1" and delivery.error is None
    assert receiver.received == [m.key] and receiver.rejected == 0
    got = receiver.applied[m.key]
    assert got["body"] == m.body and got["recipient"] == m.recipient
    assert got["business_date"] == "2026-03-02" and got["channel"] == "sms"


def test_webhook_retries_5xx_with_the_same_key_and_the_receiver_applies_once(
    receiver: WebhookReceiver,
) -> None:
    receiver.script = [503, 502]
    delivery = webhook(receiver.url, max_attempts=3).send(message())
    assert delivery.delivered
    assert receiver.statuses == [503, 502, 200]
    assert len(receiver.applied) == 1


def test_webhook_gives_up_after_max_attempts_as_a_retryable_failure(
    receiver: WebhookReceiver,
) -> None:
    receiver.script = [503, 503, 503]
    delivery = webhook(receiver.url, max_attempts=3).send(message())
    assert not delivery.delivered and not delivery.permanent
    assert delivery.error is not None and "503" in delivery.error and "3 attempts" in delivery.error
    assert receiver.applied == {}


@pytest.mark.parametrize(
    ("status", "permanent", "requests"),
    [(400, True, 1), (404, True, 1), (429, False, 2), (408, False, 2)],
)
def test_webhook_4xx_is_permanent_except_408_and_429(
    receiver: WebhookReceiver, status: int, permanent: bool, requests: int
) -> None:
    receiver.script = [status, status]
    delivery = webhook(receiver.url, max_attempts=2).send(message())
    assert not delivery.delivered and delivery.permanent is permanent
    assert receiver.statuses == [status] * requests


def test_webhook_timeout_is_retried_and_the_duplicate_is_dropped(
    receiver: WebhookReceiver,
) -> None:
    # The gateway applies the first request but answers too late; the retry carries the same
    # key, so the gateway sees the key twice and applies it once.
    receiver.script = ["slow"]
    delivery = webhook(receiver.url, timeout=0.2, max_attempts=3).send(message())
    assert delivery.delivered
    for _ in range(200):  # wait (up to 10 s) for the slow handler; nothing about time is asserted
        if len(receiver.received) >= 2:
            break
        time.sleep(0.05)
    assert receiver.received == [message().key] * 2
    assert len(receiver.applied) == 1


def test_webhook_with_the_wrong_secret_is_refused_by_the_receiver(
    receiver: WebhookReceiver,
) -> None:
    delivery = webhook(receiver.url, secret="someone-else").send(message())
    assert not delivery.delivered and delivery.permanent and "401" in (delivery.error or "")
    assert receiver.rejected == 1 and receiver.applied == {}


def test_webhook_connection_refused_is_retryable() -> None:
    delivery = webhook(f"http://127.0.0.1:{free_port()}/hook", max_attempts=2).send(message())
    assert not delivery.delivered and not delivery.permanent
    assert "after 2 attempts" in (delivery.error or "")


def test_signature_scheme() -> None:
    body = b'{"key":"k"}'
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    stamp = str(int(now.timestamp()))
    expected = "v1=" + hmac.new(b"s3", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert sign("s3", stamp, body) == expected
    assert verify_signature("s3", stamp, body, expected, now)
    assert verify_signature("s3", stamp, body, expected, now + timedelta(seconds=300))
    assert not verify_signature("s3", stamp, body, expected, now + timedelta(seconds=301))
    assert not verify_signature("s3", stamp, body + b" ", expected, now)
    assert not verify_signature("s4", stamp, body, expected, now)
    assert not verify_signature("s3", "x" + stamp, body, expected, now)


def test_webhook_config_from_env() -> None:
    assert WebhookConfig.from_env({}) == "ARREARS_WEBHOOK_URL is not set"
    assert WebhookConfig.from_env({"ARREARS_WEBHOOK_URL": "http://h/x"}) == (
        "ARREARS_WEBHOOK_SECRET is not set"
    )
    bad = WebhookConfig.from_env({"ARREARS_WEBHOOK_URL": "ftp://h", "ARREARS_WEBHOOK_SECRET": "s"})
    assert isinstance(bad, str) and "http(s)" in bad
    good = WebhookConfig.from_env(
        {"ARREARS_WEBHOOK_URL": "https://h/x", "ARREARS_WEBHOOK_SECRET": "zz9"}
    )
    assert isinstance(good, WebhookConfig) and "zz9" not in repr(good)


# ---------------------------------------------------------------------------------------------
# The SMTP server


@dataclass
class Mailbox:
    messages: list[tuple[Envelope, Message]] = field(default_factory=list)
    refuse_rcpt: bool = False
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse_rcpt:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, message_from_bytes(envelope.content)))
        return "250 Message accepted"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"arrears", b"pw-1")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[tuple[Mailbox, int, str]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {made.stderr.decode()[:200]}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticate,
    )
    controller.start()
    yield box, controller.port, str(cert)
    controller.stop()


def email_message() -> OutboundMessage:
    return message(
        key="2026-03-02:L1:email_overdue:debtor:def",
        channel="email",
        recipient="wang@example.com",
        template="email_overdue",
        subject="【安心】逾期还款提醒（尾号9876）",
        body="王**您好：\n\n您的借款已逾期5天。\n如不希望再收到此类邮件，请回复“退订”。",
    )


def test_smtp_delivers_the_email_with_its_key(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    m = email_message()
    delivery = SmtpAdapter(SmtpConfig("127.0.0.1", port, "Anxin <notice@anxin.example>")).send(m)
    assert delivery.delivered, delivery.error
    [(envelope, mail)] = box.messages
    assert envelope.mail_from == "notice@anxin.example"
    assert envelope.rcpt_tos == ["wang@example.com"]
    assert mail["X-Arrears-Message-Key"] == m.key
    assert mail["Message-ID"] == delivery.provider_id
    assert str(mail["Subject"]) == m.subject or "=?utf-8?" in str(mail["Subject"])
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes) and "您的借款已逾期5天" in payload.decode("utf-8")


def test_smtp_over_starttls_with_login(tls_smtp_server: tuple[Mailbox, int, str]) -> None:
    box, port, cafile = tls_smtp_server
    config = SmtpConfig(
        "127.0.0.1", port, "notice@anxin.example", "arrears", "pw-1", starttls=True, cafile=cafile
    )
    delivery = SmtpAdapter(config).send(email_message())
    assert delivery.delivered, delivery.error
    assert len(box.messages) == 1
    wrong = SmtpConfig(
        "127.0.0.1", port, "notice@anxin.example", "arrears", "nope", starttls=True, cafile=cafile
    )
    refused = SmtpAdapter(wrong).send(email_message())
    assert not refused.delivered and refused.permanent and "535" in (refused.error or "")
    assert len(box.messages) == 1


def test_smtp_without_starttls_is_refused_by_a_server_that_requires_it(
    tls_smtp_server: tuple[Mailbox, int, str],
) -> None:
    box, port, _ = tls_smtp_server
    delivery = SmtpAdapter(SmtpConfig("127.0.0.1", port, "notice@anxin.example")).send(
        email_message()
    )
    assert not delivery.delivered and box.messages == []


def test_smtp_refused_recipient_is_permanent_and_4xx_is_retryable(
    smtp_server: tuple[Mailbox, int],
) -> None:
    box, port = smtp_server
    adapter = SmtpAdapter(SmtpConfig("127.0.0.1", port, "notice@anxin.example"))
    box.refuse_rcpt = True
    refused = adapter.send(email_message())
    assert not refused.delivered and refused.permanent and "550" in (refused.error or "")
    box.refuse_rcpt, box.data_reply = False, "451 4.3.0 try again later"
    later = adapter.send(email_message())
    assert not later.delivered and not later.permanent and "451" in (later.error or "")
    assert box.messages == []


def test_smtp_server_down_is_retryable_and_wrong_channel_is_permanent() -> None:
    adapter = SmtpAdapter(SmtpConfig("127.0.0.1", free_port(), "notice@anxin.example", timeout=2))
    down = adapter.send(email_message())
    assert not down.delivered and not down.permanent
    sms = adapter.send(message())
    assert not sms.delivered and sms.permanent and "not sms" in (sms.error or "")
    bad = adapter.send(message(channel="email", recipient="not-an-address"))
    assert not bad.delivered and bad.permanent


def test_smtp_config_from_env() -> None:
    assert SmtpConfig.from_env({}) == "ARREARS_SMTP_HOST is not set"
    env = {"ARREARS_SMTP_HOST": "mail", "ARREARS_SMTP_FROM": "a@b.example"}
    assert SmtpConfig.from_env({**env, "ARREARS_SMTP_PORT": "70000"}) == (
        "ARREARS_SMTP_PORT: '70000' is not a port number"
    )
    assert "together" in str(SmtpConfig.from_env({**env, "ARREARS_SMTP_USER": "u"}))
    config = SmtpConfig.from_env({**env, "ARREARS_SMTP_USER": "u", "ARREARS_SMTP_PASSWORD": "zz9"})
    assert isinstance(config, SmtpConfig) and config.port == 25 and "zz9" not in repr(config)
