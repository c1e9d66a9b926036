"""Content screening in zh-CN and en.

Patterns are deliberately narrow: they look for a claim or a demand, not for a topic, so that
"you may contact a free debt advice service" or "我们将依法处理" pass while "我是法院的" or
"borrow from your friends to pay" do not. Screening is a floor, not a substitute for
approved templates. Each category is a rule in each pack so it can cite its own source.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from arrears.core.compliance.pack import RuleFn, Situation

_I = re.IGNORECASE

CATEGORIES: Mapping[str, tuple[re.Pattern[str], ...]] = {
    # Claiming to be, or to act for, a court, the police or the government.
    "impersonation": (
        re.compile(
            r"(我们?是|这里是|来自|代表).{0,8}(法院|公安|警察|派出所|检察院|政府|司法局|执法)"
        ),
        re.compile(r"(法院|公安局|派出所|检察院)(的)?(通知|传票|立案|执行)"),
        re.compile(
            r"\b(this is|i am|i'm|we are|calling from|on behalf of)\b.{0,30}"
            r"\b(court|police|sheriff|government|marshal|attorney general|fbi|irs)\b",
            _I,
        ),
        re.compile(r"\b(court summons|arrest warrant|warrant for your arrest)\b", _I),
    ),
    "threats": (
        re.compile(r"(抓你|坐牢|拘留你|逮捕你|弄死|打断你|让你好看|后果自负|要你命|找人收拾)"),
        re.compile(
            r"\b(you will be arrested|have you arrested|go to (jail|prison)|"
            r"hurt you|you(['’]ll| will) regret|we know where you live)\b",
            _I,
        ),
    ),
    "insults": (
        re.compile(r"(老赖|骗子|废物|垃圾|不要脸|去死|人渣|无赖)"),
        re.compile(r"\b(deadbeat|loser|idiot|stupid|scum|liar|thief|worthless)\b", _I),
    ),
    "blacklist": (
        re.compile(r"(黑名单|拉黑全网|全网通缉|失信名单)"),
        re.compile(r"\b(blacklist(ed)?|black list)\b", _I),
    ),
    "borrow_to_repay": (
        re.compile(r"(借钱还|借款来还|以贷养贷|借贷还款|去借|网贷还|套现还|找(亲戚|朋友|家人)借)"),
        re.compile(
            r"\b(borrow\w*|take out (a|another) loan|get a (payday )?loan)\b.{0,40}"
            r"\b(to (re)?pay|and pay|for the payment)\b",
            _I,
        ),
        re.compile(r"\b(payday loan|borrow from (your )?(friends|family))\b", _I),
    ),
    "public_exposure": (
        re.compile(
            r"(曝光|公示|公告|群发|发给你的?(亲友|同事|联系人|通讯录)|通知你的?(单位|领导|同事|亲友))"
        ),
        re.compile(
            r"\b(expose you|publish your|post (it|this|your \w+) (on|online)|social media|"
            r"tell your (family|employer|boss|friends|neighbou?rs|colleagues))\b",
            _I,
        ),
    ),
    "extra_fees": (
        re.compile(r"(手续费|服务费|加急费|上门费|催收费|额外费用|处理费)"),
        re.compile(
            r"\b(collection fee|extra fee|processing fee|service charge|visit fee|"
            r"additional charge|admin(istration)? fee)\b",
            _I,
        ),
    ),
}

# Words that tell a third party a debt exists, or its amount.
_DEBT_WORDS = (
    re.compile(r"(欠款|欠债|欠钱|债务|逾期|还款|催收|借款|贷款|账单|未还)"),
    re.compile(
        r"\b(debt|debts|owe[sd]?|owing|overdue|arrears|loan|collection|collector|"
        r"payment|balance|past due|repay\w*)\b",
        _I,
    ),
    re.compile(r"([¥$£€]\s*\d|\d[\d,.]*\s*(元|块|万|pounds?|dollars?|usd|gbp|cny|rmb)\b)", _I),
)

# US opt-out wording for texts and emails (§1006.6(e)).
_OPT_OUT = (
    re.compile(r"\b((reply|text) stop|opt[- ]?out|unsubscribe)\b", _I),
    re.compile(r"(退订|回复\s*(T|TD|N)\b)", _I),
)


def find(category: str, text: str) -> list[str]:
    """The phrases in `text` that fall in `category` (empty when clean)."""
    return [m.group(0) for p in CATEGORIES[category] for m in p.finditer(text)]


def debt_disclosures(text: str) -> list[str]:
    return [m.group(0) for p in _DEBT_WORDS for m in p.finditer(text)]


def has_opt_out(text: str) -> bool:
    return any(p.search(text) for p in _OPT_OUT)


# --- screening many messages ------------------------------------------------------------------
# A day's messages are a few templates filled with amounts, dates and masked names: with every
# ASCII digit written as 0 they fall into a few thousand shapes. No pattern here tells one
# digit from another (checked below), so a text matches a pattern exactly when its shape does:
# each shape is screened once, and only a text whose shape matched is searched for the phrases.

_NONZERO_DIGIT = re.compile(r"[1-9]")  # re.sub is 3-4x faster than str.translate here
_DIGITS = frozenset(range(ord("0"), ord("9") + 1))


def digit_blind(pattern: re.Pattern[str]) -> bool:
    """Whether ``pattern`` treats every ASCII digit alike (no digit literal, partial range or
    backreference), so that writing digits as 0 never changes whether it matches."""
    # The parser behind re.compile; imported by name because it has no type stubs.
    sre: Any = importlib.import_module("re._parser")

    def ok(items: Any) -> bool:
        for op, arg in items:
            name = str(op)
            if name in ("LITERAL", "NOT_LITERAL") and arg in _DIGITS:
                return False
            if name == "RANGE" and _DIGITS & set(range(arg[0], arg[1] + 1)) not in (
                set(),
                _DIGITS,
            ):
                return False
            if name.startswith("GROUPREF"):
                return False
            if not all(ok(inner) for inner in nested(arg)):
                return False
        return True

    def nested(arg: Any) -> Iterator[Any]:
        # Sub-patterns (groups, branches, repeats, lookarounds) and the items of a [class].
        if isinstance(arg, sre.SubPattern):
            yield arg
        elif isinstance(arg, list | tuple):
            if arg and all(
                isinstance(x, tuple) and len(x) == 2 and hasattr(x[0], "name") for x in arg
            ):
                yield arg
            else:
                for x in arg:
                    yield from nested(x)

    return ok(sre.parse(pattern.pattern, pattern.flags))


assert all(digit_blind(p) for ps in CATEGORIES.values() for p in ps), "a pattern sees digits"


@functools.lru_cache(maxsize=1 << 17)  # a large book has tens of thousands of shapes
def _matching_categories(shape: str) -> frozenset[str]:
    return frozenset(c for c, ps in CATEGORIES.items() if any(p.search(shape) for p in ps))


@functools.lru_cache(maxsize=64)  # the category rules of one check ask about one text in turn
def _shape(text: str) -> str:
    return _NONZERO_DIGIT.sub("0", text)


def matching_categories(text: str) -> frozenset[str]:
    """The categories with a phrase in ``text``, screened by the text's digit-free shape."""
    return _matching_categories(_shape(text))


def screen(category: str) -> RuleFn:
    if category not in CATEGORIES:
        raise ValueError(f"unknown content category {category!r}")

    def evaluate(situation: Situation) -> Iterator[str]:
        text = situation.proposed.content
        if not situation.proposed.is_contact or category not in matching_categories(text):
            return
        found = find(category, text)
        if found:
            yield f"content says {', '.join(repr(f) for f in found)}"

    return evaluate


def opt_out_notice(situation: Situation) -> Iterator[str]:
    proposed = situation.proposed
    electronic = proposed.is_contact and proposed.channel in ("sms", "email")
    if electronic and not has_opt_out(proposed.content):
        yield f"the {proposed.channel} does not say how to opt out (e.g. 'Reply STOP')"
