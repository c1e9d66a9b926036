"""Personal data as staff without need see it."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """The first three and the last four digits, as Chinese apps show a number: 138****1234.
    A number too short to keep seven digits of is all stars: masking must not leave it whole."""
    digits = [c for c in phone if c.isdigit()]
    if len(digits) < 11:
        return "****"
    return "".join(digits[:3]) + "****" + "".join(digits[-4:])


def mask_address(address: str) -> str:
    """The start of an address (the city and district, in the Chinese order; the number, in
    the English) and stars: enough to see which region a visit is in, not the door."""
    text = address.strip()
    if not text:
        return ""
    return text[: min(6, len(text) // 3)] + "****"
