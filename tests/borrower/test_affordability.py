"""The affordability check: hand-worked figures, the buffer's two floors, rounding down to
whole yuan, the explanation in both languages, and bad figures refused."""

from __future__ import annotations

import json
from fractions import Fraction

from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.borrower.affordability import Household, assess, parse_rules
from arrears.core.texts import template_fields
from arrears.services.affordability import check_affordability, default_rules
from arrears.services.settings import default_settings
from arrears.services.texts import text_set
from factories import refused, succeeded

runner = CliRunner()


def test_the_per_person_floor_keeps_more_back_when_little_is_left() -> None:
    # 8,000.00 in; 2,500 + 1,500 + 300 essentials and 500 to other lenders: 3,200.00 left.
    # 10% of it is 320.00, but 200.00 for each of 2 people is 400.00: 400.00 kept back.
    got = succeeded(
        assess(
            Household(
                800_000, {"housing": 250_000, "food": 150_000, "transport": 30_000}, 1, 50_000
            ),
            default_rules(),
        )
    )
    assert (got.essential, got.disposable, got.buffer, got.affordable) == (
        430_000,
        320_000,
        40_000,
        280_000,
    )


def test_the_percent_keeps_more_back_when_much_is_left() -> None:
    got = succeeded(assess(Household(2_000_000, {"housing": 500_000}), default_rules()))
    assert (got.disposable, got.buffer, got.affordable) == (1_500_000, 150_000, 1_350_000)


def test_the_suggestion_is_rounded_down_to_whole_yuan() -> None:
    # 1,000.55 left, one person: 10% is 100.055 -> 100.06, below the 200.00 floor;
    # 800.55 is room for 800.00, not 801.
    got = succeeded(assess(Household(100_055, {}), default_rules()))
    assert (got.buffer, got.affordable) == (20_000, 80_000)


def test_spending_more_than_earned_suggests_nothing_and_says_why() -> None:
    for lang, words in (("en", "more than you earn"), ("zh-CN", "支出比收入多")):
        done = succeeded(check_affordability(Household(300_000, {"housing": 400_000}), lang))
        assert done.result.affordable == 0 and done.result.disposable == -100_000
        assert words in done.explanation and "1000.00" in done.explanation
        assert default_settings().lender.hotline in done.explanation  # whom to call


def test_the_explanation_gives_the_figures_in_the_borrowers_language() -> None:
    household = Household(800_000, {"housing": 250_000, "food": 150_000}, 1, 50_000)
    zh = succeeded(check_affordability(household, "zh-CN"))
    en = succeeded(check_affordability(household, "en"))
    assert "建议您每月还款不超过3100.00元" in zh.explanation
    assert "up to ¥3100.00 a month" in en.explanation
    assert not any("a" <= ch <= "z" for ch in zh.explanation)  # no English inside the Chinese
    # Alone in the household, the buffer is not "for each of the 1 people".
    alone = succeeded(check_affordability(Household(800_000, {"housing": 250_000}), "en"))
    assert "¥200.00)." in alone.explanation and "1 people" not in alone.explanation
    alone_zh = succeeded(check_affordability(Household(800_000, {"housing": 250_000}), "zh-CN"))
    assert "共1人" not in alone_zh.explanation
    assert "与200.00元两者中较高的一个" in alone_zh.explanation


def test_the_template_exists_in_both_languages_with_the_same_fields() -> None:
    texts = text_set("borrower")
    assert texts.languages == ("en", "zh-CN")
    fields = {lang: template_fields(texts, lang, "affordability") for lang in texts.languages}
    assert fields["en"] == fields["zh-CN"]
    facts = succeeded(assess(Household(1, {}), default_rules())).facts()
    given = set(facts) | {"hotline", "lender"}
    assert fields["en"] <= given


def test_bad_figures_are_refused_by_field() -> None:
    rules = default_rules()
    assert refused(assess(Household(-1, {}), rules)).field == "income"
    assert refused(assess(Household(1, {"rent": 5}), rules)).field == "expenses.rent"
    assert refused(assess(Household(1, {"food": -5}), rules)).field == "expenses.food"
    assert refused(assess(Household(1, {}, dependants=-1), rules)).field == "dependants"
    assert refused(check_affordability(Household(1, {}), "fr")).field == "language"


def test_the_shipped_rules_and_bad_rules() -> None:
    rules = default_rules()
    assert rules.buffer_percent == Fraction(1, 10) and rules.round_down_to == 100
    assert all(set(c.labels) == {"en", "zh-CN"} for c in rules.categories)
    assert {c.group for c in rules.categories} == {"fixed", "flexible"}
    bad = refused(parse_rules({"categories": [{"id": "x", "group": "odd", "en": "X"}]}, "f.yaml"))
    assert bad.record == "f.yaml" and bad.field == "categories[0]"


def test_borrower_afford_command() -> None:
    args = ["borrower", "afford", "--income", "8000", "--expense", "housing=2500"]
    r = runner.invoke(app, [*args, "--expense", "food=1500", "--dependants", "1", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert (data["disposable"], data["buffer"], data["affordable"]) == (
        "4000.00",
        "400.00",
        "3600.00",
    )
    r = runner.invoke(app, ["borrower", "afford", "--income", "8000", "--expense", "rent=1"])
    assert r.exit_code == 2 and "expenses.rent: unknown category" in r.stderr
