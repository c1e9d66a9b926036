"""Product settings: how a loan's schedule, penalty, allocation and limits work.

A loan carries its own terms (principal, rate, months, method, disbursement, due day); the
product carries the rules that are the same for every loan sold under it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from arrears.core.money import DEFAULT_CURRENCY, DEFAULT_DAYS_PER_YEAR, minor_per_major, parse_rate


class Method(StrEnum):
    ANNUITY = "annuity"  # 等额本息
    EQUAL_PRINCIPAL = "equal-principal"  # 等额本金
    INTEREST_FIRST = "interest-first"  # 先息后本
    BULLET = "bullet"  # 一次性还本付息


class PenaltyBase(StrEnum):
    INSTALLMENT = "installment"  # overdue principal + overdue interest
    PRINCIPAL = "principal"  # overdue principal only


class LenderType(StrEnum):
    LICENSED = "licensed"  # banks, consumer finance and microloan companies: no 4x LPR cap
    PRIVATE = "private"  # private lending: agreed + overdue rate capped (SPC rules, 2020)


class Component(StrEnum):
    PENALTY = "penalty"
    INTEREST = "interest"
    PRINCIPAL = "principal"


DEFAULT_WATERFALL: tuple[Component, ...] = (
    Component.PENALTY,
    Component.INTEREST,
    Component.PRINCIPAL,
)

# One-year LPR published by the PBOC/NIFC for 2024-10-21 onwards: 3.10%. A product names the
# LPR in force at its contract date; this is only the default.
DEFAULT_LPR_1Y = Fraction(31, 1000)


class ProductError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str = "default"
    currency: str = DEFAULT_CURRENCY
    grace_days: int = 0
    # Penalty rate per overdue day = the loan's daily rate x this multiplier (Jiebei: 1.5).
    penalty_multiplier: Fraction = Fraction(3, 2)
    penalty_base: PenaltyBase = PenaltyBase.INSTALLMENT
    waterfall: tuple[Component, ...] = DEFAULT_WATERFALL
    lender_type: LenderType = LenderType.LICENSED
    lpr_1y: Fraction = DEFAULT_LPR_1Y
    rate_cap_lpr_multiple: int = 4
    days_per_year: int = DEFAULT_DAYS_PER_YEAR
    # Jiebei: a drawdown fewer than this many days before the due day moves the first
    # installment to the following month.
    min_first_period_days: int = 15
    # Loan classification thresholds, days past due strictly greater than (REFERENCES.md,
    # 商业银行金融资产风险分类办法 2023, secondary): 关注 >0, 次级 >90, 可疑 >270, 损失 >360.
    classification_thresholds: tuple[int, int, int, int] = (0, 90, 270, 360)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        minor_per_major(self.currency)
        if self.grace_days < 0:
            raise ProductError(f"product {self.product_id}: grace_days must be >= 0")
        if self.penalty_multiplier < 0:
            raise ProductError(f"product {self.product_id}: penalty_multiplier must be >= 0")
        if sorted(self.waterfall) != sorted(DEFAULT_WATERFALL):
            raise ProductError(
                f"product {self.product_id}: waterfall must order exactly "
                "penalty, interest and principal"
            )
        t = self.classification_thresholds
        if list(t) != sorted(t) or t[0] < 0:
            raise ProductError(f"product {self.product_id}: thresholds must be ascending")
        if not 0 <= self.min_first_period_days <= 28:
            raise ProductError(f"product {self.product_id}: min_first_period_days in 0..28")

    @property
    def rate_cap_annual(self) -> Fraction | None:
        """The cap on agreed + overdue annual rate, or None for licensed lenders."""
        if self.lender_type is LenderType.LICENSED:
            return None
        return self.lpr_1y * self.rate_cap_lpr_multiple

    def to_json(self) -> str:
        d = asdict(self)
        d.pop("extra")
        d["penalty_multiplier"] = str(self.penalty_multiplier)
        d["lpr_1y"] = str(self.lpr_1y)
        d["waterfall"] = [c.value for c in self.waterfall]
        d["classification_thresholds"] = list(self.classification_thresholds)
        return json.dumps(d, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Product:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Product:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        unknown = set(d) - known
        if unknown:
            raise ProductError(f"unknown product settings: {', '.join(sorted(unknown))}")
        p = cls()
        kw: dict[str, Any] = dict(d)
        if "penalty_multiplier" in kw:
            kw["penalty_multiplier"] = Fraction(str(kw["penalty_multiplier"]))
        if "lpr_1y" in kw:
            kw["lpr_1y"] = parse_rate(Fraction(str(kw["lpr_1y"])))
        if "penalty_base" in kw:
            kw["penalty_base"] = PenaltyBase(kw["penalty_base"])
        if "lender_type" in kw:
            kw["lender_type"] = LenderType(kw["lender_type"])
        if "waterfall" in kw:
            kw["waterfall"] = tuple(Component(c) for c in kw["waterfall"])
        if "classification_thresholds" in kw:
            kw["classification_thresholds"] = tuple(int(x) for x in kw["classification_thresholds"])
        return replace(p, **kw)


DEFAULT_PRODUCT = Product()
