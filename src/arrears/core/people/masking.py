"""Personal data as staff without need see it."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """The first three and the last four digits of the national number, as Chinese apps show
    one: 138****1234 (+86 138 0013 1234 too). A number too short to hide three digits of is
    all stars: masking must not leave it whole."""
    digits = [c for c in phone if c.isdigit()]
    if phone.lstrip().startswith("+"):  # the country code is no part of the number shown
        digits = digits[1:] if phone.lstrip()[1:2] in ("1", "7") else digits[2:]
    if len(digits) < 10:
        return "****"
    return "".join(digits[:3]) + "****" + "".join(digits[-4:])


def mask_address(address: str) -> str:
    """The start of an address (the city and district, in the Chinese order; the number, in
    the English) and stars: enough to see which region a visit is in, not the door."""
    text = address.strip()
    if not text:
        return ""
    return text[: min(6, len(text) // 3)] + "****"
