"""An outbound message: what the close enqueues and what an adapter delivers.

``compose(action, facts, recipient)`` turns a gated ``PlannedAction`` into an
``OutboundMessage`` with its rendered words and its key. The key is what makes delivery
at-least-once safe: the outbox stores one row per key, every adapter hands the key to the
receiver (``Idempotency-Key`` header, ``Message-ID``, the mailbox's unique column), and the
receiver drops a key it has already applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from arrears.core.compliance.model import CHANNELS, PARTIES, Channel, Party
from arrears.core.contact.action import PlannedAction
from arrears.core.contact.templates import (
    LANGUAGES,
    THIRD_PARTY_TEMPLATES,
    MessageFacts,
    TemplateError,
    render,
)
from arrears.core.texts import TextSet

KEY_LENGTH = 200  # longest message key; the outbox and mailbox columns are sized from it


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to one recipient. Constructing a malformed one is a caller's bug (ValueError)."""

    key: str
    borrower_id: str
    loan_id: str
    channel: Channel
    party: Party
    recipient: str
    template: str
    language: str
    subject: str
    body: str
    policy: str
    step: str
    business_date: date
    # The gate approved the contact for this instant: the dispatcher sends no earlier (a close
    # that runs at night must not text at night). None: as soon as it is enqueued.
    not_before: datetime | None = None
    # The end of the window the gate approved: past it the message is not sent but marked
    # failed ("expired"), since a retry must not carry it into hours the gate did not approve.
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.key or len(self.key) > KEY_LENGTH:
            raise ValueError(f"message key must be 1..{KEY_LENGTH} characters: {self.key!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"message {self.key}: unknown channel {self.channel!r}")
        if self.party not in PARTIES:
            raise ValueError(f"message {self.key}: unknown party {self.party!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"message {self.key}: unknown language {self.language!r}")
        for name in ("borrower_id", "loan_id", "recipient", "template", "body"):
            if not getattr(self, name):
                raise ValueError(f"message {self.key}: {name} is empty")
        for name in ("not_before", "expires_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"message {self.key}: {name} must be timezone-aware")
        if self.not_before and self.expires_at and self.expires_at <= self.not_before:
            raise ValueError(f"message {self.key}: expires_at must be after not_before")

    @property
    def body_sha256(self) -> str:
        return hashlib.sha256(self.body.encode()).hexdigest()


def message_key(
    business_date: date, loan_id: str, step: str, party: Party, recipient_ref: str
) -> str:
    """A stable key: the same decision on the same day to the same person gives the same key.

    The recipient enters by a short part of its keyed reference (``core.people.references``),
    so keys, which travel to providers as idempotency keys and into logs, carry no phone
    number or address, nor a plain hash that could be reversed by trying every number.
    """
    return f"{business_date.isoformat()}:{loan_id}:{step}:{party}:{recipient_ref[:16]}"


def compose(
    action: PlannedAction,
    facts: MessageFacts,
    recipient: str,
    not_before: datetime | None = None,
    *,
    texts: TextSet,
    expires_at: datetime | None = None,
    key: str | None = None,
    recipient_ref: str | None = None,
) -> OutboundMessage:
    """Render ``action.template`` for ``recipient`` from ``texts`` (the message text set).

    Raises ``TemplateError`` as ``render`` does, and for a borrower's template addressed to a
    third party.

    ``not_before``/``expires_at``: the instants the gate approved (see ``OutboundMessage``).
    ``key``: the caller's idempotency key for this message (e.g. the engine's action key);
    default ``message_key(...)`` of ``recipient_ref``, the recipient's keyed reference (one of
    the two must be given). Whatever it is, it must be the same on every rerun.
    """
    if action.party != "debtor" and action.template not in THIRD_PARTY_TEMPLATES:
        # The gate would block the words too; this stops a misconfigured policy earlier.
        raise TemplateError(
            f"template {action.template!r} is for the borrower and may not go to the "
            f"{action.party}; third parties get only: {', '.join(sorted(THIRD_PARTY_TEMPLATES))}"
        )
    rendered = render(action.template, facts, texts)
    if key is None:
        if recipient_ref is None:
            raise ValueError("compose: give the message's key or the recipient's reference")
        key = message_key(
            action.business_date, action.loan_id, action.step, action.party, recipient_ref
        )
    return OutboundMessage(
        key=key,
        borrower_id=action.borrower_id,
        loan_id=action.loan_id,
        channel=action.channel,
        party=action.party,
        recipient=recipient,
        template=action.template,
        language=facts.language,
        subject=rendered.subject,
        body=rendered.body,
        policy=action.policy,
        step=action.step,
        business_date=action.business_date,
        not_before=not_before,
        expires_at=expires_at,
    )
