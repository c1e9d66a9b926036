"""Visit codes: the alphabet, reading what people type, the keyed hash, and which stored code
(if any) verifies for a borrower."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from arrears.core.people import codes
from arrears.core.people.codes import StoredCode, judge

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_alphabet_is_crockford_base32() -> None:
    # Crockford's published alphabet: the digits and the letters without I, L, O, U.
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1) if chr(c) not in "ILOU"]
    assert "0123456789" + "".join(letters) == codes.ALPHABET
    assert len(set(codes.ALPHABET)) == 32 and codes.BITS == 50


def test_generate_maps_bits_to_symbols() -> None:
    # All-zero bits give the first symbol everywhere, all-one bits the last; the 50 bits used
    # are the top ones of the seven bytes (the last 6 bits are dropped).
    assert codes.generate(lambda n: bytes(n)) == "0" * 10
    assert codes.generate(lambda n: b"\xff" * n) == "Z" * 10
    # 0b00001 00010 ... : symbol i is the 5-bit group i of the big-endian number.
    groups = list(range(1, 11))
    value = 0
    for g in groups:
        value = (value << 5) | g
    raw = (value << 6).to_bytes(7, "big")
    assert codes.generate(lambda n: raw[:n]) == "".join(codes.ALPHABET[g] for g in groups)


def test_every_symbol_is_uniform_over_random_bytes() -> None:
    # Exhaustive over one symbol's 5 bits: each of 32 values appears exactly once.
    def top(value: int) -> Callable[[int], bytes]:
        return lambda n: (value << 51).to_bytes(n, "big")

    seen = {codes.generate(top(v))[0] for v in range(32)}
    assert seen == set(codes.ALPHABET)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("7KQ2M-XD94R", "7KQ2MXD94R"),
        ("7kq2m xd94r", "7KQ2MXD94R"),
        ("  7KQ2MXD94R ", "7KQ2MXD94R"),
        ("IL0O1-23456", "1100123456"),  # Crockford: I and L read as 1, O as 0
    ],
)
def test_read_accepts_what_people_type(typed: str, canonical: str) -> None:
    assert codes.read(typed) == (canonical, ())


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("7KQ2M-XD94", "must be 10 letters and digits, got 9"),
        ("7KQ2M-XD94RR", "must be 10 letters and digits, got 11"),
        ("7KQ2U-XD94R", "has characters a code never contains: U"),
        ("7KQ2M_XD94R", "has characters a code never contains: _"),
        ("", "must be 10 letters and digits, got 0"),
    ],
)
def test_read_refuses_what_cannot_be_a_code(typed: str, reason: str) -> None:
    value, problems = codes.read(typed)
    assert value is None and [(p.field, p.reason) for p in problems] == [("code", reason)]


def test_digest_is_hmac_sha256_and_depends_on_the_secret() -> None:
    expected = hmac.new(b"k" * 32, b"7KQ2MXD94R", hashlib.sha256).hexdigest()
    assert codes.digest(b"k" * 32, "7KQ2MXD94R") == expected
    assert codes.digest(b"j" * 32, "7KQ2MXD94R") != expected
    assert codes.display("7KQ2MXD94R") == "7KQ2M-XD94R"


def _stored(borrower: str = "B1", **kw: object) -> StoredCode:
    values: dict[str, object] = {
        "code_id": 1,
        "collector_id": "C000001",
        "borrower_id": borrower,
        "valid_until": NOW + timedelta(minutes=30),
        "used": False,
        "collector_active": True,
    }
    values.update(kw)
    return StoredCode(**values)  # type: ignore[arg-type]


def test_judge_each_way_a_code_can_fail() -> None:
    good = _stored()
    assert judge([good], "B1", NOW).code == good
    assert judge([], "B1", NOW).reason == codes.UNKNOWN
    other = judge([good], "B2", NOW)
    assert (other.code, other.reason, other.collector_id) == (None, codes.OTHER_BORROWER, "C000001")
    assert judge([_stored(used=True)], "B1", NOW).reason == codes.USED
    # valid_until is exclusive: at that instant the code has lapsed.
    assert judge([_stored(valid_until=NOW)], "B1", NOW).reason == codes.EXPIRED
    assert judge([_stored(collector_active=False)], "B1", NOW).reason == codes.DEACTIVATED


def test_judge_prefers_the_borrowers_live_code_among_repeats() -> None:
    lapsed = _stored(code_id=1, valid_until=NOW - timedelta(days=3), used=True)
    live = _stored(code_id=2)
    someone_else = _stored("B2", code_id=3)
    assert judge([lapsed, someone_else, live], "B1", NOW).code == live
