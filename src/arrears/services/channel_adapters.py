"""Which adapter carries each message channel, and the adapters themselves, from the
``--adapter CHANNEL=NAME`` specs and the environment.

Any message channel not named goes to the local mailbox (``outbox``). SMTP and webhook settings
come from the environment only (``ARREARS_SMTP_*``, ``ARREARS_WEBHOOK_URL``,
``ARREARS_WEBHOOK_SECRET``), so secrets stay out of shell history and request bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Engine

from arrears.adapters import (
    Adapter,
    MailboxAdapter,
    SmtpAdapter,
    SmtpConfig,
    WebhookAdapter,
    WebhookConfig,
)
from arrears.core.compliance.model import CHANNELS
from arrears.core.problem import Problem, Result, fail, ok

ADAPTER_NAMES = ("outbox", "smtp", "webhook")
# Channels that carry a written message; calls and visits are worked by people (agent queue).
MESSAGE_CHANNELS = ("sms", "email", "letter")
ENV_ADAPTERS = "ARREARS_OUTBOX_ADAPTERS"


def choose_adapters(specs: Sequence[str], env: Mapping[str, str]) -> Result[dict[str, str]]:
    """channel -> adapter name. The specs win over ``ARREARS_OUTBOX_ADAPTERS``."""
    chosen = dict.fromkeys(MESSAGE_CHANNELS, "outbox")
    from_env = [s for s in env.get(ENV_ADAPTERS, "").split(",") if s.strip()]
    for source, items in ((ENV_ADAPTERS, from_env), ("--adapter", list(specs))):
        for spec in items:
            channel, sep, name = (part.strip() for part in spec.partition("="))
            if not sep or channel not in CHANNELS or name not in ADAPTER_NAMES:
                reason = (
                    f"{spec!r} is not CHANNEL=ADAPTER "
                    f"(channels: {', '.join(CHANNELS)}; adapters: {', '.join(ADAPTER_NAMES)})"
                )
                return fail(Problem(source, "", reason))
            chosen[channel] = name
    return ok(chosen)


def build_adapters(
    engine: Engine, chosen: Mapping[str, str], env: Mapping[str, str]
) -> Result[dict[str, Adapter]]:
    """One adapter per name, shared by the channels that chose it; a missing setting in the
    environment is a problem naming the channel."""
    built: dict[str, Adapter] = {}
    shared: dict[str, Adapter] = {}
    for channel, name in chosen.items():
        if name not in shared:
            if name == "outbox":
                shared[name] = MailboxAdapter(engine)
            elif name == "smtp":
                smtp = SmtpConfig.from_env(env)
                if isinstance(smtp, str):
                    return fail(Problem(f"--adapter {channel}=smtp", "", smtp))
                shared[name] = SmtpAdapter(smtp)
            else:
                hook = WebhookConfig.from_env(env)
                if isinstance(hook, str):
                    return fail(Problem(f"--adapter {channel}=webhook", "", hook))
                shared[name] = WebhookAdapter(hook)
        built[channel] = shared[name]
    return ok(built)
