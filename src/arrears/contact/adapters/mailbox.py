"""The default adapter: a visible local mailbox table.

For demo and local use this *is* the destination: the message is stored where
``arrears outbox`` and the web app can show it, keyed by message key so that a re-sent message
lands once. It does not pretend that an SMS or email went anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from arrears.contact.adapters.base import Delivery
from arrears.contact.messages import OutboundMessage
from arrears.store.outbox_tables import insert_new, mailbox


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MailboxAdapter:
    """Stores each message in ``mailbox`` in its own transaction; provider id ``mailbox:<id>``."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def name(self) -> str:
        return "outbox"

    def send(self, message: OutboundMessage) -> Delivery:
        row = {
            "message_key": message.key,
            "borrower_id": message.borrower_id,
            "channel": message.channel,
            "recipient": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "received_at": self._clock().astimezone(UTC),
        }
        try:
            with self._engine.begin() as conn:
                # A key already there is a duplicate (a re-send after a crash): dropped, and
                # answered with the id the first copy got.
                insert_new(conn, mailbox, [row])
                mailbox_id = conn.execute(
                    select(mailbox.c.mailbox_id).where(mailbox.c.message_key == message.key)
                ).scalar_one()
        except SQLAlchemyError as exc:
            return Delivery.failed(f"mailbox: {str(getattr(exc, 'orig', None) or exc)[:300]}")
        return Delivery.ok(f"mailbox:{mailbox_id}")
