"""Email through an SMTP server (smtplib), STARTTLS optional.

The message key travels as ``X-Arrears-Message-Key`` and, hashed, as the ``Message-ID``, so a
receiving system can drop a re-sent copy. Configuration comes from the environment
(``SmtpConfig.from_env``), never from the repository.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from arrears.adapters.base import Delivery
from arrears.core.contact.messages import OutboundMessage


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0
    cafile: str | None = None  # a private CA for the server's certificate; default: system CAs

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"SmtpConfig(host={self.host!r}, port={self.port}, sender={self.sender!r})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpConfig | str:
        """``ARREARS_SMTP_{HOST,PORT,USER,PASSWORD,FROM,STARTTLS,CAFILE}``, or why not usable."""
        e = os.environ if env is None else env
        host = e.get("ARREARS_SMTP_HOST", "")
        sender = e.get("ARREARS_SMTP_FROM", "")
        if not host:
            return "ARREARS_SMTP_HOST is not set"
        if not sender or "@" not in parseaddr(sender)[1]:
            return "ARREARS_SMTP_FROM is not set to an email address"
        port_text = e.get("ARREARS_SMTP_PORT", "25")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            return f"ARREARS_SMTP_PORT: {port_text!r} is not a port number"
        user = e.get("ARREARS_SMTP_USER") or None
        password = e.get("ARREARS_SMTP_PASSWORD") or None
        if (user is None) != (password is None):
            return "ARREARS_SMTP_USER and ARREARS_SMTP_PASSWORD must be set together"
        starttls = e.get("ARREARS_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes")
        cafile = e.get("ARREARS_SMTP_CAFILE") or None
        return cls(host, int(port_text), sender, user, password, starttls, cafile=cafile)


def message_id(key: str) -> str:
    # A Message-ID's left part may not contain the key's colons: use its hash.
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@arrears.invalid>"


def build_email(message: OutboundMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr(parseaddr(sender))
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = message_id(message.key)
    email["X-Arrears-Message-Key"] = message.key
    email.set_content(message.body)
    return email


class SmtpAdapter:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    @property
    def name(self) -> str:
        return "smtp"

    def send(self, message: OutboundMessage) -> Delivery:
        if message.channel != "email":
            return Delivery.failed(f"smtp carries email, not {message.channel}", permanent=True)
        if "@" not in parseaddr(message.recipient)[1]:
            return Delivery.failed(f"{message.recipient!r} is not an email address", permanent=True)
        c = self._config
        email = build_email(message, c.sender)
        try:
            with smtplib.SMTP(c.host, c.port, timeout=c.timeout) as smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=c.cafile))
                if c.user is not None and c.password is not None:
                    smtp.login(c.user, c.password)
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery.failed(
                f"smtp: recipient refused: {_codes(exc.recipients)}", permanent=True
            )
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            # 5xx is the server's final word; 4xx (greylisting, mailbox busy) may pass later.
            return Delivery.failed(f"smtp {exc.smtp_code}: {text}", permanent=exc.smtp_code >= 500)
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery.failed(f"smtp: {type(exc).__name__}: {exc}")
        if refused:
            return Delivery.failed(f"smtp: recipient refused: {_codes(refused)}", permanent=True)
        return Delivery.ok(email["Message-ID"])


def _codes(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{to}: {code} {text.decode(errors='replace')}" for to, (code, text) in refused.items()
    )
