"""The dispatcher: claim due outbox rows, send each through its channel's adapter, mark it.

Delivery is at least once. Rows go in batches through three steps: (1) claim the batch
(commit), (2) send its rows outside any transaction: ``adapter.send_many`` with an adapter's
rows at once where it has one (the mailbox: one transaction of its own), else ``adapter.send``
each row, (3) mark the rows sent, retry or failed (one guarded UPDATE per kind of mark; a row
whose claim was lost is left alone and counted) and append one evidence record per row that
ended: ``contact.sent`` when the provider took it (and ``contact.delivered`` when its answer is
the arrival itself, as the mailbox's is), ``contact.failed`` (with the provider's answer) or
``contact.expired``, and a ``contact_attempts`` row per message sent (what the caps and the
audit count), in one transaction for the batch (commit). A crash after (2) and before (3)
commits leaves the batch ``sending`` until its lease runs out; the next pass claims those rows
again and sends them again with the same keys, and the receiver drops the duplicates. A crash
before (1) commits sends nothing. No path loses a message.

Retry policy (``RetryPolicy``): a failed attempt that may pass later is retried after
``base * 2**(attempts-1)``, capped at ``cap``, until ``max_attempts``; a permanent failure (a
4xx, a refused address) or the last attempt marks the row ``failed``. A row past its
``expires_at`` is marked failed without being sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from arrears.adapters.base import Adapter, BatchAdapter, Delivery
from arrears.core.compliance.model import Contact
from arrears.core.evidence.chain import Entry, Kind
from arrears.services import evidence as log
from arrears.services import outbox
from arrears.services.collection.history import Attempt, insert_attempts, new_attempts
from arrears.services.erasure import erased_among, erased_problem
from arrears.services.outbox import OutboxRow
from arrears.services.references import recipient_ref

# Rows per claimed batch for an adapter that names no ``batch_size`` (the webhook, SMTP): the
# lease below is sized for 50 of their slowest sends.
BATCH = 50


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    # How long a claim holds a batch. It must outlast sending the whole batch (batch size x the
    # slowest send: a webhook's worst case is 3 x 10 s timeouts + 1.5 s backoff, so 50 rows take
    # at most ~26 min), or rows still in flight would be claimed again and sent twice. A batch
    # is as large as the smallest ``batch_size`` of the pass's adapters (``batch_size``): the
    # mailbox's 1,000 rows take about a second, so it holds for them too.
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


def evidence_payload(
    row: OutboxRow, adapter: str, delivery: Delivery | None, result: str = "delivered"
) -> dict[str, Any]:
    """What the evidence log keeps of a message's end: enough to prove which words went (or
    failed to go) to whom and when (hashes of body and recipient), not the words or the address
    themselves. ``result``: sent, delivered, failed (with the provider's answer) or expired."""
    m = row.message
    answer: dict[str, Any] = {}
    if delivery is None:
        answer["reason"] = "expired before it could be sent"
    elif delivery.delivered:
        answer["provider_id"] = delivery.provider_id
    else:
        answer["error"] = delivery.error or "not delivered"
        answer["permanent"] = delivery.permanent
    return answer | {
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
        "result": result,
        "attempt": row.attempts,
        "body_sha256": m.body_sha256,
        "recipient_ref": recipient_ref(m.recipient),
    }


def _attempt(row: OutboxRow, now: datetime) -> Attempt:
    """The contact a message made, as the gate's history and the audit read it: sent now."""
    m = row.message
    contact = Contact(
        at=now,
        debt_id=m.loan_id,
        channel=m.channel,
        party=m.party,
        number=m.recipient,
        content=m.body,
    )
    return Attempt(m.key, m.borrower_id, contact, m.business_date, m.policy, m.step)


def _send(adapter: Adapter, row: OutboxRow) -> Delivery:
    try:
        return adapter.send(row.message)
    except Exception as exc:  # an adapter bug must not stop the pass; it is retried like a 5xx
        return Delivery.failed(f"adapter {adapter.name} raised {type(exc).__name__}: {exc}")


def _send_all(adapter: BatchAdapter, rows: Sequence[OutboxRow]) -> list[Delivery]:
    try:
        out = adapter.send_many([r.message for r in rows])
        if len(out) != len(rows):
            raise ValueError(f"{len(out)} deliveries for {len(rows)} messages")
    except Exception as exc:  # as in _send: the batch is retried, the pass goes on
        failed = Delivery.failed(f"adapter {adapter.name} raised {type(exc).__name__}: {exc}")
        return [failed] * len(rows)
    return out


def batch_size(adapters: Iterable[Adapter]) -> int:
    """Rows per claimed batch: the smallest any adapter of the pass asks for (``BATCH`` for
    one without ``batch_size``), since the lease must outlast a batch sent to the slowest."""
    return min(
        (a.batch_size if isinstance(a, BatchAdapter) else BATCH for a in adapters), default=BATCH
    )


def dispatch(
    engine: Engine,
    adapters: Mapping[str, Adapter],
    now: datetime,
    limit: int = 1000,
    *,
    batch: int | None = None,
    policy: RetryPolicy | None = None,
    progress: Callable[[int], None] | None = None,
) -> DispatchReport:
    """One pass: send up to ``limit`` due messages on the channels in ``adapters``
    (channel -> adapter; rows of other channels are left queued), ``batch`` rows per claim
    (default: ``batch_size(adapters)``). ``progress`` is called with the number of rows
    finished as they finish."""
    rules = policy or RetryPolicy()
    size = batch if batch is not None else batch_size(adapters.values())
    channels = sorted(adapters)
    counts: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    errors: list[tuple[str, str]] = []
    cursor = outbox.Cursor()
    while counts["claimed"] < limit:
        with engine.begin() as conn:
            want = min(size, limit - counts["claimed"])
            rows = outbox.claim(conn, channels, now, want, rules.lease, cursor)
            erased = erased_among(conn, (r.message.borrower_id for r in rows))
        if not rows:
            break
        counts["claimed"] += len(rows)
        results = _deliver(adapters, rows, now, progress, erased)
        # One transaction marks the whole batch and appends its evidence: a crash before it
        # commits re-sends at most this batch, with the same keys.
        with engine.begin() as conn:
            outcomes = _mark_all(conn, results, now, rules)
            entries: list[Entry] = []
            made: list[Attempt] = []
            for (row, delivery), outcome in zip(results, outcomes, strict=True):
                counts[outcome] += 1
                m = row.message
                if delivery is not None and not delivery.delivered and outcome != "lost_claims":
                    errors.append((m.key, delivery.error or "not delivered"))
                if outcome == "sent" and delivery is not None:
                    name = adapters[m.channel].name
                    payload = evidence_payload(row, name, delivery, "sent")
                    entries.append(Entry(m.borrower_id, Kind.CONTACT_SENT, payload, now))
                    if delivery.final:
                        payload = evidence_payload(row, name, delivery)
                        entries.append(Entry(m.borrower_id, Kind.CONTACT_DELIVERED, payload, now))
                    made.append(_attempt(row, now))
                    by_channel[m.channel] += 1
                elif outcome in _ENDS:  # the log says what became of every message
                    kind, result = _ENDS[outcome]
                    payload = evidence_payload(row, adapters[m.channel].name, delivery, result)
                    entries.append(Entry(m.borrower_id, kind, payload, now))
            log.append_many(conn, entries)
            # What the caps and the audit count: the contacts made. A row sent again after a
            # lost lease has the same key and is recorded once.
            insert_attempts(conn, [row for _, row in new_attempts(conn, made)])
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


# A message's end other than delivery, as the evidence log records it; a row retried later has
# not ended, and a lost claim is recorded by the dispatcher that won it.
_ENDS = {"failed": (Kind.CONTACT_FAILED, "failed"), "expired": (Kind.CONTACT_EXPIRED, "expired")}


def _deliver(
    adapters: Mapping[str, Adapter],
    rows: Sequence[OutboxRow],
    now: datetime,
    progress: Callable[[int], None] | None,
    erased: Mapping[str, date] | None = None,
) -> list[tuple[OutboxRow, Delivery | None]]:
    """Each row with its delivery (None: expired, not sent), in the batch's order. The rows of
    one adapter that takes batches go to it at once, whatever their channels; the others one by
    one. A row to a borrower in ``erased`` is not sent: it fails for good, saying why."""
    got: dict[str, Delivery | None] = {}
    groups: dict[int, tuple[Adapter, list[OutboxRow]]] = {}
    for row in rows:
        m = row.message
        gone = (erased or {}).get(m.borrower_id)
        if gone is not None:
            got[m.key] = Delivery.failed(str(erased_problem(m.borrower_id, gone)), permanent=True)
        elif m.expires_at is not None and m.expires_at <= now:
            got[m.key] = None
        else:
            adapter = adapters[m.channel]
            groups.setdefault(id(adapter), (adapter, []))[1].append(row)
    if progress is not None and got:
        progress(len(got))
    for adapter, group in groups.values():
        if isinstance(adapter, BatchAdapter):
            got.update(
                (r.message.key, d) for r, d in zip(group, _send_all(adapter, group), strict=True)
            )
            if progress is not None:
                progress(len(group))
            continue
        for row in group:
            got[row.message.key] = _send(adapter, row)
            if progress is not None:
                progress(1)
    return [(row, got[row.message.key]) for row in rows]


def _mark_all(
    conn: Connection,
    results: Sequence[tuple[OutboxRow, Delivery | None]],
    now: datetime,
    rules: RetryPolicy,
) -> list[str]:
    """Record a batch's results, one guarded UPDATE per kind of mark; for each row the
    DispatchReport counter it falls in (``lost_claims`` where the row's claim was lost)."""
    sent: list[tuple[OutboxRow, str | None]] = []
    retry: list[tuple[OutboxRow, str, datetime]] = []
    failed: list[tuple[OutboxRow, str]] = []
    outcomes: list[str] = []
    for row, delivery in results:
        if delivery is None:
            failed.append((row, "expired before it could be sent"))
            outcomes.append("expired")
        elif delivery.delivered:
            sent.append((row, delivery.provider_id))
            outcomes.append("sent")
        elif delivery.permanent or row.attempts >= rules.max_attempts:
            failed.append((row, delivery.error or "not delivered"))
            outcomes.append("failed")
        else:
            retry.append((row, delivery.error or "not delivered", now + rules.delay(row.attempts)))
            outcomes.append("retrying")
    done: set[str] = set()
    if sent:
        done |= outbox.mark_sent_many(conn, sent, now)
    if retry:
        done |= outbox.mark_retry_many(conn, retry)
    if failed:
        done |= outbox.mark_failed_many(conn, failed)
    return [
        outcome if row.message.key in done else "lost_claims"
        for (row, _), outcome in zip(results, outcomes, strict=True)
    ]
