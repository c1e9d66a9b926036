"""Signed collector credentials, pure: what a collector shows on a phone, and the check a
borrower can make offline with nothing but the lender's published public key.

A credential is a compact JSON payload signed with the lender's Ed25519 key (RFC 8032) and
written as one line of text, short enough for a QR code:

    ARC1.<base64url(payload)>.<base64url(signature)>

The signature covers the payload's bytes exactly as they stand in the text, so no
re-serialisation can change what was signed. The payload names the collector (id, name,
employee number, agency), the validity period and the id of the key that signed it (the first
8 bytes of SHA-256 over the raw public key, base64url): a credential signed by another key is
refused with that said. Whether the collector has since been deactivated is not in the
credential; the shell checks it against the database when it has one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from arrears.core.problem import Problem, Result, fail, ok

PREFIX = "ARC1"
VERSION = 1
_RECORD = "credential"


@dataclass(frozen=True, slots=True)
class Credential:
    collector_id: str
    name: str
    employee_no: str
    agency: str | None
    valid_from: datetime
    valid_until: datetime
    key_id: str

    def payload(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "kid": self.key_id,
            "id": self.collector_id,
            "name": self.name,
            "employee_no": self.employee_no,
            "agency": self.agency,
            "nbf": _instant(self.valid_from),
            "exp": _instant(self.valid_until),
        }


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return _b64(hashlib.sha256(raw_public_key(public_key)).digest()[:8])


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def sign(credential: Credential, private_key: Ed25519PrivateKey) -> str:
    """The credential as text. ``credential.key_id`` must be the signing key's id."""
    assert credential.key_id == key_id(private_key.public_key()), "key id of another key"
    payload = json.dumps(
        credential.payload(), ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()
    return f"{PREFIX}.{_b64(payload)}.{_b64(private_key.sign(payload))}"


def _bad(reason: str, field: str = "") -> Problem:
    return Problem(_RECORD, field, reason)


def _split(text: str) -> Result[tuple[bytes, bytes]]:
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return fail(_bad(f"is not a credential (expected {PREFIX}.<payload>.<signature>)"))
    try:
        return ok((_unb64(parts[1]), _unb64(parts[2])))
    except (binascii.Error, ValueError):
        return fail(_bad("is not valid base64url"))


def _parse(payload: bytes) -> Result[Credential]:
    try:
        data = json.loads(payload.decode())
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return fail(_bad(f"is not a version {VERSION} credential", "v"))
        agency = data["agency"]
        return ok(
            Credential(
                collector_id=str(data["id"]),
                name=str(data["name"]),
                employee_no=str(data["employee_no"]),
                agency=None if agency is None else str(agency),
                valid_from=datetime.strptime(data["nbf"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                valid_until=datetime.strptime(data["exp"], "%Y-%m-%dT%H:%M:%SZ").replace(
                    tzinfo=UTC
                ),
                key_id=str(data["kid"]),
            )
        )
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return fail(_bad("payload is not a credential's JSON"))


@dataclass(frozen=True, slots=True)
class Checked:
    """A credential that stands (``refused`` empty), or why not; ``credential`` is what the
    payload claims, which can only be trusted when nothing was refused."""

    credential: Credential | None
    refused: str = ""

    @property
    def verified(self) -> bool:
        return not self.refused


def check(text: str, public_key: Ed25519PublicKey, now: datetime) -> Result[Checked]:
    """Is ``text`` a credential ``public_key`` signed, valid at ``now``?

    Refused, each with its reason: signed by another key; a signature that does not match
    (forged, or the payload altered after signing); not yet or no longer valid. Text that is
    not a credential at all is a Problem.
    """
    parts, problems = _split(text)
    if parts is None:
        return fail(*problems)
    payload, signature = parts
    claimed, _ = _parse(payload)
    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        expected = key_id(public_key)
        if claimed is not None and claimed.key_id != expected:
            why = f"signed by another key ({claimed.key_id}), not the lender's ({expected})"
            return ok(Checked(claimed, why))
        return ok(Checked(claimed, "signature does not match: forged, or altered after signing"))
    if claimed is None:
        return fail(_bad("signed, but its payload is not a credential's JSON"))
    if now < claimed.valid_from:
        return ok(Checked(claimed, f"not valid before {_instant(claimed.valid_from)}"))
    if now >= claimed.valid_until:
        return ok(Checked(claimed, f"expired at {_instant(claimed.valid_until)}"))
    return ok(Checked(claimed))


def payload_of(text: str) -> Result[dict[str, Any]]:
    """The JSON payload ``text`` carries, unverified (for showing, and for comparing with a
    copy written beside it)."""
    parts, problems = _split(text)
    if parts is None:
        return fail(*problems)
    try:
        data = json.loads(parts[0].decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return fail(_bad("payload is not JSON"))
    if not isinstance(data, dict):
        return fail(_bad("payload is not a JSON object"))
    return ok(data)
