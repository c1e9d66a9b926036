"""The lender's settings: who the borrower hears from, how they repay, what the team can do.

``parse_settings(data, source)`` checks a parsed settings document (YAML read by
``arrears.services.settings``) and returns ``(settings, problems)``: every problem names the
key path (``lender.name.zh-CN: missing``), and settings come back only when there are none.
Pure: the shell reads the file. The keys, their meaning and the bundled default are in
``docs/settings.md`` and ``arrears/data/lender.yaml``.

Words the borrower reads (name, signature, repayment channel) are given per language, zh-CN
and en, and used as given: a zh-CN value may hold Latin letters if the lender wrote them (a
brand, an app name), since that is the lender's choice; what the system adds in zh-CN is
Chinese only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arrears.core.compliance.model import CHANNELS, Channel
from arrears.core.contact.templates import LANGUAGES
from arrears.core.problem import Problem

COST_KEYS = ("sms", "call", "email", "emergency_contact", "visit")
_TOP = ("lender", "timezone", "channels", "capacity", "costs", "retention")
_LENDER = (
    "name",
    "signature",
    "hotline",
    "repayment_channel",
    "mailing_address",
    "official_channels",
)
_CAPACITY = ("agents", "calls_per_agent_per_day", "visits_per_region_per_day")
_OFFICIAL = ("phones", "accounts")
_RETENTION = ("personal_data_years",)
MAX_TEXT = 200  # a name, a signature or a channel description, not a paragraph


@dataclass(frozen=True, slots=True)
class Words:
    """One text in each borrower language."""

    zh_cn: str
    en: str

    def get(self, language: str) -> str:
        return self.zh_cn if language == "zh-CN" else self.en


@dataclass(frozen=True, slots=True)
class OfficialChannels:
    """Where the lender really speaks from: a borrower checks a caller or an account against
    these (the seed: verify a collector's identity)."""

    phones: tuple[str, ...]
    accounts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lender:
    name: Words
    signature: Words  # how an SMS signs (【signature】) and an email ends
    hotline: str
    repayment_channel: Words  # where to repay, e.g. "安心借App“我的 > 借款 > 还款”"
    # Where a borrower writes (a dispute, a request for the original creditor): the US
    # validation notice must give the debt collector's mailing address (Reg F §1006.34(c)(1)).
    mailing_address: Words
    official_channels: OfficialChannels


@dataclass(frozen=True, slots=True)
class Capacity:
    agents: int
    calls_per_agent_per_day: int
    visits_per_region_per_day: int

    @property
    def calls_per_day(self) -> int:
        return self.agents * self.calls_per_agent_per_day


@dataclass(frozen=True, slots=True)
class Costs:
    """What one contact costs, in yuan (exact decimals, as written in the file)."""

    sms: Decimal
    call: Decimal
    email: Decimal
    emergency_contact: Decimal
    visit: Decimal


@dataclass(frozen=True, slots=True)
class Retention:
    """How long a borrower's personal data is kept once nothing is left under way: whole
    years from their last activity. A rule pack's record retention, when longer, governs
    instead (``arrears.core.people.erasure``)."""

    personal_data_years: int = 5


@dataclass(frozen=True, slots=True)
class Settings:
    lender: Lender
    timezone: str  # IANA name, the lender's business day
    channels: tuple[Channel, ...]  # enabled, in the order written
    capacity: Capacity
    costs: Costs
    retention: Retention = Retention()


class _Reader:
    """Walks the document, collecting a problem for every bad key instead of stopping."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def bad(self, path: str, reason: str) -> None:
        self.problems.append(Problem(self.source, path, reason))

    def mapping(self, value: object, path: str, keys: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.bad(path or "(top)", f"must be a mapping with keys {', '.join(keys)}")
            return {}
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in keys:
                self.bad(f"{prefix}{key}", f"unknown key; expected one of {', '.join(keys)}")
        for key in keys:
            if key not in value:
                self.bad(f"{prefix}{key}", "missing")
        return cast(Mapping[str, Any], value)

    def text(self, value: object, path: str) -> str:
        if value is None:
            return ""  # missing: reported by mapping()
        if not isinstance(value, str):
            self.bad(path, f"must be text, got {type(value).__name__}")
            return ""
        if not value.strip():
            self.bad(path, "must not be empty")
        elif len(value) > MAX_TEXT:
            self.bad(path, f"at most {MAX_TEXT} characters, got {len(value)}")
        return value.strip()

    def words(self, value: object, path: str) -> Words:
        found = self.mapping(value, path, LANGUAGES)
        zh, en = (self.text(found.get(lang), f"{path}.{lang}") for lang in LANGUAGES)
        return Words(zh, en)

    def count(self, value: object, path: str) -> int:
        # bool is an int in Python: "agents: yes" must not read as one agent.
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(path, f"must be a whole number, got {value!r}")
            return 0
        if value < 0:
            self.bad(path, f"must not be negative, got {value}")
        return value

    def cost(self, value: object, path: str) -> Decimal:
        # A string, so YAML never makes a float of it: "0.05" is exactly five fen.
        if value is None:
            return Decimal(0)
        if not isinstance(value, str):
            self.bad(path, f'must be a quoted decimal string in yuan (e.g. "0.05"), got {value!r}')
            return Decimal(0)
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            self.bad(path, f"not a decimal amount: {value!r}")
            return Decimal(0)
        if not amount.is_finite() or amount < 0:
            self.bad(path, f"must be a non-negative amount, got {value!r}")
        elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
            self.bad(path, f"at most 2 decimal places (fen), got {value!r}")
        return amount

    def texts(self, value: object, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.bad(path, "must be a list")
            return ()
        return tuple(self.text(item, f"{path}[{k}]") for k, item in enumerate(value))


def parse_settings(data: object, source: str = "settings") -> tuple[Settings | None, list[Problem]]:
    """The settings in ``data`` (a parsed YAML document), or every problem found in it.

    ``source`` names the file in each problem's record.
    """
    reader = _Reader(source)
    top = reader.mapping(data, "", _TOP)
    lender = _lender(reader, top.get("lender"))
    timezone = _timezone(reader, top.get("timezone"))
    channels = _channels(reader, top.get("channels"))
    caps = reader.mapping(top.get("capacity"), "capacity", _CAPACITY) if "capacity" in top else {}
    capacity = Capacity(*(reader.count(caps.get(k), f"capacity.{k}") for k in _CAPACITY))
    costs_in = reader.mapping(top.get("costs"), "costs", COST_KEYS) if "costs" in top else {}
    costs = Costs(*(reader.cost(costs_in.get(k), f"costs.{k}") for k in COST_KEYS))
    retention = _retention(reader, top.get("retention")) if "retention" in top else Retention()
    if reader.problems:
        return None, reader.problems
    return Settings(lender, timezone, channels, capacity, costs, retention), []


def _retention(reader: _Reader, value: object) -> Retention:
    found = reader.mapping(value, "retention", _RETENTION)
    path = "retention.personal_data_years"
    given = found.get("personal_data_years")
    years = reader.count(given, path)
    # At least a year: 0 would erase a borrower the day their last loan settles, before a
    # late payment, a complaint or a dispute about the closing could come in.
    if given == 0 and given is not False:
        reader.bad(path, "must be at least 1 year, got 0")
    return Retention(years)


def _lender(reader: _Reader, value: object) -> Lender:
    if value is None:  # "lender: missing" is said already; each of its keys would repeat it
        blank = Words("", "")
        return Lender(blank, blank, "", blank, blank, OfficialChannels((), ()))
    found = reader.mapping(value, "lender", _LENDER)
    official = found.get("official_channels")
    channels = OfficialChannels((), ())
    if official is not None:
        got = reader.mapping(official, "lender.official_channels", _OFFICIAL)
        channels = OfficialChannels(
            *(reader.texts(got.get(k), f"lender.official_channels.{k}") for k in _OFFICIAL)
        )
    hotline = reader.text(found.get("hotline"), "lender.hotline")
    if hotline and not any(ch.isdigit() for ch in hotline):
        reader.bad("lender.hotline", f"must be a phone number, got {hotline!r}")
    return Lender(
        _words_or_blank(reader, found, "name"),
        _words_or_blank(reader, found, "signature"),
        hotline,
        _words_or_blank(reader, found, "repayment_channel"),
        _words_or_blank(reader, found, "mailing_address"),
        channels,
    )


def _words_or_blank(reader: _Reader, found: Mapping[str, Any], key: str) -> Words:
    if key not in found:
        return Words("", "")
    return reader.words(found[key], f"lender.{key}")


def _timezone(reader: _Reader, value: object) -> str:
    name = reader.text(value, "timezone") if value is not None else ""
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        reader.bad("timezone", f"not an IANA time zone: {name!r}")
    return name


def _channels(reader: _Reader, value: object) -> tuple[Channel, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        reader.bad("channels", f"must be a non-empty list of {', '.join(CHANNELS)}")
        return ()
    out: list[Channel] = []
    for k, item in enumerate(value):
        if item not in get_args(Channel):
            reader.bad(f"channels[{k}]", f"unknown channel {item!r}; known: {', '.join(CHANNELS)}")
        elif item in out:
            reader.bad(f"channels[{k}]", f"{item} is listed twice")
        else:
            out.append(item)
    return tuple(out)
