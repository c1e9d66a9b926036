"""The compliance gate's data: contacts, the borrower's context, violations and decisions.

Everything here is immutable. A history line and a proposed contact share one shape
(`Contact`), so an allowed proposal can be appended to the history unchanged once its outcome
is known. Times are always timezone-aware: the gate never guesses an offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from types import MappingProxyType
from typing import Literal, get_args

Channel = Literal["call", "sms", "email", "visit", "letter"]
Party = Literal["debtor", "emergency_contact", "third_party"]
# What the action is for. The first three reach a person; the last three touch the borrower's
# data and are gated too (principle 5: nothing leaves without the gate).
Purpose = Literal[
    "collection", "plan_reminder", "location", "credit_report", "data_transfer", "purge"
]
RecordKind = Literal["recording", "record"]

# Moratoria a pack names (UK: the Debt Respite Scheme (Breathing Space Moratorium and Mental
# Health Crisis Moratorium) (England and Wales) Regulations 2020).
MoratoriumKind = Literal["breathing-space", "mental-health-crisis"]
MORATORIUM_KINDS: tuple[MoratoriumKind, ...] = get_args(MoratoriumKind)

CHANNELS: tuple[Channel, ...] = get_args(Channel)
PARTIES: tuple[Party, ...] = get_args(Party)
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)
RECORD_KINDS: tuple[RecordKind, ...] = get_args(RecordKind)
CONTACT_PURPOSES: frozenset[Purpose] = frozenset({"collection", "plan_reminder", "location"})

# Outcomes the rules read from history. Any other outcome string is kept but not interpreted.
REFUSED = "refused"  # the person asked not to be contacted again
CALLBACK_REQUESTED = "callback_requested"  # a third party asked to be called again


def _empty_mapping() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Contact:
    """One history line or one proposed action.

    `connected`: the call reached the number (rang, voicemail or answered); false when busy or
    failed. `conversation`: a person was spoken with (implies connected). `consent_until`: the
    person's direct prior consent covers this call up to that instant (Reg F §1006.14(b)(3)(i);
    the engine sets it at most 7 days after the consent was given). `other_debt_ids`: further
    debts this call or conversation was about; it then counts for each debt.
    """

    at: datetime
    debt_id: str
    channel: Channel | None = None
    party: Party = "debtor"
    number: str = ""
    connected: bool = False
    conversation: bool = False
    consent_until: datetime | None = None
    outcome: str | None = None
    content: str = ""
    collectors: tuple[str, ...] = ()
    other_debt_ids: tuple[str, ...] = ()
    purpose: Purpose = "collection"
    recipient: str | None = None  # data_transfer: the agency receiving personal data
    record_kind: RecordKind | None = None  # purge: what is being purged
    records_until: datetime | None = None  # purge: the newest record covered by the purge

    def __post_init__(self) -> None:
        # Parsing rejects these as values; reaching here with them is a programming error.
        # (Written out, not looped over the names: a close builds a few hundred thousand.)
        naive = (
            self.at.utcoffset() is None,
            self.consent_until is not None and self.consent_until.utcoffset() is None,
            self.records_until is not None and self.records_until.utcoffset() is None,
        )
        if any(naive):
            name = ("at", "consent_until", "records_until")[naive.index(True)]
            raise ValueError(f"Contact.{name} must be timezone-aware")
        if self.conversation and not self.connected:
            raise ValueError("a conversation implies the call connected")

    @property
    def debts(self) -> tuple[str, ...]:
        return (self.debt_id, *self.other_debt_ids)

    @property
    def is_contact(self) -> bool:
        """True when the action reaches a person (as opposed to reporting, transfer, purge)."""
        return self.purpose in CONTACT_PURPOSES and self.channel is not None

    @property
    def person(self) -> str:
        """Who is reached: all the debtor's numbers are one person; others are per number."""
        return "debtor" if self.party == "debtor" else f"{self.party}:{self.number}"

    @property
    def is_call(self) -> bool:
        return self.is_contact and self.channel == "call"


@dataclass(frozen=True)
class ContactPreferences:
    """The debtor's requests about how and when to be contacted (e.g. UK "no calls before noon").

    `not_before`: no contact earlier than this local time; `not_after`: none later than it.
    Both apply to the channels in `channels`; `opt_out` channels are not used at all.
    """

    opt_out: frozenset[Channel] = frozenset()
    not_before: time | None = None
    not_after: time | None = None
    channels: frozenset[Channel] = frozenset({"call", "visit"})


@dataclass(frozen=True)
class Moratorium:
    """A moratorium on the borrower's debts, in force from ``starts_on`` through ``ends_on``
    (inclusive, local dates). ``ends_on`` None: not ended yet (a mental-health crisis
    moratorium runs until 30 days after the crisis treatment ends, a date not known at its
    start). ``debt_ids`` None: every debt of the borrower."""

    kind: MoratoriumKind
    starts_on: date
    ends_on: date | None = None
    debt_ids: frozenset[str] | None = None

    def in_force(self, day: date) -> bool:
        return self.starts_on <= day and (self.ends_on is None or day <= self.ends_on)

    def covers(self, debt_id: str) -> bool:
        return self.debt_ids is None or debt_id in self.debt_ids


@dataclass(frozen=True)
class Context:
    """What is known about the borrower and the lender's records at the time of the proposal.

    `timezones`: every zone the borrower may be in; a contact must suit all of them.
    `collectors`: registered collectors (lender and agencies) and their last training date.
    `credit_notices`: debt id -> when the borrower was told negative information will be
    reported. `entrustments`: agencies with a written entrustment agreement on record.
    `refused`: numbers of people (not the debtor) who refused further contact.
    `moratoria`: moratoria on record (in force or not; the rule checks the contact's day).
    `verification_pending`: debts whose collection is paused by a written dispute or a
    request for the original creditor until verification (or the name) is sent (Reg F
    §1006.38). `legal_action_on_record`: court proceedings have been started, so saying so is
    true. `trade_bodies`: codes of the trade bodies the lender belongs to (CONC 7.11.4R).
    """

    timezones: tuple[tzinfo, ...]
    reachable: bool = True
    vulnerable: bool = False
    consent_late_hours: bool = False
    contact_preferences: ContactPreferences = ContactPreferences()
    plan_in_force: bool = False
    dispute_open: bool = False
    collectors: Mapping[str, date] = field(default_factory=_empty_mapping)  # type: ignore[arg-type]
    visit_approved: bool = False
    visit_notice_at: datetime | None = None
    credit_notices: Mapping[str, datetime] = field(default_factory=_empty_mapping)  # type: ignore[arg-type]
    entrustments: frozenset[str] = frozenset()
    refused: frozenset[str] = frozenset()
    moratoria: tuple[Moratorium, ...] = ()
    verification_pending: frozenset[str] = frozenset()
    legal_action_on_record: bool = False
    trade_bodies: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Violation:
    """A rule the proposal breaks (or, in `Decision.warnings`, a risk it runs)."""

    rule: str
    source: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "source": self.source, "message": self.message}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    violations: tuple[Violation, ...] = ()
    warnings: tuple[Violation, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "violations": [v.as_dict() for v in self.violations],
            "warnings": [w.as_dict() for w in self.warnings],
        }
