"""Channel adapters behind one Protocol: the local mailbox (default), SMTP and a signed webhook."""

from arrears.contact.adapters.base import Adapter, Delivery
from arrears.contact.adapters.mailbox import MailboxAdapter
from arrears.contact.adapters.smtp import SmtpAdapter, SmtpConfig
from arrears.contact.adapters.webhook import (
    WebhookAdapter,
    WebhookConfig,
    sign,
    verify_signature,
)

__all__ = [
    "Adapter",
    "Delivery",
    "MailboxAdapter",
    "SmtpAdapter",
    "SmtpConfig",
    "WebhookAdapter",
    "WebhookConfig",
    "sign",
    "verify_signature",
]
