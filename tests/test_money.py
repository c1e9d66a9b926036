"""Money and rates: parsing, rounding, rate bases (REFERENCES.md "Loan math conventions").

Expected values are written out by hand; none is pasted back from the code's output.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from arrears.core.money import MoneyError, Rate, RateBasis, parse_amount, parse_rate, round_half_up

# --- parse_amount -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.56", 123456),
        ("1234.56", 123456),
        ("0.1", 10),
        ("0.10", 10),
        ("0.01", 1),
        ("-5", -500),
        ("+5", 500),
        (" 7 ", 700),
        ("1,000,000.00", 100000000),
        ("0", 0),
        (Decimal("1.50"), 150),
        (12, 1200),
    ],
)
def test_parse_amount_accepts(text: str | int | Decimal, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    "text",
    [
        "1.234",  # three decimals: refused, never silently rounded
        "0.001",
        "abc",
        "",
        "   ",
        "1e3",  # exponent notation is not an amount a person types
        "NaN",
        "nan",
        "inf",
        "-inf",
        Decimal("NaN"),
        Decimal("Infinity"),
        ".5",
        "5.",
        "1.2.3",
        "--5",
        "5-",
        "¥5",
    ],
)
def test_parse_amount_rejects(text: str | Decimal) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text)


def test_parse_amount_rejects_unknown_currency() -> None:
    with pytest.raises(MoneyError):
        parse_amount("1.00", currency="XYZ")


def test_parse_amount_rejects_misplaced_thousands_separator() -> None:
    with pytest.raises(MoneyError):
        parse_amount("12,34")


# --- round_half_up ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Fraction(1, 2), 1),
        (Fraction(3, 2), 2),
        (Fraction(5, 2), 3),  # half-up, not banker's rounding (which gives 2)
        (Fraction(-1, 2), -1),
        (Fraction(-3, 2), -2),
        (Fraction(-5, 2), -3),  # halves away from zero on the negative side too
        (Fraction(249, 100), 2),
        (Fraction(251, 100), 3),
        (Fraction(-249, 100), -2),
        (Fraction(-251, 100), -3),
        (Fraction(0), 0),
        (Fraction(7), 7),
        (Fraction(-7), -7),
        # 1,000,000 x 4.9% / 12 in fen = 408333.33...: the REFERENCES.md first-month interest
        (Fraction(100000000 * 49, 1000 * 12), 408333),
        # a value a hair under a half rounds down, a hair over rounds up
        (Fraction(10**12 - 1, 2 * 10**12), 0),
        (Fraction(10**12 + 1, 2 * 10**12), 1),
    ],
)
def test_round_half_up(value: Fraction, expected: int) -> None:
    assert round_half_up(value) == expected


# --- rates --------------------------------------------------------------------------------


def test_percent_and_fraction_forms_are_the_same_rate() -> None:
    a = Rate.parse("4.9%", RateBasis.ANNUAL)
    b = Rate.parse(0.049, RateBasis.ANNUAL)
    c = Rate.parse("0.049", "annual")
    d = Rate.parse(Decimal("0.049"), "annual")
    assert a == b == c == d
    assert a.value == Fraction(49, 1000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4.9%", Fraction(49, 1000)),
        ("4.9 %", Fraction(49, 1000)),
        (0.049, Fraction(49, 1000)),
        ("0.05%", Fraction(5, 10000)),  # Jiebei-style daily rate, 万分之五
        (0.0005, Fraction(5, 10000)),
        ("18%", Fraction(18, 100)),
        ("0", Fraction(0)),
        (Fraction(1, 3), Fraction(1, 3)),
    ],
)
def test_parse_rate(text: str | float | Fraction, expected: Fraction) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text", ["-1%", "-0.049", -0.049, "abc", "", "%", "nan", float("nan"), "inf", "1000%"]
)
def test_parse_rate_rejects(text: str | float) -> None:
    with pytest.raises(MoneyError):
        parse_rate(text)


def test_rate_rejects_negative_at_construction() -> None:
    with pytest.raises(MoneyError):
        Rate(Fraction(-1, 100), RateBasis.ANNUAL)
    with pytest.raises(MoneyError):
        Rate.parse("-4.9%", "annual")


def test_rate_rejects_unknown_basis() -> None:
    with pytest.raises(ValueError):
        Rate.parse("4.9%", "weekly")


def test_parse_rate_rejects_percent_written_without_sign() -> None:
    with pytest.raises(MoneyError):
        parse_rate("4.9")


def test_monthly_rate_of_annual_product_is_annual_over_12() -> None:
    # REFERENCES.md: annual-rate products, monthly rate = annual / 12.
    assert Rate.parse("4.9%", "annual").monthly() == Fraction(49, 1000) / 12
    assert Rate.parse("6%", "annual").monthly() == Fraction(1, 200)  # 0.5% a month
    assert Rate.parse("18%", "annual").monthly() == Fraction(3, 200)  # 1.5% a month


def test_monthly_rate_of_daily_product_is_daily_times_30() -> None:
    # REFERENCES.md: for an equal-installment schedule quoted by daily rate,
    # monthly rate = daily x 30. 0.05% a day -> 1.5% a month.
    assert Rate.parse("0.05%", "daily").monthly() == Fraction(15, 1000)
    assert Rate.parse("0.02%", "daily").monthly() == Fraction(6, 1000)


def test_daily_and_annual_conversions_use_360_days_by_default() -> None:
    # 日利率 = 年利率 / 360 (the Chinese quoting convention the code documents).
    assert Rate.parse("18%", "annual").daily() == Fraction(5, 10000)
    assert Rate.parse("0.05%", "daily").annual() == Fraction(18, 100)
    assert Rate.parse("18.25%", "annual").daily(365) == Fraction(5, 10000)
    # a daily rate's own daily value is itself, whatever the year basis
    assert Rate.parse("0.05%", "daily").daily(365) == Fraction(5, 10000)


def test_an_amount_beyond_the_ledger_range_is_refused() -> None:
    # BIGINT columns hold 2**63 - 1 fen; one amount is held to 10**15 fen so that sums fit.
    assert parse_amount("10000000000000.00") == 10**15
    for text in ("10000000000000.01", "1" * 31, "-" + "9" * 20):
        with pytest.raises(MoneyError, match="largest amount"):
            parse_amount(text)
