"""HTTP POST of a message as JSON to a gateway (an SMS provider, a dialer), signed.

The request, so that a receiver can check it came from us and apply it once:

* body: UTF-8 JSON of the message (``payload(message)``: sorted keys, no spaces);
* ``X-Arrears-Timestamp``: Unix seconds when this attempt was signed;
* ``X-Arrears-Signature``: ``v1=`` + hex HMAC-SHA256 with the shared secret over
  ``<timestamp> + "." + <raw body bytes>`` (``sign``; a receiver uses ``verify_signature``);
* ``Idempotency-Key``: the message key; the same message always carries the same key.

Retries within one ``send``: on a 5xx, 408, 429, a timeout or a connection error, up to
``max_attempts`` tries ``backoff * 2**n`` seconds apart, each signed afresh. Any other 4xx (and a
redirect, which is not followed) is a permanent failure: the request itself is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from arrears.adapters.base import Delivery
from arrears.core.contact.messages import OutboundMessage

SIGNATURE_HEADER = "X-Arrears-Signature"
TIMESTAMP_HEADER = "X-Arrears-Timestamp"
KEY_HEADER = "Idempotency-Key"
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str
    secret: str
    timeout: float = 10.0
    max_attempts: int = 3
    backoff: float = 0.5

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"webhook url must be http(s): {self.url!r}")
        if not self.secret:
            raise ValueError("webhook secret must not be empty")
        if self.max_attempts < 1:
            raise ValueError("webhook max_attempts must be at least 1")

    def __repr__(self) -> str:  # keep the secret out of logs and tracebacks
        return f"WebhookConfig(url={self.url!r}, max_attempts={self.max_attempts})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebhookConfig | str:
        """``ARREARS_WEBHOOK_URL`` and ``ARREARS_WEBHOOK_SECRET``; a reason string when unusable."""
        e = os.environ if env is None else env
        url, secret = e.get("ARREARS_WEBHOOK_URL", ""), e.get("ARREARS_WEBHOOK_SECRET", "")
        if not url:
            return "ARREARS_WEBHOOK_URL is not set"
        if not secret:
            return "ARREARS_WEBHOOK_SECRET is not set"
        try:
            return cls(url, secret)
        except ValueError as exc:
            return str(exc)


def payload(message: OutboundMessage) -> bytes:
    data: dict[str, Any] = {
        "key": message.key,
        "borrower_id": message.borrower_id,
        "loan_id": message.loan_id,
        "channel": message.channel,
        "party": message.party,
        "recipient": message.recipient,
        "template": message.template,
        "language": message.language,
        "subject": message.subject,
        "body": message.body,
        "policy": message.policy,
        "step": message.step,
        "business_date": message.business_date.isoformat(),
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, now: datetime, tolerance: int = 300
) -> bool:
    """True when ``signature`` is ours over ``body`` and ``timestamp`` is within ``tolerance``
    seconds of ``now`` (an old request replayed later is refused)."""
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a POST is not replayed elsewhere: the 3xx surfaces as an HTTPError


def _utc_now() -> datetime:
    return datetime.now(UTC)


class WebhookAdapter:
    def __init__(
        self,
        config: WebhookConfig,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._clock = clock
        self._sleep = sleep
        self._opener = urllib.request.build_opener(_NoRedirect)

    @property
    def name(self) -> str:
        return "webhook"

    def send(self, message: OutboundMessage) -> Delivery:
        c = self._config
        body = payload(message)
        error = "not attempted"
        for attempt in range(c.max_attempts):
            if attempt:
                self._sleep(c.backoff * 2 ** (attempt - 1))
            timestamp = str(int(self._clock().timestamp()))
            request = urllib.request.Request(
                c.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    TIMESTAMP_HEADER: timestamp,
                    SIGNATURE_HEADER: sign(c.secret, timestamp, body),
                    KEY_HEADER: message.key,
                },
            )
            try:
                with self._opener.open(request, timeout=c.timeout) as response:
                    return Delivery.ok(_provider_id(response.read(), response.status))
            except urllib.error.HTTPError as exc:
                error = f"webhook: HTTP {exc.code} {exc.reason}"
                if exc.code < 500 and exc.code not in RETRYABLE_4XX:
                    return Delivery.failed(error, permanent=True)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                error = f"webhook: {type(exc).__name__}: {reason}"
        return Delivery.failed(f"{error} (after {c.max_attempts} attempts)")


def _provider_id(raw: bytes, status: int) -> str:
    """The receiver's id for the message when it returns JSON ``{"id": ...}``, else the status."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("id"), str | int):
        return str(data["id"])[:200]
    return f"http-{status}"
