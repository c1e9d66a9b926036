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
    # Claiming to be, or to act for, a court, the police or the government, or dressing a
    # message up as an official document (UK CONC 7.11: "official-looking documents").
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
        re.compile(
            r"\b(official|final) (court|legal|enforcement|government) (notice|warning)\b", _I
        ),
        re.compile(r"(法院|法务|律师|司法)(最后|最终)?(通牒|警告函|催告函|传票)"),
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
    # The collector urging the debtor to borrow (another lender, a platform, a card, friends
    # or family) to repay. A word for the loan itself (借款, "your loan") is not a push.
    "borrow_to_repay": (
        re.compile(r"(以贷还贷|以贷养贷|借新还旧|以卡养卡|拆东墙补西墙|撸口子)"),
        re.compile(
            r"(借(点|些|一点|一些|一笔|笔)?(钱|资金)|借款来|借贷|套现|刷信用卡|办(张|个)?信用卡)"
            r".{0,12}(还|补上|填上|周转)"
        ),
        re.compile(
            r"(借|申请|下载|找|用|走|通过)(一下|个|点|些)?(网贷|小贷|贷款平台|其他平台|别的平台|"
            r"其他贷款|别的贷款|信用卡|花呗|白条|高利贷|其他(银行|机构)|别的(银行|机构))"
            r".{0,10}(还|补|填|周转)"
        ),
        re.compile(r"(找|向|跟)(你的?|您的?)?(亲戚|朋友|家人|父母|同事|亲友|家里人?)(借|凑|周转)"),
        re.compile(r"(去|先)借(一下|点|些|一点)"),
        re.compile(
            r"\b(borrow\w*|take out (a|another) loan|get a (payday )?loan)\b.{0,40}"
            r"\b(to (re)?pay|and pay|for the payment|to clear|to cover|to settle)\b",
            _I,
        ),
        re.compile(r"\b(payday loan|borrow from (your )?(friends|family))\b", _I),
        re.compile(
            r"\b(loan|credit card|overdraft|payday lender|another lender|other lenders?)\b"
            r".{0,30}\bto (clear|cover|settle|pay off|pay) (this|the|your)\b",
            _I,
        ),
        re.compile(r"\b(use|put it on|charge it to|max out) (a|your|another) credit card\b", _I),
        re.compile(
            r"\bask (your )?(friends|family|parents|relatives|employer) (for (the )?money|"
            r"to lend)\b",
            _I,
        ),
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
    # Powers a lender does not have without a court: bailiffs, seizing goods, freezing
    # accounts, garnishing wages (UK CONC 7.11.2G, 7.11.6R; FDCPA §807(4),(5); CN
    # exaggerated consequences).
    "false_powers": (
        re.compile(
            r"(冻结|查封|扣押|没收|拍卖|划扣)(你|您)?(的)?(名下)?(所有|全部)?"
            r"(银行卡|账户|工资|房子|房产|车|财产|资产|家具|东西|微信|支付宝)"
        ),
        re.compile(r"(上门扣押|上门搬|搬走你|拉走你的|强制划扣)"),
        re.compile(
            r"\b(our )?(bailiffs?|enforcement agents?|enforcement officers?|sheriffs?)\b"
            r".{0,30}\b(will|are going to|shall|have been (sent|instructed)|on (their|the) way|"
            r"visit|call|attend|come|be sent)\b",
            _I,
        ),
        re.compile(
            r"\b(send|instruct|sending|instructing) (the |our )?(bailiffs?|enforcement agents?)\b",
            _I,
        ),
        re.compile(
            r"\b(seize|remove|repossess|confiscate|take away)\b.{0,20}"
            r"\b(goods|belongings|possessions|car|vehicle|furniture|property|home|house|assets)\b",
            _I,
        ),
        re.compile(
            r"\b(garnish|freeze|seize|attach)\b.{0,15}\b(wages|salary|pay ?check|bank account|"
            r"account|benefits)\b",
            _I,
        ),
    ),
    # Saying legal action has been taken (UK CONC 7.11.9R; FDCPA §807(2)(A),(5),(10)): only
    # true when proceedings are on record (``Context.legal_action_on_record``).
    "legal_action_claims": (
        re.compile(
            r"已(经|于)?.{0,6}(向法院)?(起诉|立案|提起诉讼|申请(强制)?执行|提交法院|移交法院)"
        ),
        re.compile(r"(法院|仲裁委)(已经?|已于.{0,8})(立案|受理|判决|裁决|发出)"),
        re.compile(r"(诉讼|起诉|立案|仲裁)(程序)?已(经)?(启动|开始|提交|受理)"),
        re.compile(
            r"\b(court (action|proceedings)|legal (action|proceedings)|a (claim|lawsuit|suit))\b"
            r".{0,15}\b(has|have) (now )?(been )?(taken|started|begun|issued|filed|commenced)\b",
            _I,
        ),
        re.compile(
            r"\bwe have (now )?(sued|issued (court )?proceedings|filed (a )?(suit|lawsuit|claim)|"
            r"taken (you to court|legal action)|started (court|legal) (action|proceedings))\b",
            _I,
        ),
        re.compile(
            r"\b(county court )?judg(e)?ment (has been|was|is being) "
            r"(entered|registered|obtained|made|issued)\b",
            _I,
        ),
        re.compile(r"\bccjs?\b.{0,20}\b(issued|registered|entered)\b", _I),
        re.compile(r"\byou (have been|are being|were) sued\b", _I),
    ),
    # Exaggerated amounts or consequences (CN guidelines; FDCPA §807(2)(A),(7); CONC 7.11).
    "exaggerated": (
        re.compile(r"(影响|连累|牵连)(到)?(你|您)?(的)?(子女|孩子|家人|全家|亲属|父母|家庭)"),
        re.compile(r"(终身|永远|一辈子)(都)?(不能|无法|没法|别想)"),
        re.compile(r"(坐不了|不能坐|无法乘坐|禁止乘坐)(飞机|高铁|火车)"),
        re.compile(r"(欠款|债务|利息|罚息|金额|欠的钱)(将|会|马上)?(翻倍|翻番|翻几倍|滚到)"),
        re.compile(r"(涉嫌(诈骗|犯罪|恶意透支)|(追究|承担)(你的?|您的?)?刑事责任|构成.{0,4}罪)"),
        re.compile(
            r"\byour (children|kids|family|relatives|spouse|parents|partner) "
            r"(will|must|are liable to|have to) (pay|be (held )?(liable|responsible))\b",
            _I,
        ),
        re.compile(
            r"\b(criminal (charges|offen[cs]e|record|prosecution)|"
            r"(committed|guilty of) (a crime|fraud|an offen[cs]e))\b",
            _I,
        ),
        re.compile(
            r"\bnever (be able to )?(get|obtain|take out) (a |any )?(loan|credit|mortgage)\b", _I
        ),
        re.compile(
            r"\b(debt|balance|amount|interest)\b.{0,15}\b(will )?(double|triple|treble)s?\b", _I
        ),
    ),
    # Collecting into a person's own account: the lender's channels only (CN fraud; FDCPA
    # §807(10) deceptive means; CONC 7.11.1R).
    "fraud": (
        re.compile(
            r"(转|打|汇|付|还)(款|钱|账)?(到|至|给|进)(我的?|我个人|个人|私人|催收员|业务员|我们员工)"
            r"(的)?(账户|账号|银行卡|卡|微信|支付宝)"
        ),
        re.compile(r"(我的?|个人|私人)(微信|支付宝|银行卡|账户|账号)(转账|收款|还款)"),
        re.compile(
            r"\b(pay|transfer|send|wire)\b.{0,25}\b(my|the agent's|a|your collector's) "
            r"(personal|private|own) (account|bank account|card|wallet)\b",
            _I,
        ),
        re.compile(
            r"\b(pay|payment)\b.{0,20}\b(in )?(gift cards?|itunes cards?|bitcoin|crypto)\b", _I
        ),
    ),
    # Pressure to pay an unreasonably large amount at once, or refusing any smaller
    # arrangement (UK CONC 7.3.10).
    "pressure_full_payment": (
        re.compile(
            r"\b(must|have to|need to|required to|expected to)\b.{0,15}\bpay\b.{0,10}"
            r"\b(the )?(full|whole|entire|total)\b.{0,20}"
            r"\b(today|now|immediately|at once|within \d+ hours|by tomorrow)\b",
            _I,
        ),
        re.compile(
            r"\b(cannot|can't|will not|won't|do not|don't|refuse to) accept (any )?"
            r"(less than|anything less|part(ial)? payments?|small(er)? payments?|"
            r"token payments?|instal(l)?ments|a payment plan)\b",
            _I,
        ),
        re.compile(
            r"(必须|马上|立即|今天|立刻|今日内).{0,6}(全额|一次性|全部)(还清|结清|还款|付清)"
        ),
        re.compile(r"(不接受|不能|不可以|不同意)(任何)?(分期|部分还款|少还|协商还款|还款计划)"),
    ),
}

# Categories where a negation just before the phrase turns it into a reassurance ("我们不会
# 通知您的单位", "we will never send bailiffs", "不收取任何上门费"). Not for insults, and not
# for refusals, which are negative by nature.
NEGATABLE: frozenset[str] = frozenset(CATEGORIES) - {"insults", "pressure_full_payment"}

_NEGATION = (
    # a Chinese negation with at most four characters and no clause break before the phrase
    re.compile(
        r"(不会|不要|请勿|切勿|勿|不得|无需|不需要|不必|避免|不收取?|不存在|没有|并非|不是|决不|"
        r"绝不|从不|别(?![的人处家]))[^，。！？；,.!?;\n]{0,4}$"
    ),
    # an English one with at most two words between it and the phrase, or "never ask you to"
    re.compile(
        r"\b(do not|don't|dont|never|(?<!why )not|no|no need to|avoid|won't|will not|without)\s+"
        r"((ask|tell|require|request|expect|want|need)\s+(you\s+)?(to\s+)?|(\w+\s+){0,2})$",
        _I,
    ),
)
_LOOKBEHIND = 40  # characters before a phrase in which a negation is looked for


def negated(text: str, start: int) -> bool:
    """Whether the phrase starting at ``start`` is directly negated ("不会…", "never …")."""
    before = text[max(0, start - _LOOKBEHIND) : start]
    return any(p.search(before) for p in _NEGATION)


# Trade bodies a UK lender may claim to belong to (CONC 7.11.4R), by the code a lender lists
# in ``Context.trade_bodies``: the names and abbreviations that stand for each.
TRADE_BODIES: Mapping[str, re.Pattern[str]] = {
    "CSA": re.compile(r"(\bCSA\b|Credit Services Association|信贷服务协会)", _I),
    "FLA": re.compile(r"(\bFLA\b|Finance (and|&) Leasing Association|融资租赁协会)", _I),
    "UK Finance": re.compile(r"(\bUK Finance\b|英国金融协会)", _I),
    "CCTA": re.compile(r"(\bCCTA\b|Consumer Credit Trade Association|消费信贷行业协会)", _I),
    "LSB": re.compile(r"(Lending Standards Board|借贷标准委员会)", _I),
    "CIVEA": re.compile(r"(\bCIVEA\b|Civil Enforcement Association)", _I),
}
_MEMBERSHIP = (
    re.compile(
        r"\b(members?( firm)? of|membership of|accredited by|registered with|approved by|"
        r"belong to|part of)\b.{0,40}$",
        _I,
    ),
    re.compile(r"(会员|成员|认证|认可|加入了?)"),
)


def trade_body_claims(text: str) -> list[str]:
    """The trade bodies ``text`` claims membership of (by code)."""
    claimed: list[str] = []
    for code, name in TRADE_BODIES.items():
        for m in name.finditer(text):
            before = text[max(0, m.start() - 50) : m.start()]
            after = text[m.end() : m.end() + 8]
            if _MEMBERSHIP[0].search(before) or _MEMBERSHIP[1].search(before[-12:] + after):
                claimed.append(code)
                break
    return claimed


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
    """The phrases in `text` that fall in `category` (empty when clean); a phrase directly
    negated is a reassurance, not a claim, in the categories that allow it (``NEGATABLE``)."""
    check_negation = category in NEGATABLE
    return [
        m.group(0)
        for p in CATEGORIES[category]
        for m in p.finditer(text)
        if not (check_negation and negated(text, m.start()))
    ]


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
assert all(digit_blind(p) for p in _NEGATION), "a negation sees digits"


@functools.lru_cache(maxsize=1 << 17)  # a large book has tens of thousands of shapes
def _matching_categories(shape: str) -> frozenset[str]:
    # A negation only ever removes a phrase, so the plain search is a cheap first filter.
    hit = (c for c, ps in CATEGORIES.items() if any(p.search(shape) for p in ps))
    return frozenset(c for c in hit if c not in NEGATABLE or find(c, shape))


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


def legal_action_claims(situation: Situation) -> Iterator[str]:
    """Saying court action has been taken, unless proceedings are on record."""
    if not situation.context.legal_action_on_record:
        yield from _screen_legal(situation)


_screen_legal = screen("legal_action_claims")


def trade_body_membership(situation: Situation) -> Iterator[str]:
    """A claim of membership of a trade body the lender does not belong to."""
    proposed = situation.proposed
    if not proposed.is_contact:
        return
    for code in trade_body_claims(proposed.content):
        if code not in situation.context.trade_bodies:
            yield f"content claims membership of {code}, which is not on record"
