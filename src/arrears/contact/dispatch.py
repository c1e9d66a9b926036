"""The dispatcher: claim due outbox rows, send each through its channel's adapter, mark it.

Delivery is at least once. Each row goes through three steps, each in its own transaction
except the send, which is outside any: (1) claim (commit), (2) ``adapter.send``, (3) mark sent,
retry or failed, and on delivery append a CONTACT_ATTEMPT evidence record (commit). A crash
after (2) and before (3) leaves the row ``sending`` until its lease runs out; the next pass
claims it again and sends it again with the same key, and the receiver drops the duplicate.
A crash before (1) commits sends nothing. No path loses a message.

Retry policy (``RetryPolicy``): a failed attempt that may pass later is retried after
``base * 2**(attempts-1)``, capped at ``cap``, until ``max_attempts``; a permanent failure (a
4xx, a refused address) or the last attempt marks the row ``failed``. A row past its
``expires_at`` is marked failed without being sent.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from arrears.contact import outbox
from arrears.contact.adapters.base import Adapter, Delivery
from arrears.contact.outbox import OutboxRow
from arrears.evidence import log
from arrears.evidence.chain import Kind


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    # How long a claim holds a row. Longer than any one send can take (the webhook's own
    # retries included), or a slow send would be claimed again while it is still going.
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 1, 2, 4, ... minutes, capped."""
        grown: timedelta = self.base * (2 ** max(attempts - 1, 0))
        return min(grown, self.cap)


@dataclass(frozen=True, slots=True)
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    expired: int = 0
    lost_claims: int = 0  # the lease ran out mid-send and another dispatcher took the row
    sent_by_channel: Mapping[str, int] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()  # (key, reason) for rows retried or failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "expired": self.expired,
            "lost_claims": self.lost_claims,
            "sent_by_channel": dict(self.sent_by_channel),
            "errors": [{"key": k, "error": e} for k, e in self.errors],
        }


def evidence_payload(row: OutboxRow, adapter: str, delivery: Delivery) -> dict[str, Any]:
    """What the evidence log keeps of a delivered message: enough to prove which words went to
    whom and when (hashes of body and recipient), not the words or the address themselves."""
    m = row.message
    return {
        "key": m.key,
        "loan_id": m.loan_id,
        "channel": m.channel,
        "party": m.party,
        "template": m.template,
        "language": m.language,
        "policy": m.policy,
        "step": m.step,
        "business_date": m.business_date.isoformat(),
        "adapter": adapter,
        "result": "delivered",
        "provider_id": delivery.provider_id,
        "attempt": row.attempts,
        "body_sha256": m.body_sha256,
        "recipient_sha256": hashlib.sha256(m.recipient.encode()).hexdigest(),
    }


def _send(adapter: Adapter, row: OutboxRow) -> Delivery:
    try:
        return adapter.send(row.message)
    except Exception as exc:  # an adapter bug must not stop the pass; it is retried like a 5xx
        return Delivery.failed(f"adapter {adapter.name} raised {type(exc).__name__}: {exc}")


def dispatch(
    engine: Engine,
    adapters: Mapping[str, Adapter],
    now: datetime,
    limit: int = 1000,
    *,
    batch: int = 50,
    policy: RetryPolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> DispatchReport:
    """One pass: send up to ``limit`` due messages on the channels in ``adapters``
    (channel -> adapter; rows of other channels are left queued). ``progress`` is called with
    the number of rows finished after each one."""
    rules = policy or RetryPolicy()
    channels = sorted(adapters)
    claimed = sent = retrying = failed = expired = lost = 0
    by_channel: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    while claimed < limit:
        with engine.begin() as conn:
            rows = outbox.claim(conn, channels, now, min(batch, limit - claimed), rules.lease)
        if not rows:
            break
        claimed += len(rows)
        for row in rows:
            m = row.message
            if m.expires_at is not None and m.expires_at <= now:
                with engine.begin() as conn:
                    done = outbox.mark_failed(conn, row, "expired before it could be sent")
                expired += done
                lost += not done
            else:
                adapter = adapters[m.channel]
                delivery = _send(adapter, row)
                with engine.begin() as conn:
                    if delivery.delivered:
                        done = outbox.mark_sent(conn, row, delivery.provider_id, now)
                        if done:
                            payload = evidence_payload(row, adapter.name, delivery)
                            log.append(conn, m.borrower_id, Kind.CONTACT_ATTEMPT, payload, now)
                            sent += 1
                            by_channel[m.channel] += 1
                    else:
                        error = delivery.error or "not delivered"
                        errors.append((m.key, error))
                        if delivery.permanent or row.attempts >= rules.max_attempts:
                            done = outbox.mark_failed(conn, row, error)
                            failed += done
                        else:
                            retry_at = now + rules.delay(row.attempts)
                            done = outbox.mark_retry(conn, row, error, retry_at)
                            retrying += done
                lost += not done
            if progress is not None:
                progress(1)
    return DispatchReport(
        claimed, sent, retrying, failed, expired, lost, dict(by_channel), tuple(errors)
    )
