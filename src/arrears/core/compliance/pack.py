"""What a rule pack is: limits as data plus small rule functions, each citing its source."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from arrears.core.compliance.limits import Limits
from arrears.core.compliance.model import Contact, Context


@dataclass(frozen=True)
class Situation:
    """Everything a rule may look at. History is the borrower's contacts across the lender
    and all its agencies, in any order."""

    history: tuple[Contact, ...]
    proposed: Contact
    context: Context
    limits: Limits


# A rule function yields one plain detail per breach it finds (nothing when it does not apply).
RuleFn = Callable[[Situation], Iterable[str]]
Severity = Literal["block", "warn"]


@dataclass(frozen=True)
class Rule:
    id: str
    source: str  # document and article
    message: str  # the rule in one plain sentence
    evaluate: RuleFn
    severity: Severity = "block"


@dataclass(frozen=True)
class Pack:
    id: str
    title: str
    limits: Limits
    rules: tuple[Rule, ...]
