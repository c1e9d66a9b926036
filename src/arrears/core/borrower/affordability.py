"""What a borrower can afford to pay each month, from their own figures.

disposable = income - essential spending - other debts' monthly payments
buffer     = the larger of ``buffer_percent`` of the disposable amount (half-up to the fen)
             and ``buffer_per_person`` for each person in the household (borrower + dependants)
affordable = disposable - buffer, rounded down to ``round_down_to`` (whole yuan), never below 0

Rounding down is deliberate: the suggestion must not ask for a fen more than the arithmetic
allows. The categories and the buffer are data (``data/borrower/affordability.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from arrears.core.money import MoneyError, fmt, parse_amount, parse_rate, round_half_up
from arrears.core.problem import Problem, Result, fail, ok


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    group: str  # "fixed" or "flexible", as the SFS groups them
    labels: Mapping[str, str]  # language -> name


@dataclass(frozen=True, slots=True)
class AffordabilityRules:
    categories: tuple[Category, ...]
    buffer_percent: Fraction
    buffer_per_person: int  # fen
    round_down_to: int  # fen

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)


@dataclass(frozen=True, slots=True)
class Household:
    income: int  # fen a month, after tax
    expenses: Mapping[str, int]  # category id -> fen a month
    dependants: int = 0
    other_debts: int = 0  # fen a month paid to other lenders


@dataclass(frozen=True, slots=True)
class Affordability:
    income: int
    essential: int
    other_debts: int
    people: int
    disposable: int  # may be negative: the household spends more than it earns
    buffer: int
    affordable: int
    buffer_percent: Fraction
    buffer_per_person: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "income": fmt(self.income),
            "essential": fmt(self.essential),
            "other_debts": fmt(self.other_debts),
            "people": self.people,
            "disposable": fmt(self.disposable),
            "buffer": fmt(self.buffer),
            "affordable": fmt(self.affordable),
        }

    def facts(self) -> dict[str, Any]:
        """The figures, formatted, as the explanation's template reads them."""
        return {
            **self.as_dict(),
            "short": self.disposable < 0,
            "shortfall": fmt(-self.disposable) if self.disposable < 0 else "0.00",
            "buffer_percent": f"{float(self.buffer_percent * 100):g}%",
            "buffer_per_person": fmt(self.buffer_per_person),
        }


def parse_rules(data: Any, file: str) -> Result[AffordabilityRules]:
    """The rules from the YAML document ``data`` (read from ``file``)."""
    if not isinstance(data, dict):
        return fail(Problem(file, "", "must be a mapping"))
    problems: list[Problem] = []
    categories: list[Category] = []
    for k, raw in enumerate(data.get("categories") or []):
        where = f"categories[{k}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            problems.append(Problem(file, where, "must be a mapping with an id"))
            continue
        labels = {lang: str(raw[lang]) for lang in ("en", "zh-CN") if raw.get(lang)}
        if len(labels) < 2:
            problems.append(Problem(file, where, "needs a label in en and in zh-CN"))
        group = str(raw.get("group", ""))
        if group not in ("fixed", "flexible"):
            problems.append(Problem(file, f"{where}.group", "must be fixed or flexible"))
        categories.append(Category(raw["id"], group, labels))
    if not categories:
        problems.append(Problem(file, "categories", "must list at least one category"))
    values: dict[str, Any] = {}
    for key, parse in (
        ("buffer_percent", parse_rate),
        ("buffer_per_person", parse_amount),
        ("round_down_to", parse_amount),
    ):
        try:
            values[key] = parse(str(data.get(key, "")))
        except MoneyError as exc:
            problems.append(Problem(file, key, str(exc)))
    if not problems and values["round_down_to"] <= 0:
        problems.append(Problem(file, "round_down_to", "must be positive"))
    if problems:
        return fail(*problems)
    return ok(AffordabilityRules(tuple(categories), **values))


def assess(household: Household, rules: AffordabilityRules) -> Result[Affordability]:
    """The disposable amount, the buffer kept back and the payment it leaves room for."""
    problems: list[Problem] = []
    record = "household"
    if household.income < 0:
        problems.append(Problem(record, "income", "must not be negative"))
    if household.dependants < 0:
        problems.append(Problem(record, "dependants", "must not be negative"))
    if household.other_debts < 0:
        problems.append(Problem(record, "other_debts", "must not be negative"))
    for category_id, amount in household.expenses.items():
        if rules.category(category_id) is None:
            known = ", ".join(c.id for c in rules.categories)
            problems.append(
                Problem(record, f"expenses.{category_id}", f"unknown category; one of {known}")
            )
        elif amount < 0:
            problems.append(Problem(record, f"expenses.{category_id}", "must not be negative"))
    if problems:
        return fail(*problems)
    essential = sum(household.expenses.values())
    disposable = household.income - essential - household.other_debts
    people = 1 + household.dependants
    share = round_half_up(disposable * rules.buffer_percent) if disposable > 0 else 0
    buffer = max(share, rules.buffer_per_person * people)
    room = max(0, disposable - buffer)
    affordable = room - room % rules.round_down_to
    return ok(
        Affordability(
            household.income,
            essential,
            household.other_debts,
            people,
            disposable,
            buffer,
            affordable,
            rules.buffer_percent,
            rules.buffer_per_person,
        )
    )
