"""The default adapter: a visible local mailbox table.

For demo and local use this *is* the destination: the message is stored where
``arrears outbox`` and the web app can show it, keyed by message key so that a re-sent message
lands once. It does not pretend that an SMS or email went anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError

from arrears.adapters.base import Delivery
from arrears.core.contact.messages import OutboundMessage
from arrears.store.outbox_tables import insert_new, mailbox

_KEYS_PER_IN_LIST = 5_000  # keys per IN list when reading the ids back


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MailboxAdapter:
    """Stores messages in ``mailbox``, a batch per transaction; provider id ``mailbox:<id>``."""

    # Rows per claimed batch: a batch of the mailbox is one local transaction (well under a
    # second for 1,000 rows), so the claim's 30-minute lease is never at risk, and the per-batch
    # costs (the claim, the marks, the evidence heads, a commit each) are spread over 20 times
    # more rows than the remote adapters' 50. A crash re-sends at most one batch, and the
    # mailbox drops those copies by key.
    batch_size = 1_000

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def name(self) -> str:
        return "outbox"

    def send(self, message: OutboundMessage) -> Delivery:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]:
        """One transaction for the batch: all stored, or none (each answered failed)."""
        if not messages:
            return []
        at = self._clock().astimezone(UTC)
        first: dict[str, dict[str, Any]] = {}
        for m in messages:
            first.setdefault(m.key, _row(m, at))
        rows = list(first.values())
        try:
            with self._engine.begin() as conn:
                # A key already there is a duplicate (a re-send after a crash), as is a key
                # twice in the batch: dropped, and answered with the id the first copy got.
                if conn.dialect.name == "postgresql":
                    # The driver's pipelined executemany: insert_new's COPY through a
                    # temporary table costs a table's creation per batch.
                    stmt = pg_insert(mailbox).on_conflict_do_nothing(index_elements=["message_key"])
                    conn.execute(stmt, rows)
                else:
                    insert_new(conn, mailbox, rows)
                keys = list(first)
                ids: dict[str, int] = {}
                for i in range(0, len(keys), _KEYS_PER_IN_LIST):
                    found = select(mailbox.c.message_key, mailbox.c.mailbox_id).where(
                        mailbox.c.message_key.in_(keys[i : i + _KEYS_PER_IN_LIST])
                    )
                    ids.update((k, int(n)) for k, n in conn.execute(found))
        except SQLAlchemyError as exc:
            failed = Delivery.failed(f"mailbox: {str(getattr(exc, 'orig', None) or exc)[:300]}")
            return [failed] * len(messages)
        # In the mailbox is where the message is going: delivered, not only accepted.
        return [Delivery.ok(f"mailbox:{ids[m.key]}", final=True) for m in messages]


def _row(message: OutboundMessage, at: datetime) -> dict[str, Any]:
    return {
        "message_key": message.key,
        "borrower_id": message.borrower_id,
        "channel": message.channel,
        "recipient": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "received_at": at,
    }
