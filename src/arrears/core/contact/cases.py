"""Cases, pure: which borrowers' cases to open, re-prioritise or close on a business date.

A borrower is in collection while any of their loans is overdue; one open case per borrower.
A case closes when the borrower is no longer overdue (reason ``cured``) or, by an explicit
call, for another reason (``written_off``, ``settled``, ``transferred``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

CLOSE_REASONS = ("cured", "settled", "written_off", "transferred")


@dataclass(frozen=True, slots=True)
class CaseInput:
    """A borrower overdue on the business date, with the priority the policy gives them."""

    borrower_id: str
    priority: int = 0


@dataclass(frozen=True, slots=True)
class OpenCase:
    case_id: int
    borrower_id: str
    opened_on: date
    priority: int


@dataclass(frozen=True, slots=True)
class CaseChanges:
    to_open: tuple[CaseInput, ...]
    to_reprioritise: tuple[tuple[OpenCase, int], ...]  # (case, new priority)


def case_changes(open_cases: Mapping[str, OpenCase], overdue: Iterable[CaseInput]) -> CaseChanges:
    """New cases for overdue borrowers without one; priority updates for the others."""
    to_open: list[CaseInput] = []
    moved: list[tuple[OpenCase, int]] = []
    for row in overdue:
        case = open_cases.get(row.borrower_id)
        if case is None:
            to_open.append(row)
        elif case.priority != row.priority:
            moved.append((case, row.priority))
    return CaseChanges(tuple(to_open), tuple(moved))


def cases_to_close(open_cases: Mapping[str, OpenCase], still_overdue: set[str]) -> list[OpenCase]:
    return [c for b, c in sorted(open_cases.items()) if b not in still_overdue]
