"""Keyed references: what the evidence log and message keys hold instead of a phone number or
an address.

A plain SHA-256 of a phone number is no protection: there are only some 10^10 numbers, and a
laptop hashes them all in minutes. An HMAC with the lender's reference key cannot be reversed
without the key, yet the same number always gives the same reference, so an auditor can still
see that two records name the same recipient. When a borrower's personal data is erased at the
end of retention, the records keep their references and the chain stays verifiable.
"""

from __future__ import annotations

import hashlib
import hmac


def keyed_ref(key: bytes, value: str) -> str:
    """The reference of ``value`` (a phone number or an address, as stored) under ``key``."""
    if not key:
        raise ValueError("keyed_ref: the reference key must not be empty")
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
