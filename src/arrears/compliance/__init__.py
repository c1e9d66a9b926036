"""The compliance gate: `check(history, proposed, context, pack) -> Decision`.

Pure: no database, no clock. Rule packs `cn`, `us-reg-f`, `uk-conc` live in `packs/`.
"""

from arrears.compliance.gate import check
from arrears.compliance.limits import LenderSettings, Limits, SettingsError, tighten
from arrears.compliance.model import Contact, ContactPreferences, Context, Decision, Violation
from arrears.compliance.pack import Pack, Rule
from arrears.compliance.packs import PACKS, get_pack
from arrears.compliance.parse import (
    ParseError,
    parse_contact,
    parse_context,
    parse_history,
    parse_proposed,
    parse_settings,
)

__all__ = [
    "PACKS",
    "Contact",
    "ContactPreferences",
    "Context",
    "Decision",
    "LenderSettings",
    "Limits",
    "Pack",
    "ParseError",
    "Rule",
    "SettingsError",
    "Violation",
    "check",
    "get_pack",
    "parse_contact",
    "parse_context",
    "parse_history",
    "parse_proposed",
    "parse_settings",
    "tighten",
]
