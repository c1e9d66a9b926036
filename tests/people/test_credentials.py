"""Signed credentials, pure: a valid one verifies with the lender's public key only; forged,
altered, expired, not yet valid and other keys' credentials are refused, each saying why."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arrears.core.people import credentials as cred

# RFC 8032 section 7.1, TEST 1: a published Ed25519 key pair.
RFC_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_EMPTY_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
KEY = Ed25519PrivateKey.from_private_bytes(RFC_SECRET)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _credential(key: Ed25519PrivateKey = KEY, **kw: object) -> cred.Credential:
    values: dict[str, object] = {
        "collector_id": "C000001",
        "name": "张一",
        "employee_no": "EMP-20240101",
        "agency": "Agency A",
        "valid_from": NOW - timedelta(days=1),
        "valid_until": NOW + timedelta(days=29),
        "key_id": cred.key_id(key.public_key()),
    }
    values.update(kw)
    return cred.Credential(**values)  # type: ignore[arg-type]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_library_signs_as_rfc_8032_says() -> None:
    assert cred.raw_public_key(KEY.public_key()) == RFC_PUBLIC
    assert KEY.sign(b"") == RFC_EMPTY_SIGNATURE


def test_key_id_is_the_first_8_bytes_of_sha256_of_the_raw_key() -> None:
    assert cred.key_id(KEY.public_key()) == _b64(hashlib.sha256(RFC_PUBLIC).digest()[:8])


def test_a_valid_credential_verifies_with_the_public_key_alone() -> None:
    text = cred.sign(_credential(), KEY)
    assert text.startswith("ARC1.") and len(text) < 400  # fits a QR code comfortably
    checked, problems = cred.check(text, KEY.public_key(), NOW)
    assert problems == () and checked is not None and checked.verified
    assert checked.credential == _credential()
    # The payload is the documented compact JSON.
    payload = json.loads(base64.urlsafe_b64decode(text.split(".")[1] + "=="))
    assert payload == {
        "v": 1,
        "kid": cred.key_id(KEY.public_key()),
        "id": "C000001",
        "name": "张一",
        "employee_no": "EMP-20240101",
        "agency": "Agency A",
        "nbf": "2026-03-01T10:00:00Z",
        "exp": "2026-03-31T10:00:00Z",
    }


def _refusal(text: str, now: datetime = NOW, key: Ed25519PrivateKey = KEY) -> str:
    checked, problems = cred.check(text, key.public_key(), now)
    assert problems == () and checked is not None
    return checked.refused


def test_an_altered_payload_is_refused() -> None:
    head, payload, signature = cred.sign(_credential(), KEY).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["exp"] = "2036-03-31T10:00:00Z"
    altered = _b64(json.dumps(data, separators=(",", ":")).encode())
    assert _refusal(f"{head}.{altered}.{signature}") == (
        "signature does not match: forged, or altered after signing"
    )


def test_a_forged_signature_is_refused() -> None:
    head, payload, _genuine = cred.sign(_credential(), KEY).split(".")
    forged = _b64(bytes(64))
    assert "forged" in _refusal(f"{head}.{payload}.{forged}")


def test_a_credential_made_with_another_key_claiming_ours_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    # An impostor's key writes our key id into the payload: the signature still fails.
    impostor = _credential(key=other)
    text = cred.sign(impostor, other)
    head, payload, signature = text.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["kid"] = cred.key_id(KEY.public_key())
    claimed = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    assert "forged" in _refusal(f"{head}.{claimed}.{signature}")
    # Checked with the wrong public key, a genuine credential names the key it was made with.
    genuine = cred.sign(_credential(), KEY)
    assert _refusal(genuine, key=other) == (
        f"signed by another key ({cred.key_id(KEY.public_key())}), "
        f"not the lender's ({cred.key_id(other.public_key())})"
    )


def test_validity_period_is_enforced_at_both_ends() -> None:
    text = cred.sign(_credential(), KEY)
    assert _refusal(text, NOW + timedelta(days=29)) == "expired at 2026-03-31T10:00:00Z"
    assert _refusal(text, NOW + timedelta(days=29) - timedelta(seconds=1)) == ""
    assert _refusal(text, NOW - timedelta(days=1, seconds=1)) == (
        "not valid before 2026-03-01T10:00:00Z"
    )


@pytest.mark.parametrize("text", ["", "hello", "ARC1.abc", "ARC2.a.b", "ARC1.@@@.###"])
def test_text_that_is_not_a_credential_is_a_problem(text: str) -> None:
    checked, problems = cred.check(text, KEY.public_key(), NOW)
    assert checked is None and problems and problems[0].record == "credential"
