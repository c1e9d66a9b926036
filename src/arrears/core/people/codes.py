"""One-time visit codes, pure: generation from randomness passed in, reading what a borrower
typed, and the keyed hash that is all the database keeps.

A code is 10 symbols of Crockford's base32 (digits and capital letters without I, L, O, U, so
that nothing read aloud or off a screen is ambiguous): 50 bits. It is shown and read as two
groups of five, ``7KQ2M-XD94R``. On input, case, spaces and dashes do not matter and the
letters people confuse with digits are read as those digits (I and L as 1, O as 0), as
Crockford's scheme prescribes. docs/verification.md gives the guessing arithmetic that fixes
the length.

Only ``HMAC-SHA256(secret, code)`` is stored: a copy of the database alone does not give the
codes that are still valid, and without the server's secret no digest can be checked offline.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from arrears.core.problem import Problem, Result, fail, ok

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: 32 symbols, 5 bits each
LENGTH = 10
BITS = 5 * LENGTH
GROUP = 5
_READ_AS = {"I": "1", "L": "1", "O": "0"}
_IGNORED = frozenset(" -\t")


def generate(random_bytes: Callable[[int], bytes]) -> str:
    """A new code from ``random_bytes(n)`` (``secrets.token_bytes`` in the shell): the first
    50 of 56 bits of seven bytes, five bits a symbol, so every symbol is uniform."""
    value = int.from_bytes(random_bytes(7), "big") >> (56 - BITS)
    symbols = []
    for _ in range(LENGTH):
        symbols.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(symbols))


def display(code: str) -> str:
    """``7KQ2MXD94R`` -> ``7KQ2M-XD94R``: easier to read out and to type."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def read(text: str, record: str = "code") -> Result[str]:
    """What a borrower typed, as a code in canonical form, or why it cannot be one."""
    symbols = [_READ_AS.get(ch, ch) for ch in text.upper() if ch not in _IGNORED]
    bad = sorted({ch for ch in symbols if ch not in ALPHABET})
    if bad:
        return fail(
            Problem(record, "code", f"has characters a code never contains: {' '.join(bad)}")
        )
    if len(symbols) != LENGTH:
        return fail(
            Problem(record, "code", f"must be {LENGTH} letters and digits, got {len(symbols)}")
        )
    return ok("".join(symbols))


def digest(secret: bytes, code: str) -> str:
    """The keyed hash stored for ``code`` (canonical form): HMAC-SHA256, hex."""
    return hmac.new(secret, code.encode("ascii"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredCode:
    """A code on record whose digest matched what the borrower typed."""

    code_id: int
    collector_id: str
    borrower_id: str
    valid_until: datetime
    used: bool
    collector_active: bool  # the collector (and their agency) still active


# Why a code matched nothing usable, for the lender's incident (the borrower is told only that
# it did not verify: a guesser must not learn that a code exists for someone else).
UNKNOWN = "unknown_code"
OTHER_BORROWER = "another_borrowers_code"
USED = "code_used"
EXPIRED = "code_expired"
DEACTIVATED = "collector_deactivated"


@dataclass(frozen=True, slots=True)
class Judgement:
    code: StoredCode | None  # the code that verifies, if one does
    reason: str = ""  # else why not
    collector_id: str | None = None  # the collector a real but unusable code names


def judge(matches: Sequence[StoredCode], borrower_id: str, now: datetime) -> Judgement:
    """The code that verifies for ``borrower_id`` at ``now``, or why none does. A code of
    another borrower is refused here and left as it is, still good for its own borrower."""
    own = [m for m in matches if m.borrower_id == borrower_id]
    if not own:
        if matches:
            return Judgement(None, OTHER_BORROWER, matches[0].collector_id)
        return Judgement(None, UNKNOWN)
    for m in own:
        if not m.used and now < m.valid_until and m.collector_active:
            return Judgement(m)
    # Several of this borrower's codes can share a digest only over time (a code that came up
    # again after the first had lapsed); the latest one says why.
    latest = max(own, key=lambda m: m.valid_until)
    if not latest.collector_active:
        return Judgement(None, DEACTIVATED, latest.collector_id)
    return Judgement(None, USED if latest.used else EXPIRED, latest.collector_id)
