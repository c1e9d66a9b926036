"""Message templates in zh-CN and en: ``render(template_id, facts) -> Rendered``.

Pure: no database, no clock. The caller gathers the facts (amounts from the close, contact
details from the profile) and the template decides the words.

What every text does, and why:

* The borrower's name and the loan reference are always masked (王** / J*** S****, last four of
  the reference): an SMS or email can be read by someone else, and the borrower needs only
  enough to recognise the loan.
* Every template ends with opt-out wording (``Reply STOP to opt out`` / ``回复TD退订``).
  Regulation F §1006.6(e) requires it on every text and email; the message does not know which
  channel will carry it or which pack applies, so it always carries it.
* Messages to the borrower give the lender's verified number, so a borrower can check that a
  caller or visitor is real (the seed: verify a collector's identity).
* ``emergency_contact`` is for a third party: it names neither the lender nor the loan, no amount,
  nothing about being late, only a neutral sender and a number to call
  (GB/T 45251-2025 / NIFA; Reg F §1006.10; CONC 7.9).

Money is formatted with Babel from integer fen via ``money.to_decimal`` (exact, no rounding:
the amounts are already in the minor unit); dates with Babel's ``long`` format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, TypeVar, get_args

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency

from arrears.core.compliance.validation import ValidationFacts
from arrears.core.money import MoneyError, minor_per_major, to_decimal

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
# Parsed once: Babel re-parses a locale given by name on every call, which was most of the
# cost of rendering a message.
_LOCALE: Mapping[str, Locale] = {"zh-CN": Locale.parse("zh_CN"), "en": Locale.parse("en")}
_T = TypeVar("_T")


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


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """Everything a template may say. Amounts are integer minor units (fen) of ``currency``.

    ``borrower_name`` and ``loan_ref`` may be given in full: ``render`` masks them. ``repay_app``
    names where in the lender's app to pay (e.g. ``支付宝 > 借呗``); ``bank_transfer`` is the
    alternative. ``sender_alias`` is how a message to an emergency contact signs itself (it
    must not name a lender whose name implies a debt); the default is a neutral "customer
    service". ``visit_start``/``visit_end`` are aware datetimes in the borrower's zone.
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
    validation: ValidationFacts | None = None  # the Reg F validation notice's figures

    def __post_init__(self) -> None:
        for name in ("overdue_principal", "overdue_interest", "overdue_penalty", "days_past_due"):
            if getattr(self, name) < 0:
                raise ValueError(f"MessageFacts.{name} must not be negative")
        for name in ("next_due_amount", "promise_amount"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"MessageFacts.{name} must be positive")
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


def _need(value: _T | None, template: str, field: str) -> _T:
    if value is None or value == "" or value == ():
        raise TemplateError(f"template {template!r}: fact {field!r} is required")
    return value


def _how_to_repay(facts: MessageFacts, template: str) -> str:
    if not facts.repay_app and facts.bank_transfer is None:
        raise TemplateError(
            f"template {template!r}: fact 'repay_app' or 'bank_transfer' is required"
        )
    zh = facts.language == "zh-CN"
    ways: list[str] = []
    if facts.repay_app:
        ways.append(f"在{facts.repay_app}中还款" if zh else f"in the app ({facts.repay_app})")
    bank = facts.bank_transfer
    if bank is not None:
        ways.append(
            f"转账至{bank.bank}，户名{bank.account_name}，账号{bank.account_number}，"
            f"附言{bank.reference}"
            if zh
            else f"by bank transfer to {bank.account_name}, {bank.bank}, account "
            f"{bank.account_number}, reference {bank.reference}"
        )
    return "；或".join(ways) if zh else "; or ".join(ways)


_OPT_OUT = {"zh-CN": "回复TD退订", "en": "Reply STOP to opt out."}
_EMAIL_OPT_OUT = {
    "zh-CN": "如不希望再收到此类邮件，请回复“退订”。",
    "en": "To stop these emails, reply UNSUBSCRIBE and we will not email you again.",
}


# ---------------------------------------------------------------------------------------------
# The templates. Each takes the facts and the template id (for error messages).


def _reminder_before_due(f: MessageFacts, t: str) -> Rendered:
    amount = money(_need(f.next_due_amount, t, "next_due_amount"), f)
    due = day(_need(f.next_due_date, t, "next_due_date"), f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】还款日提醒（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，您尾号{ref}的借款本期应还{amount}，还款日为{due}。"
            f"还款方式：{how}。如有疑问请致电{f.lender_phone}。{_OPT_OUT['zh-CN']}",
        )
    return Rendered(
        f"{f.lender_name}: payment due on {due} (loan ending {ref})",
        f"{f.lender_name}: Hi {name}, your payment of {amount} on the loan ending {ref} is due "
        f"on {due}. To pay: {how}. Questions? Call us on {f.lender_phone}. {_OPT_OUT['en']}",
    )


def _components(f: MessageFacts) -> tuple[str, str, str, str]:
    return (
        money(f.total_overdue, f),
        money(f.overdue_principal, f),
        money(f.overdue_interest, f),
        money(f.overdue_penalty, f),
    )


def _overdue_facts(f: MessageFacts, t: str) -> None:
    if f.days_past_due <= 0:
        raise TemplateError(f"template {t!r}: fact 'days_past_due' must be at least 1")
    if f.total_overdue <= 0:
        raise TemplateError(f"template {t!r}: the overdue amounts must not all be zero")


def _sms_overdue(f: MessageFacts, t: str) -> Rendered:
    _overdue_facts(f, t)
    total, principal, interest, penalty = _components(f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    dpd = f.days_past_due
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】逾期提醒（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，您尾号{ref}的借款已逾期{dpd}天，逾期应还共{total}，"
            f"其中本金{principal}、利息{interest}、罚息{penalty}。还款方式：{how}。"
            f"如有困难请致电{f.lender_phone}协商还款方案。{_OPT_OUT['zh-CN']}",
        )
    days = "day" if dpd == 1 else "days"
    return Rendered(
        f"{f.lender_name}: payment {dpd} {days} overdue (loan ending {ref})",
        f"{f.lender_name}: Hi {name}, your loan ending {ref} is {dpd} {days} overdue. "
        f"Overdue: {total} (principal {principal}, interest {interest}, penalty interest "
        f"{penalty}). To pay: {how}. If you are having difficulty, call us on "
        f"{f.lender_phone} to discuss a plan. {_OPT_OUT['en']}",
    )


def _email_overdue(f: MessageFacts, t: str) -> Rendered:
    _overdue_facts(f, t)
    total, principal, interest, penalty = _components(f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    dpd = f.days_past_due
    zh = f.language == "zh-CN"
    lines: list[str]
    if zh:
        missed = f"（应还日{day(f.due_date, f)}）" if f.due_date else ""
        lines = [
            f"{name}您好：",
            "",
            f"您在{f.lender_name}尾号{ref}的借款已逾期{dpd}天{missed}。逾期应还金额如下：",
            f"  本金：{principal}",
            f"  利息：{interest}",
            f"  罚息：{penalty}",
            f"  合计：{total}",
        ]
        if f.next_due_date and f.next_due_amount:
            lines.append(f"下一期{money(f.next_due_amount, f)}将于{day(f.next_due_date, f)}到期。")
        lines += [
            "",
            f"还款方式：{how}。",
            f"如暂时无法全额还款，请尽早致电{f.lender_phone}，我们可以与您商量分期等还款方案。",
            f"我们不会要求您向个人账户转账。如需核实来电或来访人员身份，请拨打{f.lender_phone}。",
            "",
            f"{f.lender_name}",
            _EMAIL_OPT_OUT["zh-CN"],
        ]
        subject = f"【{f.lender_name}】逾期还款提醒（尾号{ref}）"
    else:
        days = "day" if dpd == 1 else "days"
        missed = f" (it was due on {day(f.due_date, f)})" if f.due_date else ""
        lines = [
            f"Dear {name},",
            "",
            f"Your {f.lender_name} loan ending {ref} is {dpd} {days} overdue{missed}. "
            "The overdue amount is:",
            f"  Principal: {principal}",
            f"  Interest: {interest}",
            f"  Penalty interest: {penalty}",
            f"  Total: {total}",
        ]
        if f.next_due_date and f.next_due_amount:
            lines.append(
                f"Your next instalment of {money(f.next_due_amount, f)} is due on "
                f"{day(f.next_due_date, f)}."
            )
        lines += [
            "",
            f"To pay: {how}.",
            f"If you cannot pay in full, call us on {f.lender_phone} as early as you can: we can "
            "discuss a plan, such as paying in instalments. Free, independent debt advice is "
            "also available.",
            "We will never ask you to pay into a personal account. To check that a caller or "
            f"visitor is from us, call {f.lender_phone}.",
            "",
            f.lender_name,
            _EMAIL_OPT_OUT["en"],
        ]
        subject = f"{f.lender_name}: your payment is {dpd} {days} overdue (loan ending {ref})"
    return Rendered(subject, "\n".join(lines))


def _emergency_contact(f: MessageFacts, t: str) -> Rendered:
    # Deliberately free of the lender's name, the loan, any amount and any lateness: the
    # recipient learns only that someone wants the borrower to call back.
    name = mask_name(f.borrower_name)
    phone = _need(f.lender_phone, t, "lender_phone")
    if f.language == "zh-CN":
        alias = f.sender_alias or "客户服务中心"
        return Rendered(
            f"请转告{name}回电",
            f"您好，这里是{alias}。我们有事需要与{name}联系，但暂时未能联系上。"
            f"如方便，请转告其致电{phone}与我们联系。谢谢！{_OPT_OUT['zh-CN']}",
        )
    alias = f.sender_alias or "Customer Care"
    return Rendered(
        f"Please ask {name} to call us",
        f"Hello, this is {alias}. We would like to speak with {name} and have not been able "
        f"to reach them. If you can, please ask them to call us on {phone}. Thank you. "
        f"{_OPT_OUT['en']}",
    )


def _visit_notice(f: MessageFacts, t: str) -> Rendered:
    collectors = _need(f.collectors, t, "collectors")
    start = _need(f.visit_start, t, "visit_start")
    end = _need(f.visit_end, t, "visit_end")
    if end <= start:
        raise TemplateError(f"template {t!r}: fact 'visit_end' must be after 'visit_start'")
    name, ref = mask_name(f.borrower_name), mask_reference(f.loan_ref)
    when_day = day(start.date(), f)
    zh_window, en_window = f"{start:%H:%M}–{end:%H:%M}", f"from {start:%H:%M} to {end:%H:%M}"
    if f.language == "zh-CN":
        who = "、".join(f"{c.name}（工号{c.collector_id}）" for c in collectors)
        return Rendered(
            f"【{f.lender_name}】上门拜访通知（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，我们将于{when_day} {zh_window}安排工作人员上门拜访，"
            f"与您商量尾号{ref}借款的还款安排。来访人员：{who}。来访人员会出示工作证件，"
            f"未经您同意不会进入您的住所。如需核实来访人员身份或改约时间，请致电{f.lender_phone}；"
            f"无法核实身份的，请勿开门并可报警。{_OPT_OUT['zh-CN']}",
        )
    who = ", ".join(f"{c.name} (ID {c.collector_id})" for c in collectors)
    return Rendered(
        f"{f.lender_name}: visit on {when_day} (loan ending {ref})",
        f"{f.lender_name}: Dear {name}, our staff will visit you on {when_day} "
        f"{en_window} to talk about the loan ending {ref}. Who is coming: {who}. They will show "
        "their staff ID cards and will not enter your home without your consent. To check "
        f"who they are or to change the time, call {f.lender_phone}. If a visitor cannot be "
        f"verified, do not open the door; you may contact the police. {_OPT_OUT['en']}",
    )


def _promise_confirmation(f: MessageFacts, t: str) -> Rendered:
    amount = money(_need(f.promise_amount, t, "promise_amount"), f)
    when = day(_need(f.promise_date, t, "promise_date"), f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】还款承诺确认（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，我们已记录您承诺于{when}前还款{amount}"
            f"（尾号{ref}的借款）。还款方式：{how}。如情况有变，请致电{f.lender_phone}。"
            f"{_OPT_OUT['zh-CN']}",
        )
    return Rendered(
        f"{f.lender_name}: your promise to pay {amount} by {when}",
        f"{f.lender_name}: Thank you, {name}. We have recorded your promise to pay {amount} "
        f"by {when} on the loan ending {ref}. To pay: {how}. If your circumstances change, "
        f"call us on {f.lender_phone}. {_OPT_OUT['en']}",
    )


def _credit_notice(f: MessageFacts, t: str) -> Rendered:
    when = day(_need(f.report_date, t, "report_date"), f)
    _overdue_facts(f, t)
    total = money(f.total_overdue, f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    dpd = f.days_past_due
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】征信报送提示（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，您尾号{ref}的借款已逾期{dpd}天，逾期应还{total}。"
            f"如在{when}前仍未还清，我们将于{when}向征信机构报送该笔逾期信息，"
            f"这将记入您的个人信用报告。还款方式：{how}。如有异议或还款困难，请致电"
            f"{f.lender_phone}。{_OPT_OUT['zh-CN']}",
        )
    days = "day" if dpd == 1 else "days"
    return Rendered(
        f"{f.lender_name}: credit reporting notice (loan ending {ref})",
        f"{f.lender_name}: Dear {name}, the loan ending {ref} is {dpd} {days} overdue, with "
        f"{total} overdue. Unless it is paid in full before {when}, on {when} we will report "
        "this late payment to credit reporting agencies and it will appear on your credit "
        f"report. To pay: {how}. If you dispute this or are having difficulty, call "
        f"{f.lender_phone}. {_OPT_OUT['en']}",
    )


def _validation_notice(f: MessageFacts, t: str) -> Rendered:
    """Regulation F §1006.34: the itemisation and the end of the validation period, in the
    order of the model form (B-1): what was owed on the itemisation date, what was added and
    taken off since, what is owed now, and how and by when to dispute or ask for the original
    creditor (§1006.38 pauses collection until verification is sent)."""
    v = _need(f.validation, t, "validation")
    i = v.itemization
    ref, name, end = (
        mask_reference(f.loan_ref),
        mask_name(f.borrower_name),
        day(v.validation_end, f),
    )
    on = day(i.itemization_date, f)
    owed, now = money(i.amount_on_itemization, f), money(i.current_amount, f)
    interest, fees = money(i.interest_since, f), money(i.fees_since, f)
    paid, credited = money(i.payments_since, f), money(i.credits_since, f)
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】债务确认通知（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，这是关于您尾号{ref}借款的债务确认通知。"
            f"截至{on}，您应还{owed}。此后：新增利息{interest}；新增费用{fees}；"
            f"已还款{paid}；已减免或冲抵{credited}。目前应还合计{now}。"
            f"如您认为全部或部分金额有误，请在{end}前书面告知我们；您也可以在该日前书面要求"
            f"我们提供原始债权人的名称和地址。在我们寄出核实材料或上述信息之前，将暂停催收"
            f"有异议的款项。如未在{end}前提出，我们将视为上述信息无误。联系电话："
            f"{f.lender_phone}。{_OPT_OUT['zh-CN']}",
        )
    return Rendered(
        f"{f.lender_name}: validation notice (loan ending {ref})",
        f"{f.lender_name}: Dear {name}, this notice is about the loan ending {ref}. As of "
        f"{on}, you owed {owed}. Since then you were charged {interest} in interest and "
        f"{fees} in fees; you paid {paid} and were credited {credited}. Total amount of the "
        f"debt now: {now}. If you think all or part of it is wrong, tell us in writing by "
        f"{end}; by that date you may also ask us in writing for the name and address of the "
        "original creditor. We will stop collecting any amount you dispute until we send you "
        f"the verification or that information. If you do not write by {end}, we will "
        f"assume our information is correct. Call us on {f.lender_phone}. {_OPT_OUT['en']}",
    )


def _plan_reminder(f: MessageFacts, t: str) -> Rendered:
    amount = money(_need(f.next_due_amount, t, "next_due_amount"), f)
    due = day(_need(f.next_due_date, t, "next_due_date"), f)
    name, ref, how = mask_name(f.borrower_name), mask_reference(f.loan_ref), _how_to_repay(f, t)
    if f.language == "zh-CN":
        return Rendered(
            f"【{f.lender_name}】还款计划提醒（尾号{ref}）",
            f"【{f.lender_name}】{name}您好，您尾号{ref}借款的还款计划下一期{amount}"
            f"将于{due}到期。还款方式：{how}。如按计划还款有困难，请尽早致电"
            f"{f.lender_phone}。{_OPT_OUT['zh-CN']}",
        )
    return Rendered(
        f"{f.lender_name}: plan instalment due on {due} (loan ending {ref})",
        f"{f.lender_name}: Hi {name}, the next instalment of your plan for the loan ending "
        f"{ref}, {amount}, is due on {due}. To pay: {how}. If you cannot keep to the plan, "
        f"call us on {f.lender_phone} as early as you can. {_OPT_OUT['en']}",
    )


_TEMPLATES: Mapping[str, Callable[[MessageFacts, str], Rendered]] = {
    "reminder_before_due": _reminder_before_due,
    "sms_overdue": _sms_overdue,
    "email_overdue": _email_overdue,
    "emergency_contact": _emergency_contact,
    "visit_notice": _visit_notice,
    "promise_confirmation": _promise_confirmation,
    "credit_notice": _credit_notice,
    "plan_reminder": _plan_reminder,
    "validation_notice": _validation_notice,
}
TEMPLATES: tuple[str, ...] = tuple(_TEMPLATES)

# Templates whose words may go to someone other than the borrower.
THIRD_PARTY_TEMPLATES: frozenset[str] = frozenset({"emergency_contact"})


def render(template_id: str, facts: MessageFacts) -> Rendered:
    """The subject and body of ``template_id`` in ``facts.language``.

    Raises ``TemplateError`` for an unknown template or language, or a fact the template
    needs and the caller did not give; the message names the template and the fact.
    """
    build = _TEMPLATES.get(template_id)
    if build is None:
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
    return build(facts, template_id)
