"""Channel adapters behind one Protocol: the local mailbox (default), SMTP and a signed webhook."""

from arrears.adapters.base import Adapter, Delivery
from arrears.adapters.mailbox import MailboxAdapter
from arrears.adapters.smtp import SmtpAdapter, SmtpConfig
from arrears.adapters.webhook import WebhookAdapter, WebhookConfig, sign, verify_signature

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
