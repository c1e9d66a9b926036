"""Is a phone number or a repayment account the lender's own? The answer, and an incident for
the lender when it is not (a number that called, an account a message named: someone is
using the lender's name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection

from arrears.core.lender.settings import Lender, Settings
from arrears.core.people.advice import Language, not_official
from arrears.core.people.channels import (
    OfficialChannels,
    is_official_account,
    is_official_phone,
    normalise_account,
    normalise_phone,
    official_channels,
)
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services.collection.verification import borrower_language, record_incident

ChannelKind = Literal["phone", "account"]


@dataclass(frozen=True, slots=True)
class ChannelVerdict:
    official: bool
    kind: ChannelKind
    value: str  # as compared (normalised)
    language: Language
    advice: tuple[str, ...] = ()
    incident_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"official": self.official, self.kind: self.value}
        if not self.official:
            out["advice"] = list(self.advice)
        return out


def check_channel(
    conn: Connection,
    official: OfficialChannels,
    now: datetime,
    *,
    phone: str | None = None,
    account: str | None = None,
    borrower_id: str | None = None,
    language: Language = "zh-CN",
    page_language: Language | None = None,
) -> Result[ChannelVerdict]:
    """Exactly one of ``phone`` and ``account``. With ``borrower_id`` a non-official channel
    goes on their evidence chain too, and the answer is in the borrower's language unless
    ``page_language`` (the page they read) is given."""
    if (phone is None) == (account is None):
        return fail(Problem("channel", "", "give exactly one of a phone number or an account"))
    if borrower_id is not None:
        found = borrower_language(conn, borrower_id)
        if found is None:
            return fail(not_found(f"borrower {borrower_id}", "no such borrower", "borrower"))
        language = page_language or found
    kind: ChannelKind = "phone" if phone is not None else "account"
    if phone is not None:
        value, problems = normalise_phone(phone)
        official_one = value is not None and is_official_phone(official, value)
    else:
        assert account is not None
        value, problems = normalise_account(account)
        official_one = value is not None and is_official_account(official, value)
    if value is None:
        return fail(*problems)
    if official_one:
        return ok(ChannelVerdict(True, kind, value, language))
    incident = record_incident(
        conn, now, "channel", f"unofficial_{kind}", borrower_id, {kind: value}
    )
    return ok(ChannelVerdict(False, kind, value, language, not_official(language), incident))


def official_from_settings(settings: Settings) -> Result[OfficialChannels]:
    """The lender setting ``lender.official_channels``, each entry checked and normalised."""
    return official_of(settings.lender)


def official_of(lender: Lender) -> Result[OfficialChannels]:
    """The lender's official phone numbers and accounts, each checked and normalised."""
    listed = lender.official_channels
    return official_channels(listed.phones, listed.accounts)
