"""What we tell a borrower when a visitor, a caller or a payment request cannot be verified:
the seed's advice (pay only through the lender's own channels; give a visitor no money; if
pressed, call the police), in the borrower's language, as a person at the lender would say it.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")

_NOT_VERIFIED: dict[Language, tuple[str, ...]] = {
    "zh-CN": (
        "我们无法确认此人是我们的工作人员或委托的催收人员。",
        "请只通过我们官方的 App、官网或官方客服电话还款，不要向任何个人账户转账。",
        "不要把现金或任何财物交给上门的人，也不要为“协商还款”“修复征信”支付任何费用：我们从不收取这类费用。",
        "如果对方纠缠、威胁或不肯离开，请立即拨打 110 报警。",
    ),
    "en": (
        "We cannot confirm that this person works for us or for a collection agency we use.",
        "Please pay only through our official app, website or customer service number, and never "
        "transfer money to a personal account.",
        "Do not hand cash or anything else to a visitor, and do not pay any fee to 'negotiate' "
        "your debt or 'repair' your credit record: we never charge such fees.",
        "If the person pressures or threatens you or will not leave, call the police (110 in "
        "China) straight away.",
    ),
}

# The last line: whether the failed check is on our record already (online) or not (offline).
_KEEP_EVIDENCE: dict[tuple[Language, bool], str] = {
    ("zh-CN", True): "请保留短信、通话录音和来访记录（时间、对方姓名、说了什么），"
    "我们已记下这次核验失败，会跟进处理。",
    ("zh-CN", False): "请保留短信、通话录音和来访记录（时间、对方姓名、说了什么），"
    "并通过官方客服电话告诉我们。",
    ("en", True): "Keep the texts, call recordings and a note of the visit (time, the person's "
    "name, what was said). We have recorded this failed check and will follow it up.",
    ("en", False): "Keep the texts, call recordings and a note of the visit (time, the person's "
    "name, what was said), and tell us on our official customer service number.",
}

_NOT_OFFICIAL: dict[Language, tuple[str, ...]] = {
    "zh-CN": (
        "这不是我们的官方电话号码或还款账户。",
        "请不要回拨这个号码，也不要向这个账户付款：还款请只通过我们官方的 App、官网"
        "或官方客服电话。",
        "我们从不要求向个人账户转账，也从不收取“协商还款”“修复征信”之类的费用。",
        "如果有人以此施压或威胁您，请拨打 110 报警。",
        "请保留短信、通话记录和对方的账户信息，我们已记下这次情况，会跟进处理。",
    ),
    "en": (
        "This is not one of our official phone numbers or repayment accounts.",
        "Please do not call this number back or pay this account: pay only through our official "
        "app, website or customer service number.",
        "We never ask you to pay a personal account, and we never charge a fee to 'negotiate' "
        "your debt or 'repair' your credit record.",
        "If someone uses it to pressure or threaten you, call the police (110 in China).",
        "Keep the texts, call logs and the account details you were given. We have recorded this "
        "and will follow it up.",
    ),
}

_LOCKED: dict[Language, str] = {
    "zh-CN": "为防止有人反复试探核验码，核验已暂停，请稍后再试，或直接拨打我们的官方客服电话核实。",
    "en": "To stop anyone trying code after code, checking is paused for now. Please try again "
    "later, or call our official customer service number to check.",
}


def language_of(value: str | None) -> Language:
    """A stored or requested language; anything we do not write in falls back to zh-CN."""
    return "en" if value == "en" else "zh-CN"


def not_verified(
    language: Language, locked: bool = False, recorded: bool = True
) -> tuple[str, ...]:
    """``recorded``: the failed check is on the lender's record (not so for an offline check)."""
    lines = (*_NOT_VERIFIED[language], _KEEP_EVIDENCE[language, recorded])
    return (_LOCKED[language], *lines) if locked else lines


def not_official(language: Language) -> tuple[str, ...]:
    return _NOT_OFFICIAL[language]
