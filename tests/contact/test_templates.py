"""Templates: what each says (checked against literal expectations written from the seed and the
brief, not from the renderer), what the emergency-contact text must not say, and that every
rendered message passes the content rules of all three packs through the real gate.

Sources: the seed asks the SMS to state the detailed amount owed and how to repay; Reg F
§1006.6(e) opt-out wording on texts and emails; §1006.10, GB/T 45251-2025 / NIFA and CONC 7.9:
no disclosure of the debt to third parties; Reg F §1006.34 for the validation notice.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.core.compliance import Contact, Context, check
from arrears.core.compliance.packs import get_pack
from arrears.core.compliance.rules.content import CATEGORIES, debt_disclosures, find, has_opt_out
from arrears.core.contact.templates import (
    LANGUAGES,
    TEMPLATES,
    THIRD_PARTY_TEMPLATES,
    BankTransfer,
    Collector,
    MessageFacts,
    TemplateError,
    babel_money,
    check_text_set,
    mask_name,
    mask_reference,
    money,
    render,
)
from arrears.core.money import MINOR_UNITS
from arrears.core.texts import TextSet, template_fields
from arrears.services.close import gate_phase
from arrears.services.settings import default_settings
from arrears.services.texts import message_texts, read_catalog, read_catalog_ids

TEXTS = message_texts()

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = {
    "cn": SHANGHAI,
    "us-reg-f": ZoneInfo("America/New_York"),
    "uk-conc": ZoneInfo("Europe/London"),
}
PACKS = tuple(ZONES)
NAMES = {"zh-CN": "王小明", "en": "John Smith"}
LENDERS = {"zh-CN": "安心消费金融", "en": "Acme Lending"}  # "Lending" implies a debt on purpose


def facts(language: str, **over: object) -> MessageFacts:
    base = MessageFacts(
        language=language,
        lender_name=LENDERS[language],
        lender_phone="400-820-8888",
        borrower_name=NAMES[language],
        loan_ref="JB20260102009876",
        currency="CNY",
        overdue_principal=123456,
        overdue_interest=2345,
        overdue_penalty=185,
        days_past_due=5,
        due_date=date(2026, 3, 2),
        next_due_date=date(2026, 4, 2),
        next_due_amount=88800,
        repay_app="支付宝 > 借呗",
        bank_transfer=BankTransfer("招商银行", "安心消费金融有限公司", "6225880012345678", "RP-77"),
        collectors=(Collector("张三", "C001"), Collector("李四", "C002")),
        visit_start=datetime(2026, 3, 10, 14, 0, tzinfo=SHANGHAI),
        visit_end=datetime(2026, 3, 10, 16, 0, tzinfo=SHANGHAI),
        promise_date=date(2026, 3, 12),
        promise_amount=50000,
        report_date=date(2026, 4, 1),
        # The validation notice: 1,312.96 then, +23.45 interest, +5.00 fees, -80.00 paid,
        # -1.00 credited: 1,260.41 now.
        itemization_date=date(2026, 2, 1),
        amount_on_itemization=131296,
        interest_since=2345,
        fees_since=500,
        payments_since=8000,
        credits_since=100,
        current_amount=126041,
        validation_end=date(2026, 4, 6),
        mailing_address="PO Box 1234, Springfield, IL 62701",
    )
    return replace(base, **over)  # type: ignore[arg-type]


# A second sample: another currency, one day overdue, only the app to pay in.
SAMPLES = {
    "full": lambda lang: facts(lang),
    "usd-app-only": lambda lang: facts(
        lang,
        currency="USD",
        overdue_principal=5000,
        overdue_interest=0,
        overdue_penalty=1,
        days_past_due=1,
        bank_transfer=None,
        repay_app="Acme app > Pay",
        due_date=None,
        next_due_amount=2500,
    ),
}


def _proposal(pack: str, template: str, text: str) -> tuple[Contact, Context]:
    third = template in THIRD_PARTY_TEMPLATES
    contact = Contact(
        at=datetime(2026, 3, 3, 10, 0, tzinfo=ZONES[pack]),  # a Tuesday, mid-morning
        debt_id="L1",
        channel="email" if template.startswith("email") else "sms",
        party="emergency_contact" if third else "debtor",
        number="+8613900000000" if third else "+8613800000000",
        purpose="plan_reminder" if template == "plan_reminder" else "collection",
        content=text,
    )
    context = Context(
        timezones=(ZONES[pack],),
        reachable=not third,  # third parties only when the debtor cannot be reached
        plan_in_force=template == "plan_reminder",
    )
    return contact, context


CASES = [(t, lang, s) for t in TEMPLATES for lang in LANGUAGES for s in SAMPLES]


@pytest.mark.parametrize(("template", "language", "sample"), CASES)
@pytest.mark.parametrize("pack", PACKS)
def test_every_message_passes_the_gate_of_every_pack(
    template: str, language: str, sample: str, pack: str
) -> None:
    rendered = render(template, SAMPLES[sample](language), TEXTS)
    # What the recipient reads: the subject travels with an email (an SMS carries the body).
    contact, context = _proposal(pack, template, rendered.subject + "\n" + rendered.body)
    found = get_pack(pack)
    assert found is not None
    decision = check((), contact, context, found)
    assert decision.allowed, [v.message for v in decision.violations]
    assert decision.warnings == ()


@pytest.mark.parametrize(("template", "language", "sample"), CASES)
def test_no_prohibited_phrase_in_any_category(template: str, language: str, sample: str) -> None:
    rendered = render(template, SAMPLES[sample](language), TEXTS)
    for category in CATEGORIES:
        assert find(category, rendered.subject + "\n" + rendered.body) == [], category


@pytest.mark.parametrize(("template", "language", "sample"), CASES)
def test_every_message_says_how_to_opt_out_and_masks_the_borrower(
    template: str, language: str, sample: str
) -> None:
    f = SAMPLES[sample](language)
    rendered = render(template, f, TEXTS)
    assert has_opt_out(rendered.body)
    text = rendered.subject + rendered.body
    assert NAMES[language] not in text
    assert {"zh-CN": "王**", "en": "J*** S****"}[language] in text
    assert f.loan_ref not in text


def test_the_gate_would_block_an_overdue_sms_sent_to_an_emergency_contact() -> None:
    # The control for the test above: the same check fails when the words disclose the debt.
    for language in LANGUAGES:
        body = render("sms_overdue", facts(language), TEXTS).body
        for pack in PACKS:
            contact, context = _proposal(pack, "emergency_contact", body)
            found = get_pack(pack)
            assert found is not None
            rules = {v.rule for v in check((), contact, context, found).violations}
            assert any(r.endswith("third-party.no-disclosure") for r in rules), (pack, rules)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("sample", SAMPLES)
def test_emergency_contact_discloses_nothing_about_the_debt(language: str, sample: str) -> None:
    f = SAMPLES[sample](language)
    rendered = render("emergency_contact", f, TEXTS)
    text = rendered.subject + "\n" + rendered.body
    assert debt_disclosures(text) == []
    assert f.lender_name not in text  # "消费金融" / "Lending" would tell them what it is about
    assert mask_reference(f.loan_ref) not in text
    assert not re.search(r"\d+[.,]\d\d", text)  # no amount in any format
    for word in ("逾期", "欠", "还", "贷", "借", "金融", "催"):
        assert word not in text
    for word in ("overdue", "late", "debt", "owe", "loan", "pay", "lend", "credit", "arrears"):
        assert word not in text.lower()
    # It asks only that the borrower get in touch, on the lender's verified number.
    assert f.lender_phone in rendered.body


def test_sms_overdue_states_each_component_days_and_how_to_repay_zh() -> None:
    body = render("sms_overdue", facts("zh-CN"), TEXTS).body
    # 123456 + 2345 + 185 fen = 125986 fen.
    for part in ("逾期5天", "共¥1,259.86", "本金¥1,234.56", "利息¥23.45", "罚息¥1.85"):
        assert part in body
    for part in ("支付宝 > 借呗", "招商银行", "6225880012345678", "附言RP-77", "400-820-8888"):
        assert part in body
    assert "尾号9876" in body


def test_sms_overdue_states_each_component_days_and_how_to_repay_en() -> None:
    body = render("sms_overdue", facts("en"), TEXTS).body
    for part in (
        "5 days overdue",
        "CN¥1,259.86",
        "principal CN¥1,234.56",
        "interest CN¥23.45",
        "penalty interest CN¥1.85",
        "account 6225880012345678",
        "reference RP-77",
        "loan ending 9876",
    ):
        assert part in body
    one_day = render("sms_overdue", SAMPLES["usd-app-only"]("en"), TEXTS).body
    assert "1 day overdue" in one_day
    assert "$50.01" in one_day and "principal $50.00" in one_day and "$0.01" in one_day


def test_dates_money_and_the_visit_in_each_language() -> None:
    zh = render("visit_notice", facts("zh-CN"), TEXTS).body
    assert "2026年3月10日 14:00–16:00" in zh
    assert "张三（工号C001）" in zh and "李四（工号C002）" in zh
    en = render("visit_notice", facts("en"), TEXTS).body
    assert "March 10, 2026 from 14:00 to 16:00" in en
    assert "张三 (ID C001)" in en and "李四 (ID C002)" in en
    assert "will not enter your home without your consent" in en
    assert "2026年4月1日" in render("credit_notice", facts("zh-CN"), TEXTS).body
    assert "April 1, 2026" in render("credit_notice", facts("en"), TEXTS).body
    promise = render("promise_confirmation", facts("en"), TEXTS).body
    assert "CN¥500.00 by March 12, 2026" in promise
    plan = render("plan_reminder", facts("zh-CN"), TEXTS).body
    assert "¥888.00" in plan and "2026年4月2日" in plan
    assert "¥888.00" in render("reminder_before_due", facts("zh-CN"), TEXTS).body


def test_masking() -> None:
    assert mask_name("王小明") == "王**"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("王**") == "王**"
    assert mask_name("John Smith") == "J*** S****"
    assert mask_name("J*** S****") == "J*** S****"
    assert mask_name("  ") == ""
    assert mask_reference("JB20260102009876") == "9876"


def test_unknown_template_or_language_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match=r"unknown template 'sms_later'; known: .*sms_overdue"):
        render("sms_later", facts("en"), TEXTS)
    with pytest.raises(TemplateError, match=r"language 'fr' is not supported; supported: zh-CN"):
        render("sms_overdue", replace(facts("en"), language="fr"), TEXTS)
    with pytest.raises(TemplateError, match=r"currency: unknown currency 'XYZ'"):
        render("sms_overdue", facts("en", currency="XYZ"), TEXTS)


@pytest.mark.parametrize(
    ("template", "over", "field"),
    [
        ("visit_notice", {"collectors": ()}, "collectors"),
        ("visit_notice", {"visit_start": None}, "visit_start"),
        ("credit_notice", {"report_date": None}, "report_date"),
        ("promise_confirmation", {"promise_amount": None}, "promise_amount"),
        ("reminder_before_due", {"next_due_date": None}, "next_due_date"),
        ("plan_reminder", {"next_due_amount": None}, "next_due_amount"),
        ("sms_overdue", {"repay_app": "", "bank_transfer": None}, "repay_app"),
        ("sms_overdue", {"days_past_due": 0}, "days_past_due"),
        (
            "email_overdue",
            {"overdue_principal": 0, "overdue_interest": 0, "overdue_penalty": 0},
            "overdue amounts",
        ),
    ],
)
def test_a_missing_fact_names_template_and_fact(
    template: str, over: dict[str, object], field: str
) -> None:
    with pytest.raises(TemplateError, match=rf"template '{template}'.*{field}"):
        render(template, facts("en", **over), TEXTS)


def test_a_visit_that_ends_before_it_starts_is_refused() -> None:
    f = facts("zh-CN", visit_end=datetime(2026, 3, 10, 13, 0, tzinfo=SHANGHAI))
    with pytest.raises(TemplateError, match="visit_end"):
        render("visit_notice", f, TEXTS)


def test_facts_refuse_negative_amounts_and_naive_times() -> None:
    with pytest.raises(ValueError, match="overdue_interest"):
        facts("en", overdue_interest=-1)
    with pytest.raises(ValueError, match="promise_amount"):
        facts("en", promise_amount=0)
    with pytest.raises(ValueError, match="visit_start"):
        facts("en", visit_start=datetime(2026, 3, 10, 14, 0))


@settings(max_examples=400, deadline=None)
@given(
    minor=st.integers(min_value=-(10**13), max_value=10**13),
    currency=st.sampled_from(sorted(MINOR_UNITS)),
    language=st.sampled_from(LANGUAGES),
)
def test_money_is_written_exactly_as_babel_writes_it(
    minor: int, currency: str, language: str
) -> None:
    # The fast path reads the shape of Babel's output once; Babel itself is the reference.
    facts = MessageFacts(language, "L", "1", "B", "R", currency=currency)
    assert money(minor, facts) == babel_money(minor, currency, language)


# --- the texts as data --------------------------------------------------------------------


def test_every_template_exists_in_both_languages_with_the_same_fields() -> None:
    assert check_text_set(TEXTS) == []
    for language in LANGUAGES:
        assert set(TEXTS.template_ids(language)) == set(TEMPLATES), language
    for template in TEMPLATES:
        fields = {lang: template_fields(TEXTS, lang, template) for lang in LANGUAGES}
        assert fields["zh-CN"] == fields["en"], template
        assert fields["en"], template  # a template that reads no fact says nothing of the loan


def test_every_short_string_has_both_translations() -> None:
    ids = {lang: read_catalog_ids(lang) for lang in LANGUAGES}
    assert set(ids["zh-CN"]) == set(ids["en"])
    assert len(ids["en"]) == len(set(ids["en"])), "a msgid given twice"
    for language in LANGUAGES:
        translated = read_catalog(language)
        assert set(translated) == set(ids[language]), f"{language}: untranslated msgids"
    # Every msgid a template uses is in the catalog: each template renders in each language
    # (an unknown msgid raises), and the zh-CN strings are Chinese.
    zh = read_catalog("zh-CN")
    for msgid, text in zh.items():
        assert not LATIN.search(text.replace("退订", "")), (msgid, text)


def test_the_checker_names_a_missing_template_and_an_unknown_field() -> None:
    sources = {lang: dict(TEXTS.sources[lang]) for lang in LANGUAGES}
    del sources["en"]["plan_reminder.j2"]
    sources["zh-CN"]["sms_overdue.j2"] = "{% set subject %}{{ balance }}{% endset %}"
    broken = TextSet("messages", sources, TEXTS.strings)
    assert check_text_set(broken) == [
        "zh-CN: sms_overdue: unknown field 'balance'",
        "en: template 'plan_reminder' is missing",
    ]
    with pytest.raises(TemplateError, match="unknown template 'plan_reminder' in en"):
        render("plan_reminder", facts("en"), broken)


def test_an_unknown_short_string_is_an_error_not_english() -> None:
    sources = {lang: dict(TEXTS.sources[lang]) for lang in LANGUAGES}
    sources["zh-CN"]["plan_reminder.j2"] = (
        '{% set subject %}{{ ref }}{% endset %}{% set body %}{{ _("Balance") }}{% endset %}'
    )
    broken = TextSet("messages", sources, TEXTS.strings)
    with pytest.raises(TemplateError, match="no zh-CN translation of 'Balance'"):
        render("plan_reminder", facts("zh-CN"), broken)


# --- no English inside a Chinese message (issue 15) -----------------------------------------

LATIN = re.compile(r"[A-Za-z]")
LENDER = default_settings().lender


def _configured(f: MessageFacts) -> list[str]:
    """What the facts bring in from outside the template: the lender's words, the loan id, the
    collectors and the bank details; every amount as it is written."""
    out = [f.lender_name, f.signature, f.repay_app, f.sender_alias, f.lender_phone, f.loan_ref]
    out += [f.mailing_address]
    out += [mask_reference(f.loan_ref)]
    if f.bank_transfer is not None:
        b = f.bank_transfer
        out += [b.bank, b.account_name, b.account_number, b.reference]
    out += [part for c in f.collectors for part in (c.name, c.collector_id)]
    amounts = [
        f.total_overdue, f.overdue_principal, f.overdue_interest, f.overdue_penalty,
        f.next_due_amount, f.promise_amount, f.amount_on_itemization, f.interest_since,
        f.fees_since, f.payments_since, f.credits_since, f.current_amount,
    ]  # fmt: skip
    out += [money(a, f) for a in amounts if a is not None]
    return sorted((s for s in out if s), key=len, reverse=True)


def _chinese_facts(**over: object) -> MessageFacts:
    # The lender's own words in zh-CN, as the bundled settings give them.
    return facts(
        "zh-CN",
        lender_name=LENDER.name.zh_cn,
        signature=LENDER.signature.zh_cn,
        repay_app=LENDER.repayment_channel.zh_cn,
        lender_phone=LENDER.hotline,
        **over,
    )


@settings(max_examples=60, deadline=None)
@given(
    template=st.sampled_from(TEMPLATES),
    currency=st.sampled_from(sorted(MINOR_UNITS)),
    dpd=st.sampled_from([1, 2, 31, 400]),
    loan_ref=st.sampled_from(["JB20260102009876", "L000001", "LOAN-AB12"]),
    bank=st.booleans(),
    due_date=st.sampled_from([None, date(2026, 3, 2)]),
    collectors=st.sampled_from([(Collector("张三", "C001"),), (Collector("Ann Lee", "X9"),)]),
)
def test_a_chinese_message_has_no_latin_letters_but_what_it_was_given(
    template: str,
    currency: str,
    dpd: int,
    loan_ref: str,
    bank: bool,
    due_date: date | None,
    collectors: tuple[Collector, ...],
) -> None:
    f = _chinese_facts(
        currency=currency,
        days_past_due=dpd,
        loan_ref=loan_ref,
        due_date=due_date,
        collectors=collectors,
        **({} if bank else {"bank_transfer": None}),
    )
    rendered = render(template, f, TEXTS)
    for part in (rendered.subject, rendered.body):
        left = part
        for given_text in _configured(f):
            left = left.replace(given_text, "")
        assert not LATIN.search(left), (template, left)


def test_the_close_words_a_chinese_message_with_the_lenders_chinese_words() -> None:
    # What the close hands the templates for a zh-CN borrower (gate_phase._facts) comes from
    # the lender's settings, not from words written in the code.
    who = gate_phase._Who("王小明", "13800000000", "zh-CN", None, None, "cn", ())
    loan = {
        "principal": 100000, "interest": 500, "penalty": 20, "dpd": 3,
        "due_date": date(2026, 11, 30), "next_due_date": None, "next_due_amount": None,
    }  # fmt: skip
    f = gate_phase._facts(who, loan, "L000001", LENDER, date(2026, 12, 30))
    for template in ("sms_overdue", "email_overdue", "credit_notice"):
        body = render(template, f, TEXTS).body
        assert f"【{LENDER.signature.zh_cn}】" in body or LENDER.signature.zh_cn in body
        assert LENDER.repayment_channel.zh_cn in body
        left = body
        for given_text in _configured(f):
            left = left.replace(given_text, "")
        assert not LATIN.search(left), (template, left)


# --- the validation notice (Reg F §1006.34) -------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_validation_notice_itemizes_the_debt_and_names_the_end_of_the_period(
    language: str,
) -> None:
    body = render("validation_notice", facts(language), TEXTS).body
    # §1006.34(c)(2)(vi)-(viii): the itemization date, the amount then, each item since, the
    # amount now; (c)(3): the end of the validation period, how to dispute, the original
    # creditor. The figures are those given in facts(): 1,312.96 + 23.45 + 5.00 - 80.00 - 1.00.
    expected = {
        "zh-CN": [
            "截至2026年2月1日，您的欠款为：¥1,312.96",
            "产生利息：+ ¥23.45",
            "产生费用：+ ¥5.00",
            "您已还款：- ¥80.00",
            "已为您减免：- ¥1.00",
            "现欠总额：¥1,260.41",
            "请在2026年4月6日前致电400-820-8888或来信（PO Box 1234, Springfield, IL 62701），"
            "对全部或部分债务提出异议",
            "原债权人",
        ],
        "en": [
            "As of February 1, 2026, you owed: CN¥1,312.96",
            "interest: + CN¥23.45",
            "fees: + CN¥5.00",
            "You paid this amount toward the debt: - CN¥80.00",
            "You were credited this amount toward the debt: - CN¥1.00",
            "Total amount of the debt now: CN¥1,260.41",
            "write to us at PO Box 1234, Springfield, IL 62701 by April 6, 2026 to dispute all or "
            "part of the debt",
            "name and address of the original creditor",
        ],
    }[language]
    for part in expected:
        assert part in body, part
    assert "尾号9876" in body or "ending 9876" in body


@pytest.mark.parametrize(
    "missing",
    [
        "itemization_date",
        "amount_on_itemization",
        "current_amount",
        "validation_end",
        "mailing_address",
    ],
)
def test_the_validation_notice_needs_its_itemization(missing: str) -> None:
    blank = "" if missing == "mailing_address" else None
    with pytest.raises(TemplateError, match=rf"'validation_notice'.*{missing}"):
        render("validation_notice", facts("en", **{missing: blank}), TEXTS)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_validation_notice_says_where_to_write(language: str) -> None:
    """§1006.34(c)(1): the notice gives the debt collector's mailing address, which the
    disputes and the original-creditor request are written to (twice in the model form)."""
    body = render("validation_notice", facts(language), TEXTS).body
    assert body.count("PO Box 1234, Springfield, IL 62701") == 2
