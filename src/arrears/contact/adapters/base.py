"""The one shape every channel adapter has: ``send(message) -> Delivery``.

An adapter never raises for a delivery problem: it returns ``Delivery(delivered=False, ...)``
with the reason and whether trying again could help (``permanent``). The dispatcher owns
retries across passes; an adapter may retry within one ``send`` (the webhook does, on 5xx).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from arrears.contact.messages import OutboundMessage


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: bool
    provider_id: str | None = None
    error: str | None = None
    # True when retrying cannot help (a 4xx, a refused address): the dispatcher marks it failed.
    permanent: bool = False

    @classmethod
    def ok(cls, provider_id: str) -> Delivery:
        return cls(True, provider_id=provider_id)

    @classmethod
    def failed(cls, error: str, *, permanent: bool = False) -> Delivery:
        return cls(False, error=error, permanent=permanent)


class Adapter(Protocol):
    """A channel's way out. ``name`` is what the outbox CLI and the evidence record call it."""

    @property
    def name(self) -> str: ...

    def send(self, message: OutboundMessage) -> Delivery: ...
