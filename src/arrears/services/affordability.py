"""The affordability check as a use case: the lender's rules from data, the borrower's figures
in, the result and its explanation in the borrower's language out."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from arrears.core.borrower.affordability import (
    Affordability,
    AffordabilityRules,
    Household,
    assess,
    parse_rules,
)
from arrears.core.lender.settings import Lender
from arrears.core.problem import Problem, Result, expect, fail, ok
from arrears.core.texts import render_parts
from arrears.services.settings import default_settings
from arrears.services.texts import text_set

RULES_FILE = "affordability.yaml"
TEXTS = "borrower"


@functools.cache
def default_rules() -> AffordabilityRules:
    """The rules shipped in ``data/borrower/affordability.yaml`` (tested, so a problem there
    is a packaging bug)."""
    path = resources.files("arrears") / "data" / "borrower" / RULES_FILE
    return expect(parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")), RULES_FILE))


@dataclass(frozen=True, slots=True)
class Assessed:
    result: Affordability
    language: str
    explanation: str  # plain words in the borrower's language

    def as_dict(self) -> dict[str, Any]:
        return {**self.result.as_dict(), "language": self.language, "explanation": self.explanation}


def check_affordability(
    household: Household,
    language: str = "zh-CN",
    rules: AffordabilityRules | None = None,
    lender: Lender | None = None,
) -> Result[Assessed]:
    """What the borrower can afford each month, with the reasoning in ``language``; where no
    payment can be suggested, it gives the lender's hotline (``lender``: the settings')."""
    texts = text_set(TEXTS)
    if language not in texts.languages:
        return fail(
            Problem("household", "language", f"must be one of {', '.join(texts.languages)}")
        )
    result, problems = assess(household, rules or default_rules())
    if result is None:
        return None, problems
    lender = lender or default_settings().lender
    context = {**result.facts(), "hotline": lender.hotline, "lender": lender.name.get(language)}
    parts = render_parts(texts, language, "affordability", context, ("explanation",))
    text = "\n".join(line for line in parts["explanation"].splitlines() if line.strip())
    return ok(Assessed(result, language, text))
