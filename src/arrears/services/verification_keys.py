"""The two keys collector verification needs, from the environment or, in development, from
files made on first use outside any repository.

* ``ARREARS_SECRET_KEY``: the server secret for the codes' HMAC (at least 32 characters).
* ``ARREARS_SIGNING_KEY``: the lender's Ed25519 private key for credentials, as PEM (PKCS #8)
  or as the 32 raw bytes in base64url.

Without them (development), each is generated once and kept in the key directory
(``store.keyfiles``: ``ARREARS_KEY_DIR``, else ``$XDG_CONFIG_HOME/arrears``, else
``~/.config/arrears``), readable by the owner only; ``notice`` is told once, when the file is
made, so the shell can say so. A deployment sets both variables and never relies on the files.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from arrears.core.problem import Problem, Result, fail, ok
from arrears.store.keyfiles import Notice, key_dir, secret, write_private

SECRET_ENV = "ARREARS_SECRET_KEY"
SIGNING_ENV = "ARREARS_SIGNING_KEY"
SECRET_FILE = "code-secret.key"
REFERENCE_ENV = "ARREARS_REFERENCE_KEY"
REFERENCE_FILE = "reference.key"
SIGNING_FILE = "credential-signing-key.pem"


def code_secret(env: Mapping[str, str], notice: Notice) -> Result[bytes]:
    """The HMAC key for visit codes."""
    return secret(env, notice, SECRET_ENV, SECRET_FILE, "visit codes")


def reference_key(env: Mapping[str, str], notice: Notice) -> Result[bytes]:
    """The HMAC key of the keyed references that stand for phone numbers and addresses in
    the evidence log and in message keys. Keep it as long as the evidence: with it the lender
    can still tell which number a record meant while the number is on file; after erasure no
    one can recover the number from the record."""
    return secret(env, notice, REFERENCE_ENV, REFERENCE_FILE, "evidence references")


def _parse_signing(text: str, where: str) -> Result[Ed25519PrivateKey]:
    try:
        if "-----BEGIN" in text:
            key = load_pem_private_key(text.encode(), password=None)
        else:
            raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
            key = Ed25519PrivateKey.from_private_bytes(raw)
    except (ValueError, TypeError, binascii.Error):
        return fail(Problem(where, "", "is not an Ed25519 private key (PEM or 32 bytes base64url)"))
    if not isinstance(key, Ed25519PrivateKey):
        return fail(Problem(where, "", "is not an Ed25519 key"))
    return ok(key)


def signing_key(env: Mapping[str, str], notice: Notice) -> Result[Ed25519PrivateKey]:
    """The lender's credential-signing key."""
    given = env.get(SIGNING_ENV)
    if given is not None:
        return _parse_signing(given, f"environment {SIGNING_ENV}")
    path = key_dir(env) / SIGNING_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        try:
            write_private(path, pem)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            notice(
                f"generated a development credential-signing key in {path}; "
                f"set {SIGNING_ENV} in production and publish its public key"
            )
    return _parse_signing(path.read_text(), f"key file {path}")


def load_public_key(text: str, where: str) -> Result[Ed25519PublicKey]:
    """A published public key: PEM (SubjectPublicKeyInfo) or the 32 raw bytes in base64url."""
    try:
        if "-----BEGIN" in text:
            key = load_pem_public_key(text.encode())
        else:
            raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
            key = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, binascii.Error):
        return fail(Problem(where, "", "is not an Ed25519 public key (PEM or base64url)"))
    if not isinstance(key, Ed25519PublicKey):
        return fail(Problem(where, "", "is not an Ed25519 key"))
    return ok(key)
