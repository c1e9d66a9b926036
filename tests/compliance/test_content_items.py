"""Every prohibited-content item of REFERENCES.md, in each pack it applies to, in zh-CN and en.

Each item has several paraphrases that must be blocked by that item's rule, and near misses:
ordinary collection wording on the same topic (the loan itself, an offer of instalments, a
reassurance with a negation) that must pass, so that no rule is a blunt keyword ban.

Sources (REFERENCES.md): CN guidelines' prohibited conduct (impersonating courts, police or
government; violence, threats, insults, fraud; spreading private information; invented
blacklists; exaggerated amounts or consequences; extra fees; pushing the debtor to borrow to
repay; public notices). UK CONC 7.3.10 (pressure to pay unreasonably large amounts or to borrow
to pay), 7.11.1R-7.11.9R (official-looking documents, misrepresented authority, bailiffs,
action that cannot be taken or has not been taken, trade-body membership). US FDCPA §807(2)(A),
(4), (5), (7), (10) (15 U.S.C. 1692e) as Regulation F §1006.18 carries them.
"""

from __future__ import annotations

import pytest

from arrears.core.compliance import Contact

from .helpers import LONDON, NEW_YORK, SHANGHAI, at, call, context, decide, rule_ids

ZONE = {"cn": SHANGHAI, "us-reg-f": NEW_YORK, "uk-conc": LONDON}
PREFIX = {"cn": "cn", "us-reg-f": "us", "uk-conc": "uk"}

# item -> (zh-CN paraphrases, en paraphrases), every one of them a breach.
BAD: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "borrow-to-repay": (
        (
            "可以先从别的平台借点钱还上。",
            "您可以借网贷还款，今天务必处理。",
            "实在没钱就找朋友借钱先还上。",
            "建议您以贷还贷，先把这期结清。",
            "办张信用卡套现还一下就行。",
            "向家人借一点周转一下吧。",
        ),
        (
            "You can take out a loan from another lender to clear this.",
            "Why not borrow from your family to pay this month?",
            "Put it on a credit card and the arrears are gone.",
            "Ask your parents for the money, that is the quickest way.",
            "A payday loan would sort this out today.",
        ),
    ),
    "false-powers": (
        (
            "再不还款我们将冻结你名下所有银行卡。",
            "我们会申请查封你的房子。",
            "明天上门扣押你的家具。",
            "将从你的工资里强制划扣。",
        ),
        (
            "Our bailiffs will visit you on Monday.",
            "Enforcement agents have been instructed and are on their way.",
            "We will seize your goods to cover the balance.",
            "We can garnish your wages from next month.",
            "We are sending the bailiffs round.",
        ),
    ),
    "legal-action-claims": (
        (
            "我们已经向法院起诉您。",
            "法院已立案，请等待传唤。",
            "诉讼程序已经启动。",
            "我司已于昨日提起诉讼。",
        ),
        (
            "Court action has been taken against you.",
            "We have issued court proceedings.",
            "A county court judgment has been entered against you.",
            "You have been sued for the full balance.",
            "Legal proceedings have now been started.",
        ),
    ),
    "exaggerated": (
        (
            "不还钱会影响你子女上学和政审。",
            "逾期会连累你的家人。",
            "你这辈子终身无法贷款。",
            "以后坐不了飞机高铁。",
            "你已涉嫌诈骗，要追究刑事责任。",
            "欠款马上翻倍。",
        ),
        (
            "Your family will be held liable for this debt.",
            "Not paying is a criminal offence.",
            "You will never get a mortgage again.",
            "Your balance will double by next week.",
        ),
    ),
    "fraud": (
        (
            "请把钱转到我个人的银行卡上。",
            "直接用我的微信转账就行。",
            "还款打给催收员的支付宝。",
        ),
        (
            "Transfer the payment to my personal account today.",
            "Send it to my own bank account and I will mark it paid.",
            "You can pay the balance in gift cards.",
        ),
    ),
    "impersonation": (
        (
            "我们是法院的，请立即还款。",
            "这里是公安局经侦大队。",
            "法院通知：您已被列为被执行人。",
            "律师最后通牒：三日内还款。",
        ),
        (
            "This is Officer Brown calling from the police department.",
            "You will receive a court summons tomorrow.",
            "FINAL COURT NOTICE: pay now.",
            "We are calling on behalf of the county court.",
        ),
    ),
    "pressure-full-payment": (
        (
            "今天必须全额还清，否则后果严重。",
            "我们不接受分期，请一次性结清。",
            "立即一次性还清全部欠款。",
        ),
        (
            "You must pay the full balance today.",
            "You need to pay the whole amount within 24 hours.",
            "We cannot accept less than the full amount.",
            "We will not accept token payments.",
        ),
    ),
    "trade-body": (
        ("我们是英国信贷服务协会(CSA)会员。", "本公司已加入融资租赁协会。"),
        (
            "As a member of the Credit Services Association we must act.",
            "We are accredited by the FLA.",
        ),
    ),
}

# The packs each item applies to (and so has a rule in).
PACKS_FOR = {
    "borrow-to-repay": ("cn", "uk-conc"),  # no US source in REFERENCES.md
    "false-powers": ("cn", "us-reg-f", "uk-conc"),
    "legal-action-claims": ("cn", "us-reg-f", "uk-conc"),
    "exaggerated": ("cn", "us-reg-f", "uk-conc"),
    "fraud": ("cn", "us-reg-f", "uk-conc"),
    "impersonation": ("cn", "us-reg-f", "uk-conc"),
    "pressure-full-payment": ("uk-conc",),
    "trade-body": ("uk-conc",),
}

# Ordinary collection wording near each item's topic: must pass every pack.
CLEAN: dict[str, tuple[str, ...]] = {
    "borrow-to-repay": (
        "您的借款已逾期3天，请于今日还款。",
        "您可以登录APP查看借款详情并还款。",
        "如有困难可申请分期还款，也可以和家人商量一个还款计划。",
        "请不要借钱还款，以免加重负担，我们可以协商分期。",
        "我们不会要求您以贷还贷。",
        "Your loan is 3 days overdue; please repay today.",
        "Please don't borrow to pay this; call us about an affordable plan.",
        "We will never ask you to take out another loan to pay us.",
    ),
    "false-powers": (
        "我们不会冻结您的银行卡，请放心。",
        "We will not send bailiffs; please call us to agree a plan.",
        "We can take your payment over the phone.",
    ),
    "legal-action-claims": (
        "如仍未还款，我们可能依法向法院起诉。",
        "我们将依法处理。",
        "If the arrears are not cleared we may start court proceedings.",
        "No court action has been taken.",
    ),
    "exaggerated": (
        "逾期将记入您的个人信用报告。",
        "我们不会联系您的家人。",
        "Missed payments are reported to credit reference agencies.",
        "This is not a criminal matter; please talk to us.",
    ),
    "fraud": (
        "请通过APP还款，我们不会要求您向个人账户转账。",
        "We will never ask you to pay into a personal account.",
        "Pay in the app or by bank transfer to the account on your statement.",
    ),
    "impersonation": (
        "如需核实来电身份，请拨打官方客服电话。",
        "If we start court proceedings we will write to you first.",
    ),
    "pressure-full-payment": (
        "如暂时无法全额还款，请尽早致电，我们可以商量分期。",
        "The full balance is now due; if you cannot pay it all, we can agree a plan.",
        "You can pay the full amount or call us to arrange instalments.",
    ),
    "trade-body": (
        "Free debt advice is available from StepChange or National Debtline.",
        "如需免费债务咨询，可联系公益机构。",
    ),
}


def letter(pack: str, text: str) -> Contact:
    return call(at("2026-03-02 10:00", ZONE[pack]), channel="letter", content=text)


CASES = [
    (pack, item, language, text)
    for item, (zh, en) in BAD.items()
    for pack in PACKS_FOR[item]
    for language, texts in (("zh-CN", zh), ("en", en))
    for text in texts
]


@pytest.mark.parametrize(("pack", "item", "language", "text"), CASES)
def test_each_item_is_blocked_by_its_rule(pack: str, item: str, language: str, text: str) -> None:
    decision = decide(pack, letter(pack, text), ctx=context(ZONE[pack]))
    assert f"{PREFIX[pack]}.content.{item}" in rule_ids(decision), (language, text)
    assert not decision.allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize("text", [t for texts in CLEAN.values() for t in texts])
def test_near_misses_pass(pack: str, text: str) -> None:
    decision = decide(pack, letter(pack, text), ctx=context(ZONE[pack]))
    assert decision.allowed, [v.message for v in decision.violations]


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize(
    "text", ["我们已经向法院起诉您，请联系我们。", "Court action has been taken against you."]
)
def test_saying_court_action_was_taken_is_true_when_it_is_on_record(pack: str, text: str) -> None:
    on_record = context(ZONE[pack], legal_action_on_record=True)
    assert decide(pack, letter(pack, text), ctx=on_record).allowed
    rule = f"{PREFIX[pack]}.content.legal-action-claims"
    assert rule in rule_ids(decide(pack, letter(pack, text), ctx=context(ZONE[pack])))


def test_a_trade_body_the_lender_belongs_to_may_be_named() -> None:
    text = "As a member of the Credit Services Association we follow its code."
    member = context(LONDON, trade_bodies=frozenset({"CSA"}))
    assert decide("uk-conc", letter("uk-conc", text), ctx=member).allowed
    other = context(LONDON, trade_bodies=frozenset({"FLA"}))
    assert "uk.content.trade-body" in rule_ids(
        decide("uk-conc", letter("uk-conc", text), ctx=other)
    )


@pytest.mark.parametrize(
    "text",
    [
        "You can take out a loan from another lender to clear this.",
        "You must pay the full balance today.",
        "As a member of the Credit Services Association we must act.",
    ],
)
def test_uk_only_items_have_no_rule_in_the_us_pack(text: str) -> None:
    # REFERENCES.md gives these a UK source only; the US pack must not pretend otherwise.
    assert decide("us-reg-f", letter("us-reg-f", text), ctx=context(NEW_YORK)).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_a_negation_does_not_excuse_a_threat_or_an_insult(pack: str) -> None:
    # "不还钱就…" and "if you do not pay …" are conditions, not reassurances.
    for text in ("不还钱就让你坐牢。", "If you do not pay we will tell your employer."):
        assert not decide(pack, letter(pack, text), ctx=context(ZONE[pack])).allowed
