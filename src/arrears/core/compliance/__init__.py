"""The compliance gate: `check(history, proposed, context, pack) -> Decision`.

Pure: no database, no clock. Rule packs `cn`, `us-reg-f`, `uk-conc` live in `packs/` (with
`get_pack`; not re-exported here, since the packs are built from this package's types).
"""

from arrears.core.compliance.gate import check
from arrears.core.compliance.limits import LenderSettings, Limits, tighten
from arrears.core.compliance.model import Contact, ContactPreferences, Context, Decision, Violation
from arrears.core.compliance.pack import Pack, Rule
from arrears.core.compliance.parse import (
    parse_contact,
    parse_context,
    parse_history,
    parse_proposed,
    parse_settings,
)

__all__ = [
    "Contact",
    "ContactPreferences",
    "Context",
    "Decision",
    "LenderSettings",
    "Limits",
    "Pack",
    "Rule",
    "Violation",
    "check",
    "parse_contact",
    "parse_context",
    "parse_history",
    "parse_proposed",
    "parse_settings",
    "tighten",
]
