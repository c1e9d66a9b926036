"""Message templates in zh-CN and en: ``render(template_id, facts, texts) -> Rendered``.

Pure: no database, no clock, no files. The words are data: one Jinja2 file per template and
language under ``arrears/data/templates/messages/<language>/<template_id>.j2``, and short
strings (labels, opt-out wording) in the gettext catalogs, which the shell reads into a
``TextSet`` (``arrears.services.texts.message_texts()``) and passes in. This module holds the
facts a template may use, checks the ones it needs, and words them (amounts and dates in the
message's language) for the template.

What every text does, and why:

* The borrower's name and the loan reference are always masked (王** / J*** S****, last four of
  the reference): an SMS or email can be read by someone else, and the borrower needs only
  enough to recognise the loan.
* Every template ends with opt-out wording (``Reply STOP to opt out`` / ``回复“退订”停止接收``).
  Regulation F §1006.6(e) requires it on every text and email; the message does not know which
  channel will carry it or which pack applies, so it always carries it.
* Messages to the borrower give the lender's verified number, so a borrower can check that a
  caller or visitor is real (the seed: verify a collector's identity).
* ``emergency_contact`` is for a third party: it names neither the lender nor the loan, no amount,
  nothing about being late, only a neutral sender and a number to call
  (GB/T 45251-2025 / NIFA; Reg F §1006.10; CONC 7.9).
* A zh-CN message carries no Latin letters of its own: what Latin it has comes from the facts
  (amounts, the loan reference, what the lender configured).

Money is formatted with Babel from integer fen via ``money.to_decimal`` (exact, no rounding:
the amounts are already in the minor unit); dates with Babel's ``long`` format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from arrears.core.money import MoneyError, minor_per_major, to_decimal
from arrears.core.texts import TextError, TextSet, render_parts, template_fields

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
# Parsed once: Babel re-parses a locale given by name on every call, which was most of the
# cost of rendering a message.
_LOCALE: Mapping[str, Locale] = {"zh-CN": Locale.parse("zh_CN"), "en": Locale.parse("en")}


class TemplateError(ValueError):
    """A template that does not exist, a language it is not written in, or a fact it needs."""


@dataclass(frozen=True, slots=True)
class Collector:
    """A collector named in a visit notice: the name and the id they will show."""

    name: str
    collector_id: str


@dataclass(frozen=True, slots=True)
class BankTransfer:
    """Where a bank transfer goes and the reference that matches it to the loan."""

    bank: str
    account_name: str
    account_number: str
    reference: str


_NON_NEGATIVE = (
    "overdue_principal",
    "overdue_interest",
    "overdue_penalty",
    "days_past_due",
    "interest_since",
    "fees_since",
    "payments_since",
    "credits_since",
)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """Everything a template may say. Amounts are integer minor units (fen) of ``currency``.

    ``borrower_name`` and ``loan_ref`` may be given in full: ``render`` masks them. The lender's
    words come in the message's language (``arrears.core.lender.settings``): ``lender_name`` in
    sentences, ``signature`` where the message signs (``【…】``; default the name),
    ``repay_app`` where in the lender's app to pay (e.g. ``支付宝 > 借呗``); ``bank_transfer``
    is the alternative. ``sender_alias`` is how a message to an emergency contact signs itself
    (it must not name a lender whose name implies a debt); the default is a neutral "customer
    service". ``visit_start``/``visit_end`` are aware datetimes in the borrower's zone.

    The validation notice (Reg F §1006.34(c)(2)) reads ``itemization_date`` and the amounts
    itemized from it: ``amount_on_itemization``, then ``interest_since``, ``fees_since``,
    ``payments_since`` and ``credits_since``, and ``current_amount``; ``validation_end`` is the
    last day of the validation period; ``mailing_address`` is where the borrower writes (the
    lender's setting, §1006.34(c)(1)). Its loan id is ``loan_ref``.
    """

    language: str
    lender_name: str
    lender_phone: str
    borrower_name: str
    loan_ref: str
    currency: str = "CNY"
    overdue_principal: int = 0
    overdue_interest: int = 0
    overdue_penalty: int = 0
    days_past_due: int = 0
    due_date: date | None = None
    next_due_date: date | None = None
    next_due_amount: int | None = None
    repay_app: str = ""
    bank_transfer: BankTransfer | None = None
    collectors: tuple[Collector, ...] = ()
    visit_start: datetime | None = None
    visit_end: datetime | None = None
    promise_date: date | None = None
    promise_amount: int | None = None
    report_date: date | None = None
    sender_alias: str = ""
    signature: str = ""
    itemization_date: date | None = None
    amount_on_itemization: int | None = None
    interest_since: int = 0
    fees_since: int = 0
    payments_since: int = 0
    credits_since: int = 0
    current_amount: int | None = None
    validation_end: date | None = None
    mailing_address: str = ""

    def __post_init__(self) -> None:
        for name in _NON_NEGATIVE:
            if getattr(self, name) < 0:
                raise ValueError(f"MessageFacts.{name} must not be negative")
        for name in ("next_due_amount", "promise_amount"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"MessageFacts.{name} must be positive")
        for name in ("amount_on_itemization", "current_amount"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"MessageFacts.{name} must not be negative")
        for name in ("visit_start", "visit_end"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"MessageFacts.{name} must be timezone-aware")

    @property
    def total_overdue(self) -> int:
        return self.overdue_principal + self.overdue_interest + self.overdue_penalty


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    body: str


# ---------------------------------------------------------------------------------------------
# Masking and formatting

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def mask_name(name: str) -> str:
    """王小明 -> 王**; John Smith -> J*** S****. Already-masked names come back unchanged."""
    name = name.strip()
    if not name:
        return ""
    if _CJK.search(name):
        compact = name.replace(" ", "")
        return compact[0] + "*" * (len(compact) - 1)
    return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())


def mask_reference(ref: str) -> str:
    """The last four characters: enough to recognise a loan, not enough to act on it."""
    return ref.strip()[-4:]


def babel_money(minor: int, currency: str, language: str) -> str:
    """Babel's own formatting of an amount: the reference ``money`` is held equal to."""
    return format_currency(to_decimal(minor, currency), currency, locale=_LOCALE[language])


@dataclass(frozen=True, slots=True)
class _MoneyShape:
    """How Babel writes a non-negative amount in one currency and language, read off Babel once.

    Babel parses its number pattern on every call (about 50 us, most of a message's rendering
    time); the shape of the result for a given currency and locale never changes: a prefix and
    suffix (the symbol), digits grouped by three with one separator, and a decimal part.
    """

    prefix: str
    suffix: str
    group: str
    decimal: str
    unit: int

    def format(self, minor: int) -> str:
        major, frac = divmod(minor, self.unit)
        digits = f"{major:,}".replace(",", self.group)
        places = len(str(self.unit)) - 1
        tail = f"{self.decimal}{frac:0{places}d}" if places else ""
        return f"{self.prefix}{digits}{tail}{self.suffix}"


# Amounts the shape is checked on against Babel before it is used: every digit-count boundary
# of grouping and the decimal part.
_SHAPE_PROBES = (0, 1, 9, 10, 99, 100, 101, 999, 1000, 99999, 100000, 123456, 10**8 - 1, 10**8)


@functools.cache
def _money_shape(currency: str, language: str) -> _MoneyShape | None:
    unit = minor_per_major(currency)
    places = len(str(unit)) - 1
    if unit != 10**places:
        return None
    probe = 1234567 * unit + (unit - 1 if places else 0)  # 1,234,567.99
    text = babel_money(probe, currency, language)
    m = re.fullmatch(
        r"(?P<pre>\D*?)1(?P<sep>\D?)234(?P=sep)567(?:(?P<dec>\D)9+)?(?P<suf>\D*)", text
    )
    if m is None:
        return None
    shape = _MoneyShape(m["pre"], m["suf"], m["sep"], m["dec"] or "", unit)
    if any(shape.format(v) != babel_money(v, currency, language) for v in _SHAPE_PROBES):
        return None  # a locale Babel writes differently (other grouping): Babel it is
    return shape


def money(minor: int, facts: MessageFacts) -> str:
    """An amount in fen as Babel writes it for the message's language, without Babel's cost."""
    shape = _money_shape(facts.currency, facts.language) if minor >= 0 else None
    if shape is None:
        return babel_money(minor, facts.currency, facts.language)
    return shape.format(minor)


@functools.lru_cache(maxsize=4096)
def _long_date(value: date, language: str) -> str:
    return format_date(value, format="long", locale=_LOCALE[language])


def day(value: date, facts: MessageFacts) -> str:
    # A day's messages name a handful of dates (due dates, today): formatted once each.
    return _long_date(value, facts.language)


# ---------------------------------------------------------------------------------------------
# The templates: their words are data (``arrears/data/templates/messages``), their facts here.

# Every template id, in both languages (the text set must hold exactly these).
TEMPLATES: tuple[str, ...] = (
    "reminder_before_due",
    "sms_overdue",
    "email_overdue",
    "emergency_contact",
    "visit_notice",
    "promise_confirmation",
    "credit_notice",
    "plan_reminder",
    "validation_notice",
)

# Templates whose words may go to someone other than the borrower.
THIRD_PARTY_TEMPLATES: frozenset[str] = frozenset({"emergency_contact"})

TEXT_SET = "messages"  # the name of the text set the borrower's messages live in
PARTS = ("subject", "body")

_OVERDUE, _REPAY, _VISIT = "overdue", "repay", "visit window"
# What each template needs given, checked in this order before it renders.
_NEEDS: Mapping[str, tuple[str, ...]] = {
    "reminder_before_due": ("next_due_amount", "next_due_date", _REPAY),
    "sms_overdue": (_OVERDUE, _REPAY),
    "email_overdue": (_OVERDUE, _REPAY),
    "emergency_contact": ("lender_phone",),
    "visit_notice": ("collectors", "visit_start", "visit_end", _VISIT),
    "promise_confirmation": ("promise_amount", "promise_date", _REPAY),
    "credit_notice": ("report_date", _OVERDUE, _REPAY),
    "plan_reminder": ("next_due_amount", "next_due_date", _REPAY),
    "validation_notice": (
        "itemization_date",
        "amount_on_itemization",
        "current_amount",
        "validation_end",
        "mailing_address",
    ),
}


def _check(template: str, facts: MessageFacts) -> None:
    for need in _NEEDS[template]:
        if need == _OVERDUE:
            if facts.days_past_due <= 0:
                raise TemplateError(
                    f"template {template!r}: fact 'days_past_due' must be at least 1"
                )
            if facts.total_overdue <= 0:
                raise TemplateError(
                    f"template {template!r}: the overdue amounts must not all be zero"
                )
        elif need == _REPAY:
            if not facts.repay_app and facts.bank_transfer is None:
                raise TemplateError(
                    f"template {template!r}: fact 'repay_app' or 'bank_transfer' is required"
                )
        elif need == _VISIT:
            assert facts.visit_start is not None and facts.visit_end is not None
            if facts.visit_end <= facts.visit_start:
                raise TemplateError(
                    f"template {template!r}: fact 'visit_end' must be after 'visit_start'"
                )
        else:
            value = getattr(facts, need)
            if value is None or value == "" or value == ():
                raise TemplateError(f"template {template!r}: fact {need!r} is required")


def _amount(name: str) -> Callable[[MessageFacts], str | None]:
    def value(f: MessageFacts) -> str | None:
        minor = getattr(f, name)
        return None if minor is None else money(minor, f)

    return value


def _date(name: str) -> Callable[[MessageFacts], str | None]:
    def value(f: MessageFacts) -> str | None:
        when = getattr(f, name)
        return None if when is None else day(when, f)

    return value


def _time(name: str) -> Callable[[MessageFacts], str]:
    def value(f: MessageFacts) -> str:
        return f"{getattr(f, name):%H:%M}"

    return value


# What a template may name, and how each is worded from the facts. Only the names a template
# uses are worked out for it (formatting every amount for every message cost more than the
# rendering). Amounts and dates come formatted for the message's language.
CONTEXT: Mapping[str, Callable[[MessageFacts], object]] = {
    "lender": lambda f: f.lender_name,
    "signature": lambda f: f.signature or f.lender_name,
    "phone": lambda f: f.lender_phone,
    "address": lambda f: f.mailing_address,
    "name": lambda f: mask_name(f.borrower_name),
    "ref": lambda f: mask_reference(f.loan_ref),
    "alias": lambda f: f.sender_alias,
    "dpd": lambda f: f.days_past_due,
    "total": lambda f: money(f.total_overdue, f),
    "principal": _amount("overdue_principal"),
    "interest": _amount("overdue_interest"),
    "penalty": _amount("overdue_penalty"),
    "due_date": _date("due_date"),
    "next_due_date": _date("next_due_date"),
    "next_due_amount": _amount("next_due_amount"),
    "repay_app": lambda f: f.repay_app,
    "bank": lambda f: f.bank_transfer,
    "collectors": lambda f: f.collectors,
    "visit_day": lambda f: day(f.visit_start.date(), f) if f.visit_start else None,
    "visit_from": _time("visit_start"),
    "visit_to": _time("visit_end"),
    "promise_date": _date("promise_date"),
    "promise_amount": _amount("promise_amount"),
    "report_date": _date("report_date"),
    "itemization_date": _date("itemization_date"),
    "amount_on_itemization": _amount("amount_on_itemization"),
    "interest_since": _amount("interest_since"),
    "fees_since": _amount("fees_since"),
    "payments_since": _amount("payments_since"),
    "credits_since": _amount("credits_since"),
    "current_amount": _amount("current_amount"),
    "validation_end": _date("validation_end"),
}


def check_text_set(texts: TextSet) -> list[str]:
    """What is wrong with a set of message texts: a template missing in a language, one that is
    not a known template, or one naming something the facts do not provide. Empty: fine."""
    problems: list[str] = []
    for language in LANGUAGES:
        have = set(texts.template_ids(language))
        problems += [f"{language}: template {t!r} is missing" for t in TEMPLATES if t not in have]
        problems += [
            f"{language}: {t}.j2 is not a known template" for t in sorted(have - set(TEMPLATES))
        ]
        for template in sorted(have & set(TEMPLATES)):
            unknown = template_fields(texts, language, template) - set(CONTEXT)
            problems += [f"{language}: {template}: unknown field {n!r}" for n in sorted(unknown)]
    return problems


def render(template_id: str, facts: MessageFacts, texts: TextSet) -> Rendered:
    """The subject and body of ``template_id`` in ``facts.language``, from ``texts``.

    Raises ``TemplateError`` for an unknown template or language, or a fact the template
    needs and the caller did not give; the message names the template and the fact.
    """
    if template_id not in _NEEDS:
        raise TemplateError(f"unknown template {template_id!r}; known: {', '.join(TEMPLATES)}")
    if facts.language not in LANGUAGES:
        raise TemplateError(
            f"template {template_id!r}: language {facts.language!r} is not supported; "
            f"supported: {', '.join(LANGUAGES)}"
        )
    try:
        minor_per_major(facts.currency)
    except MoneyError as exc:
        raise TemplateError(f"template {template_id!r}: currency: {exc}") from None
    _check(template_id, facts)
    try:
        used = template_fields(texts, facts.language, template_id)
        context = {name: CONTEXT[name](facts) for name in used if name in CONTEXT}
        parts = render_parts(texts, facts.language, template_id, context, PARTS)
    except TextError as exc:
        raise TemplateError(str(exc)) from None
    return Rendered(parts["subject"], parts["body"])
