"""Personal data encrypted at rest: the ``Sealed`` column type and the one helper pair
(``seal`` / ``unseal``) that every writer and reader bypassing SQLAlchemy's type processing
(COPY, ``executemany`` on the driver, raw SQL) goes through.

The data key is ``ARREARS_DATA_KEY``: any secret of at least 32 characters (like the other
secrets, ``store.keyfiles``), never a key used as is. Without it (development) one is generated
once in the key directory (``data.key``) and said so on stderr. The key is read once a process.
Lose it and the sealed columns are lost with it: back it up as carefully as the database.

Each column has its own AES-SIV-512 key, derived from the data key with HKDF-SHA-512 and
``info = "arrears sealed v1 <table>.<column>"``. The column's identity is in the key, not in
associated data: one key per column makes equal values in two columns (a borrower's phone and
the outbox recipient it became) different ciphertexts, and a ciphertext copied from one column
to another fails authentication there just as it would with associated data.

AES-SIV is deterministic (RFC 5297, no nonce): one value always seals to one ciphertext in a
column. That is what keeps ``WHERE phone = :phone`` working (the bound parameter is sealed by
the column's type like the column was); the price is that equal values are visible as equal
within a column. Stored form: ``enc1:`` + base64url (unpadded) of the SIV and ciphertext.

* ``None`` stays ``None``; the empty string stays the empty string (several of these columns
  default to ``""``, which holds no personal data, and AES-SIV does not take empty input).
* Reading a value without the ``enc1:`` prefix raises ``SealedError``: migration 0025 seals
  every existing row, so at run time a clear value is a writer that bypassed sealing (a bug
  to see, not to hide).
* A value that fails authentication (tampered with, or sealed under another data key) raises
  ``SealedError`` naming the column.

``phone_tail`` is the blind index that lets staff find a borrower by the last four digits of
their phone: HMAC-SHA-256 of those digits under a key derived from the data key. It hides the
digits from anyone without the key; with only 10,000 possible tails it hides nothing from
whoever holds it, and it groups borrowers by tail (that is its purpose).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Dialect, Table, Text, TypeDecorator

from arrears.core.problem import expect
from arrears.store.keyfiles import secret

DATA_ENV = "ARREARS_DATA_KEY"
DATA_FILE = "data.key"
PREFIX = "enc1:"
_INFO = "arrears sealed v1 {}"
_TAIL_INFO = b"arrears phone tail v1"
TAIL_DIGITS = 4
_CACHED = 1 << 16  # values remembered per direction (a close reads the same numbers daily)


class SealedError(ValueError):
    """A sealed column held a value that cannot be opened: named, so the column is found."""


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=length, salt=None, info=info).derive(master)


class Sealer:
    """Seals and opens values of named columns under one data key."""

    def __init__(self, master: bytes) -> None:
        self._master = master
        self._ciphers: dict[str, AESSIV] = {}
        self._tail_key = _derive(master, _TAIL_INFO, 32)
        # Deterministic both ways, so remembering recent values is safe and saves the close
        # most of its cost (it reads every open case's numbers each day).
        self.seal = functools.lru_cache(maxsize=_CACHED)(self._seal)
        self.unseal = functools.lru_cache(maxsize=_CACHED)(self._unseal)

    def _cipher(self, where: str) -> AESSIV:
        found = self._ciphers.get(where)
        if found is None:
            found = AESSIV(_derive(self._master, _INFO.format(where).encode(), 64))
            self._ciphers[where] = found
        return found

    def _seal(self, where: str, value: str) -> str:
        if value == "":
            return ""
        sealed = self._cipher(where).encrypt(value.encode(), None)
        return PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def _unseal(self, where: str, stored: str) -> str:
        if stored == "":
            return ""
        if not stored.startswith(PREFIX):
            raise SealedError(
                f"{where} holds a value that is not sealed: a writer bypassed sealing "
                "(or migration 0025 has not run on this database)"
            )
        body = stored[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return self._cipher(where).decrypt(raw, None).decode()
        except (InvalidTag, binascii.Error, ValueError) as e:
            raise SealedError(
                f"{where}: a sealed value does not open with this data key "
                f"(tampered with, or sealed under another {DATA_ENV})"
            ) from e

    def tail(self, phone: str) -> str:
        """The blind index of ``phone``'s last four digits (all of them, if fewer)."""
        digits = "".join(ch for ch in phone if ch.isdigit())[-TAIL_DIGITS:]
        return hmac.new(self._tail_key, digits.encode(), hashlib.sha256).hexdigest()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def data_key() -> bytes:
    """The process's data key (made in development, and said so)."""
    return expect(secret(os.environ, _say, DATA_ENV, DATA_FILE, "personal data at rest"))


@functools.cache
def sealer() -> Sealer:
    """The process's sealer, on the data key read once."""
    return Sealer(data_key())


def seal(table: str, column: str, value: str | None) -> str | None:
    """``value`` as ``table.column`` stores it."""
    return None if value is None else sealer().seal(f"{table}.{column}", value)


def unseal(table: str, column: str, stored: str | None) -> str | None:
    """The clear value of what ``table.column`` stores."""
    return None if stored is None else sealer().unseal(f"{table}.{column}", stored)


def phone_tail(phone: str) -> str:
    """``borrowers.phone_tail`` for ``phone``."""
    return sealer().tail(phone)


class Sealed(TypeDecorator[str]):
    """A text column stored sealed: ``Column("phone", Sealed("borrowers.phone"))``.

    Names its own column (checked against the metadata in the tests) so that the type, which
    SQLAlchemy gives no column to, derives that column's key."""

    impl = Text
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else sealer().seal(self.where, value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else sealer().unseal(self.where, value)


def sealed_columns(table: Table) -> dict[str, str]:
    """``table``'s sealed columns: name -> ``table.column`` as the key derivation names it."""
    return {c.name: c.type.where for c in table.columns if isinstance(c.type, Sealed)}


def sealing(table: Table, columns: Sequence[str]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """For the bulk writers: a function sealing the row tuples (in ``columns`` order) that
    ``table`` is given, or the identity when none of the columns is sealed."""
    wanted = sealed_columns(table)
    at = [(k, wanted[c]) for k, c in enumerate(columns) if c in wanted]
    if not at:
        return lambda row: row
    s = sealer()

    def sealed(row: tuple[Any, ...]) -> tuple[Any, ...]:
        cells = list(row)
        for k, where in at:
            if cells[k] is not None:
                cells[k] = s.seal(where, cells[k])
        return tuple(cells)

    return sealed
