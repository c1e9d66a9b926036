"""The one shape every channel adapter has: ``send(message) -> Delivery``; optionally
``send_many(messages) -> list[Delivery]`` (``BatchAdapter``) for a destination that takes a
batch at less than the cost of its messages one by one (the local mailbox: one transaction).

An adapter never raises for a delivery problem: it returns ``Delivery(delivered=False, ...)``
with the reason and whether trying again could help (``permanent``). The dispatcher owns
retries across passes; an adapter may retry within one ``send`` (the webhook does, on 5xx).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from arrears.core.contact.messages import OutboundMessage


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    provider_id: str | None = None
    error: str | None = None
    # True when retrying cannot help (a 4xx, a refused address): the dispatcher marks it failed.
    permanent: bool = False
    # True when the answer is the message's arrival, not only its acceptance: the local
    # mailbox holds it once it says so. A gateway's acceptance (SMTP 250, a webhook's 2xx)
    # is not: the provider's receipt says later whether it arrived.
    final: bool = False

    @classmethod
    def ok(cls, provider_id: str, *, final: bool = False) -> Delivery:
        return cls(True, provider_id=provider_id, final=final)

    @classmethod
    def failed(cls, error: str, *, permanent: bool = False) -> Delivery:
        return cls(False, error=error, permanent=permanent)


class Adapter(Protocol):
    """A channel's way out. ``name`` is what the outbox CLI and the evidence record call it."""

    @property
    def name(self) -> str: ...

    def send(self, message: OutboundMessage) -> Delivery: ...


@runtime_checkable
class BatchAdapter(Adapter, Protocol):
    """An adapter that also sends a batch at once. ``send_many`` answers one ``Delivery`` per
    message, in order, each what ``send`` of that message would have answered (a key sent
    before, or twice in the batch, is still one delivery with the first copy's id).

    ``batch_size``: how many rows the dispatcher claims per batch for this adapter. A claim's
    lease (``RetryPolicy.lease``) must outlast a batch of the slowest adapter in a pass, so a
    local destination can take many where a remote one keeps the dispatcher's default."""

    @property
    def batch_size(self) -> int: ...

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[Delivery]: ...
