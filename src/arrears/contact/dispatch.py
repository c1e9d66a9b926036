"""The dispatcher: claim due outbox rows, send each through its channel's adapter, mark it.

Delivery is at least once. Rows go in batches through three steps: (1) claim the batch
(commit), (2) ``adapter.send`` each row, outside any transaction, (3) mark each row sent, retry
or failed and append a CONTACT_ATTEMPT evidence record per delivered row, in one transaction
for the batch (commit). A crash after (2) and before (3) commits leaves the batch ``sending``
until its lease runs out; the next pass claims those rows again and sends them again with the
same keys, and the receiver drops the duplicates. A crash before (1) commits sends nothing.
No path loses a message.

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

from sqlalchemy import Connection, Engine

from arrears.contact import outbox
from arrears.contact.adapters.base import Adapter, Delivery
from arrears.contact.outbox import OutboxRow
from arrears.evidence import log
from arrears.evidence.chain import Entry, Kind


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    # How long a claim holds a batch. It must outlast sending the whole batch (batch size x the
    # slowest send: a webhook's worst case is 3 x 10 s timeouts + 1.5 s backoff, so 50 rows take
    # at most ~26 min), or rows still in flight would be claimed again and sent twice.
    lease: timedelta = timedelta(minutes=30)

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
    counts: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    while counts["claimed"] < limit:
        with engine.begin() as conn:
            want = min(batch, limit - counts["claimed"])
            rows = outbox.claim(conn, channels, now, want, rules.lease)
        if not rows:
            break
        counts["claimed"] += len(rows)
        results: list[tuple[OutboxRow, Delivery | None]] = []
        for row in rows:
            m = row.message
            expired = m.expires_at is not None and m.expires_at <= now
            results.append((row, None if expired else _send(adapters[m.channel], row)))
            if progress is not None:
                progress(1)
        # One transaction marks the whole batch and appends its evidence: a crash before it
        # commits re-sends at most this batch, with the same keys.
        with engine.begin() as conn:
            entries: list[Entry] = []
            for row, delivery in results:
                outcome = _mark(conn, row, delivery, now, rules)
                counts[outcome] += 1
                m = row.message
                if delivery is not None and not delivery.delivered and outcome != "lost_claims":
                    errors.append((m.key, delivery.error or "not delivered"))
                if outcome == "sent" and delivery is not None:
                    payload = evidence_payload(row, adapters[m.channel].name, delivery)
                    entries.append(Entry(m.borrower_id, Kind.CONTACT_ATTEMPT, payload, now))
                    by_channel[m.channel] += 1
            log.append_many(conn, entries)
    return DispatchReport(
        counts["claimed"],
        counts["sent"],
        counts["retrying"],
        counts["failed"],
        counts["expired"],
        counts["lost_claims"],
        dict(by_channel),
        tuple(errors),
    )


def _mark(
    conn: Connection, row: OutboxRow, delivery: Delivery | None, now: datetime, rules: RetryPolicy
) -> str:
    """Record one row's result; the DispatchReport counter it falls in."""
    if delivery is None:
        done, outcome = outbox.mark_failed(conn, row, "expired before it could be sent"), "expired"
    elif delivery.delivered:
        done, outcome = outbox.mark_sent(conn, row, delivery.provider_id, now), "sent"
    elif delivery.permanent or row.attempts >= rules.max_attempts:
        done, outcome = outbox.mark_failed(conn, row, delivery.error or "not delivered"), "failed"
    else:
        retry_at = now + rules.delay(row.attempts)
        error = delivery.error or "not delivered"
        done, outcome = outbox.mark_retry(conn, row, error, retry_at), "retrying"
    return outcome if done else "lost_claims"
