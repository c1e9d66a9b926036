"""Exact money and interest rates.

Money crosses the domain edge as ``Decimal`` quantized to the currency's minor unit and lives
inside the domain and the kernels as integer minor units (fen for CNY). Floats never hold money.

Rounding policy (the only place it is defined):

* ``ROUND_HALF_UP`` to the minor unit, everywhere a rounding happens. Callers say *where* they
  round (per period, per day); this module says *how*.
* Rates are exact rationals (``Fraction``) so that ``amount x rate x days`` is computed exactly
  and rounded once, in :func:`round_half_up`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

# Minor units per major unit. Every currency we serve today has two decimals.
MINOR_UNITS: dict[str, int] = {"CNY": 100, "USD": 100, "GBP": 100, "EUR": 100, "HKD": 100}
DEFAULT_CURRENCY = "CNY"


class MoneyError(ValueError):
    """An amount or rate that cannot be accepted, with the reason in plain words."""


def minor_per_major(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(
            f"unknown currency {currency!r}; known: {', '.join(MINOR_UNITS)}"
        ) from None


def round_half_up(value: Fraction) -> int:
    """Round an exact rational to the nearest integer, halves away from zero."""
    if value >= 0:
        return int((value * 2 + 1) // 2)
    return -int((-value * 2 + 1) // 2)


_AMOUNT_RE = re.compile(r"^[+-]?(\d+)(\.\d+)?$")
# Thousands separators are accepted only in proper groups of three: "1,234.56" yes; "12,34"
# (a European decimal comma) and "1,2,3" no, since guessing would be a 100x error.
_GROUPED_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


# The ledger's columns are BIGINT (at most 2**63 - 1 minor units, about 9.2e18); balances and
# the close's sums add many amounts together, so one amount is held far below that bound:
# 10**15 fen is ten trillion yuan, beyond any consumer loan, and a sum of a million of them
# still fits. An amount above it is refused where it is parsed, never truncated or wrapped.
MAX_MINOR_UNITS = 10**15
_LARGEST = "10,000,000,000,000.00"


def parse_amount(text: str | int | Decimal, currency: str = DEFAULT_CURRENCY) -> int:
    """Parse a major-unit amount ("1234.5", "1,234.50") into integer minor units.

    More decimals than the currency has is an error rather than a silent rounding: an amount
    the borrower typed must be taken exactly or refused.
    """
    unit = minor_per_major(currency)
    if isinstance(text, int):
        return text * unit
    raw = str(text).strip()
    if "," in raw:
        if not _GROUPED_RE.match(raw):
            raise MoneyError(f"{text!r} is not an amount (commas only between groups of three)")
        raw = raw.replace(",", "")
    if not _AMOUNT_RE.match(raw):
        raise MoneyError(f"{text!r} is not an amount (expected digits like 1234.56)")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already rules this out
        raise MoneyError(f"{text!r} is not an amount") from None
    scaled = value * unit
    if scaled != scaled.to_integral_value():
        decimals = len(str(unit)) - 1
        raise MoneyError(f"{text!r} has more than {decimals} decimals")
    if abs(scaled) > MAX_MINOR_UNITS:
        raise MoneyError(
            f"{text!r} is larger than the largest amount the ledger takes ({_LARGEST})"
        )
    return int(scaled)


def to_decimal(minor: int, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Integer minor units to a Decimal quantized to the minor unit."""
    unit = minor_per_major(currency)
    places = Decimal(1) / unit
    return (Decimal(minor) / unit).quantize(places, rounding=ROUND_HALF_UP)


def fmt(minor: int, currency: str = DEFAULT_CURRENCY) -> str:
    """Minor units as a plain string with the currency's decimals: 530727 -> '5307.27'."""
    return str(to_decimal(minor, currency))


def quantize(value: Decimal, currency: str = DEFAULT_CURRENCY) -> Decimal:
    """Round a Decimal half-up to the currency's minor unit."""
    unit = minor_per_major(currency)
    return value.quantize(Decimal(1) / unit, rounding=ROUND_HALF_UP)


class RateBasis(StrEnum):
    ANNUAL = "annual"
    DAILY = "daily"


# Chinese lending quotes 日利率 = 年利率 / 360; the basis is a product setting.
DEFAULT_DAYS_PER_YEAR = 360


@dataclass(frozen=True, slots=True)
class Rate:
    """An interest rate: an exact fraction per year or per day."""

    value: Fraction
    basis: RateBasis

    def __post_init__(self) -> None:
        if self.value < 0:
            raise MoneyError(f"rate {self} is negative")

    @classmethod
    def parse(cls, text: str | float | Decimal | Fraction, basis: RateBasis | str) -> Rate:
        """``"4.9%"`` is a percent; ``0.049`` or ``"0.049"`` is a fraction."""
        return cls(parse_rate(text), RateBasis(basis))

    def monthly(self) -> Fraction:
        """The rate for one monthly period: annual / 12, or daily x 30 (REFERENCES.md)."""
        if self.basis is RateBasis.ANNUAL:
            return self.value / 12
        return self.value * 30

    def daily(self, days_per_year: int = DEFAULT_DAYS_PER_YEAR) -> Fraction:
        if self.basis is RateBasis.DAILY:
            return self.value
        return self.value / days_per_year

    def annual(self, days_per_year: int = DEFAULT_DAYS_PER_YEAR) -> Fraction:
        if self.basis is RateBasis.ANNUAL:
            return self.value
        return self.value * days_per_year

    def __str__(self) -> str:
        pct = Decimal(self.value.numerator) / Decimal(self.value.denominator) * 100
        return f"{pct.normalize():f}% {self.basis.value}"


def parse_rate(text: str | float | Decimal | Fraction) -> Fraction:
    """Parse ``"4.9%"`` (percent) or ``0.049`` (fraction) into an exact Fraction.

    Floats are accepted only through their shortest decimal repr, so 0.049 means 49/1000.
    """
    if isinstance(text, Fraction):
        value = text
    else:
        raw = repr(text) if isinstance(text, float) else str(text).strip()
        percent = raw.endswith("%")
        if percent:
            raw = raw[:-1].strip()
        try:
            dec = Decimal(raw)
        except InvalidOperation:
            raise MoneyError(f"{text!r} is not a rate (expected '4.9%' or 0.049)") from None
        if not dec.is_finite():
            raise MoneyError(f"{text!r} is not a finite rate")
        value = Fraction(dec)
        if percent:
            value /= 100
    if value < 0:
        raise MoneyError(f"rate {text!r} is negative")
    # A fraction of 1 or more (100%+) is almost surely a percent typed without its sign.
    if value >= 1:
        raise MoneyError(f"rate {text!r} is implausibly large (write 4.9% or 0.049, not 4.9)")
    return value
