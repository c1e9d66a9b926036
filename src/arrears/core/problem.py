"""One way to fail: a `Problem` names the record, the field and the reason; nothing was written.

Every service that can be handed bad input returns its value together with the problems it
found, in the manner of Beancount's ``(entries, errors)``: ``value, problems = service(...)``.
An empty tuple means success; a non-empty one means the value is ``None`` and nothing changed.
Exceptions are for bugs only. The command line, the REST API and the web pages turn a Problem
into their own form (one line and an exit code; RFC 9457 problem+json; a message beside the
field) from its ``code``, so a caller never parses a reason string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

# What kind of failure, for the caller's form of it:
#   invalid    the input is wrong (CLI exit 2, HTTP 422)
#   not_found  the record named does not exist (CLI exit 1, HTTP 404)
#   conflict   the input is fine but the state forbids it now (CLI exit 2, HTTP 409)
#   unauthorized  who is asking could not be established (HTTP 401)
#   rate_limited  too many attempts; try again later (HTTP 429)
Code = Literal["invalid", "not_found", "conflict", "unauthorized", "rate_limited"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Problem:
    """Bad input: which record, which field, why. Nothing was written."""

    record: str  # what a person can find: "loan L000001", "payment BANK-1", "file"
    field: str  # the column, option or dotted path; "" when the record as a whole is at fault
    reason: str  # plain words, for a person
    code: Code = "invalid"
    line: int = 0  # the line of the file the input came from, as an editor counts; 0: none

    @property
    def where(self) -> str:
        """The record, led by its file line when there is one: "line 4 (loan L000001)"."""
        if not self.line:
            return self.record
        return f"line {self.line}" + (f" ({self.record})" if self.record else "")

    def __str__(self) -> str:
        if self.field:
            return f"{self.where}: {self.field}: {self.reason}"
        return f"{self.where}: {self.reason}"

    @property
    def missing(self) -> bool:
        return self.code == "not_found"


Problems: TypeAlias = tuple[Problem, ...]
# ``(value, ())`` on success, ``(None, problems)`` on failure.
Result: TypeAlias = tuple[T | None, Problems]


def ok(value: T) -> Result[T]:
    return value, ()


def fail(*problems: Problem) -> Result[T]:
    assert problems, "fail() needs at least one problem"
    return None, tuple(problems)


def not_found(record: str, reason: str = "not found", field: str = "") -> Problem:
    return Problem(record, field, reason, "not_found")


def expect(result: Result[T]) -> T:
    """The value of a result whose input the caller made itself (a shipped file, a generated
    portfolio), so a problem is a bug, raised as one."""
    value, problems = result
    if problems or value is None:
        raise AssertionError("; ".join(map(str, problems)) or "no value and no problem")
    return value
