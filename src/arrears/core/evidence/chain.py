"""Hash-chained evidence records: the pure core (no database, no clock, no I/O).

This docstring is the specification. A borrower (or their lawyer) can re-implement verification
from it alone; ``arrears/core/evidence/verify_export.py`` is a standard-library implementation
of it.

Records
-------
Each borrower has one chain. A record has seven fields:

``borrower_id``  string, 1..64 characters.
``seq``          integer; the chain's first record has seq 1, each next one seq + 1. So the
                 last record's seq is also the number of records in the chain.
``at``           when the record was written, in UTC, as text in exactly this form:
                 ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fractional digits, always ``Z``),
                 e.g. ``2024-05-01T09:30:00.000000Z``.
``kind``         what happened, e.g. ``contact.attempt``; lowercase ``[a-z][a-z0-9_]*`` words
                 joined by dots, at most 40 characters.
``payload``      a JSON object with the details (see "Canonical JSON" for what it may hold).
``prev_hash``    the ``hash`` of the previous record of the same chain; for seq 1 it is 64 zeros
                 (``GENESIS_HASH``).
``hash``         lowercase hex SHA-256 of the canonical JSON of the *other six* fields::

                     hash = SHA-256(UTF-8(canonical_json({"at": ..., "borrower_id": ...,
                             "kind": ..., "payload": ..., "prev_hash": ..., "seq": ...})))

Canonical JSON
--------------
Exactly what Python's ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` produces, restricted to values where that output is unambiguous:

* Allowed values: objects with string keys, arrays, strings, ``true``, ``false``, ``null`` and
  integers with absolute value at most 2**53 - 1 (so every JSON parser reads them exactly).
  **No floating-point numbers**: money is a decimal string (``"1234.50"``) or integer minor
  units (fen).
* Object keys are sorted by Unicode code point (equal to sorting the UTF-8 bytes); no duplicates.
* No whitespace anywhere outside strings: ``,`` between items and ``:`` after keys.
* Integers in plain decimal, no leading zeros, no ``+``, no exponent (``-0`` never appears).
* Strings are written as their characters, not escaped, except: ``"`` as ``\\"``, ``\\`` as
  ``\\\\``, U+0008 ``\\b``, U+0009 ``\\t``, U+000A ``\\n``, U+000C ``\\f``, U+000D ``\\r``, and the
  other characters below U+0020 as ``\\u00XX`` with lowercase hex digits. Everything else,
  including ``/``, U+007F, U+2028 and non-ASCII letters such as ``逾期``, is written literally.
* The text is encoded as UTF-8 (no byte order mark) before hashing.

A text is canonical exactly when it is what this function writes for the value it reads as:
``canonical_json(json.loads(text)) == text``. Stored payloads must be canonical, and
verification hashes the stored text itself (never a re-serialisation of what was read from
it), so a payload that reads the same but is written otherwise is refused, not accepted as an
equivalent: whitespace outside strings, keys out of order, a key twice (readers disagree on
which one counts: Python keeps the last, SQLite's ``json_extract`` the first), an escape where
the character itself is written (``\\u0041`` for ``A``, ``\\u903e`` for ``逾``, ``\\/``) or
another spelling of an escape (``\\u000a`` for ``\\n``), and any other spelling of a number
(``1.0``, ``1e2``, ``01``, ``-0``, ``+1``).

Example: the record body ``{"seq": 1, "borrower_id": "b1", ...}`` hashes the bytes of
``{"at":"2024-05-01T09:30:00.000000Z","borrower_id":"b1","kind":"contact.attempt",
"payload":{"amount":"120.00","channel":"sms"},"prev_hash":"000...000","seq":1}`` (one line).

Verification
------------
Walk a chain in seq order. Record *n* (counting from 1) must have ``seq == n``, the chain's
``borrower_id``, a stored payload that is canonical JSON, a ``hash`` equal to the SHA-256 of
the body written around that stored payload text, and ``prev_hash`` equal to the hash of
record *n - 1* (64 zeros for n = 1). The first record that fails is reported, with what failed.
This detects an edited record (its hash no longer matches, or, if the editor recomputed it, the
next record's ``prev_hash`` no longer matches), a deleted, reordered or inserted record (a seq
gap, or a broken link). Removing records from the *end* leaves a shorter valid chain; that is
caught only against a head known from elsewhere: the daily root.

The daily root
--------------
A chain's head is its last record's ``(borrower_id, seq, hash)``. The root commits to every
chain's head at one moment. It is the Merkle Tree Hash of RFC 6962 (section 2.1) over the heads
sorted by ``borrower_id`` (by code point):

* leaf = SHA-256(0x00 || UTF-8(canonical_json({"borrower_id": b, "hash": h, "seq": s})))
* node = SHA-256(0x01 || left || right), over the raw 32-byte digests.
* Pairing rule: pair the leaves left to right; an odd node out at the end of a level is carried
  up unchanged (never duplicated), and repeat until one node is left. (This is the same tree as
  RFC 6962's "split at the largest power of two below n".)
* No heads: the root is SHA-256 of the empty string.

The root is written as lowercase hex. An inclusion proof for one head is the RFC 6962 audit path
(the sibling hashes from the leaf up, lowercase hex), checked with RFC 9162 section 2.1.3.2.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

GENESIS_HASH = "0" * 64
MAX_SAFE_INT = 2**53 - 1
MAX_BORROWER_ID = 64
MAX_KIND = 40

_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_AT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


class EvidenceError(ValueError):
    """A record that cannot be written (bad field), with the field and the reason."""


class NotCanonical(EvidenceError):
    """Stored text that reads as JSON but is not the one canonical text of its value."""


class Kind(StrEnum):
    """The kinds the collection engine writes. Other well-formed kinds are accepted too."""

    # A contact's life, in order: planned (the gate allowed it, with the pack it checked) or
    # blocked (with the rules against it); for a message then sent (the provider took it) and
    # delivered (the provider confirmed it), or failed (with the provider's answer), expired
    # (its window ended unsent) or cancelled (no longer owed: repaid, disputed, a moratorium).
    CONTACT_PLANNED = "contact.planned"
    CONTACT_SENT = "contact.sent"
    CONTACT_DELIVERED = "contact.delivered"
    CONTACT_CANCELLED = "contact.cancelled"
    CONTACT_ATTEMPT = "contact.attempt"  # a call or visit made (by an agent, a collector)
    CONTACT_OUTCOME = "contact.outcome"  # no answer, reached, refused, wrong number, ...
    CONTACT_BLOCKED = "contact.blocked"  # the compliance gate refused it; payload names the rule
    CONTACT_FAILED = "contact.failed"  # a message the provider refused for good, or gave up on
    CONTACT_EXPIRED = "contact.expired"  # a message or a call not made before its window ended
    VISIT = "visit"  # assignment, notice to the borrower, report
    PROMISE = "promise"  # promise to pay made / kept / broken
    BORROWER_REQUEST = "borrower.request"  # installments, restructuring, complaint, dispute
    COMPLAINT_DECIDED = "complaint.decided"  # the lender's outcome of a complaint
    BORROWER_NOTE = "borrower.note"  # the borrower's own note of a call or a visit
    BORROWER_FILE = "borrower.file"  # a screenshot, recording or document, by its SHA-256


# ---------------------------------------------------------------------------------------------
# Canonical JSON and hashing


def _check_json(value: Any, path: str) -> None:
    # Walk before dumping: json.dumps would happily write floats and non-string keys (coerced),
    # and both make the bytes depend on the implementation that wrote them.
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, dict):
        # Most payloads are flat: their plain values are passed here without building a path
        # (paths are only written out for what is nested or wrong).
        for key, item in value.items():
            if not isinstance(key, str):
                raise EvidenceError(f"{path}: object key {key!r} is not a string")
            leaf = type(item)
            if leaf is str or leaf is bool or item is None:
                continue
            if leaf is int and -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                continue
            _check_json(item, f"{path}.{key}")
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise EvidenceError(f"{path}: integer {value} is outside ±(2**53 - 1); use a string")
        return
    if isinstance(value, float):
        raise EvidenceError(f"{path}: floats are not allowed in evidence; write money as a string")
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")
        return
    raise EvidenceError(f"{path}: {type(value).__name__} is not JSON (use str, int, bool, None)")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring); raises EvidenceError."""
    _check_json(value, "$")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate has no UTF-8 form
        raise EvidenceError(f"text is not valid Unicode: {exc.reason}") from None
    return text


class _Finding(Exception):
    """What makes a text non-canonical, found while reading it (see :func:`_why_not`)."""


def _pairs_in_order(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise _Finding(f"key {key!r} appears twice in one object")
    for before, after in itertools.pairwise(keys):
        if after < before:
            raise _Finding(f"keys out of code point order: {after!r} after {before!r}")
    return dict(pairs)


def _integer_only(number: str) -> Any:
    raise _Finding(f"number {number} is not an integer: no fractions or exponents")


def _plain_integer(number: str) -> int:
    if number == "-0":
        raise _Finding("number -0: the canonical form of zero is 0")
    return int(number)


def _why_not(text: str, canonical: str | None) -> str:
    """Why ``text`` (which reads as JSON) is not ``canonical``, the canonical text of its value
    (None: its value has none, e.g. a float), as a person checking the record would say it."""
    try:
        json.loads(
            text,
            object_pairs_hook=_pairs_in_order,
            parse_float=_integer_only,
            parse_int=_plain_integer,
            parse_constant=_integer_only,
        )
    except _Finding as finding:
        return str(finding)
    if canonical is None:
        return "its value has no canonical form"
    at = next(
        (i for i, (a, b) in enumerate(zip(text, canonical, strict=False)) if a != b),
        min(len(text), len(canonical)),
    )
    if at < len(text) and text[at] in " \t\n\r":
        what = "whitespace outside a string"
    elif "\\" in text[max(0, at - 5) : at + 1]:  # within an escape: one is at most six long
        what = "a character escaped otherwise than canonical JSON writes it"
    else:
        what = "text differs from its canonical form"
    found, want = text[at : at + 12], canonical[at : at + 12]
    return f"{what} at character {at}: {found!r}, canonical {want!r}"


def _unreadable(text: str, exc: ValueError) -> EvidenceError:
    pos = getattr(exc, "pos", 0)
    # JSON has no leading zeros: the reader stops after the 0 and trips on the next digit.
    if (
        0 < pos < len(text)
        and text[pos].isdigit()
        and text[pos - 1] == "0"
        and (pos < 2 or text[pos - 2] not in "0123456789.eE+")
    ):
        return NotCanonical(f"number with a leading zero at character {pos - 1}")
    return EvidenceError(f"not JSON: {exc}")


def read_canonical(text: str) -> Any:
    """The value of ``text`` if ``text`` is canonical JSON (see the module docstring).

    Raises :class:`NotCanonical` naming what is written otherwise (whitespace, key order, a
    repeated key, an escape, a number form), or :class:`EvidenceError` if it is not JSON.
    """
    if not isinstance(text, str):
        raise EvidenceError(f"stored as {type(text).__name__}, not text")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _unreadable(text, exc if isinstance(exc, ValueError) else ValueError(exc)) from None
    # Reading and writing back is the whole check (a repeated key, a float or -0 cannot come
    # back as the same text); the slower reading with hooks only runs to say why not.
    try:
        canonical: str | None = canonical_json(value)
    except EvidenceError:
        canonical = None
    if canonical != text:
        raise NotCanonical(_why_not(text, canonical))
    return value


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_at(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; a naive datetime is refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise EvidenceError(f"at: {at.isoformat()} has no time zone; pass an aware datetime")
    u = at.astimezone(UTC)
    # Built by hand: strftime("%Y") does not zero-pad years below 1000 on every platform.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T"
        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"
    )


def parse_at(text: str) -> datetime:
    """The inverse of :func:`format_at`; anything but the exact form is refused."""
    if not _AT_RE.fullmatch(text):
        raise EvidenceError(f"at: {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    try:
        return datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    except ValueError as exc:
        raise EvidenceError(f"at: {text!r}: {exc}") from None


def body_json(
    borrower_id: str, seq: int, at_text: str, kind: str, payload: Any, prev_hash: str
) -> str:
    """The canonical JSON of the six hashed fields (what ``hash`` is the SHA-256 of)."""
    return canonical_json(
        {
            "at": at_text,
            "borrower_id": borrower_id,
            "kind": kind,
            "payload": payload,
            "prev_hash": prev_hash,
            "seq": seq,
        }
    )


def _new_body(
    borrower_id: str, seq: int, at_text: str, kind: str, payload_text: str, prev_hash: str
) -> str:
    # What body_json gives, for a record being appended: written around the payload's own
    # canonical text, so the payload is checked and dumped once instead of twice (a nested
    # object's canonical text is the same alone or inside its parent). Only for fields append
    # has checked: at_text (format_at), kind (_KIND_RE) and prev_hash (hex) are plain ASCII, so
    # their JSON is the text in quotes; verification always uses body_json.
    canonical_json(seq)
    borrower_j = canonical_json(borrower_id)
    return (
        f'{{"at":"{at_text}","borrower_id":{borrower_j},"kind":"{kind}","payload":{payload_text},'
        f'"prev_hash":"{prev_hash}","seq":{seq}}}'
    )


def stored_hash(
    borrower_id: str, seq: int, at_text: str, kind: str, payload_text: str, prev_hash: str
) -> str:
    """The hash a stored record's fields call for: SHA-256 of the body written around the
    stored payload text itself, which must be canonical (raises NotCanonical, or EvidenceError
    for a payload that is not a JSON object)."""
    return _stored_body_hash(
        borrower_id, seq, at_text, kind, _checked_payload(payload_text, None), prev_hash
    )


def _checked_payload(payload_text: str, read: dict[str, Any] | None) -> str:
    """``payload_text`` if it is the canonical text of a JSON object; ``read`` is what it was
    read as, if it has been (writing that back is the whole check, see ``read_canonical``)."""
    if read is not None:
        try:
            if canonical_json(read) == payload_text:
                return payload_text
        except EvidenceError:
            pass  # a float: read_canonical says so
    if not isinstance(read_canonical(payload_text), dict):
        raise EvidenceError("payload: must be a JSON object")
    return payload_text


def _stored_body_hash(
    borrower_id: str, seq: int, at_text: str, kind: str, payload_text: str, prev_hash: str
) -> str:
    body = (
        f'{{"at":{_quoted(at_text)},"borrower_id":{_quoted(borrower_id)},'
        f'"kind":{_quoted(kind)},"payload":{payload_text},'
        f'"prev_hash":{_quoted(prev_hash)},"seq":{canonical_json(seq)}}}'
    )
    return sha256_hex(body)


# The characters canonical JSON writes as themselves inside a string (see the docstring).
_LITERAL_RE = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')


def _quoted(text: str) -> str:
    """canonical_json of a string field, without the general walk for the usual text (a
    verification of the whole log writes four per record)."""
    if type(text) is str and _LITERAL_RE.fullmatch(text):
        return f'"{text}"'
    return canonical_json(text)


# ---------------------------------------------------------------------------------------------
# Records


class HasHead(Protocol):
    @property
    def borrower_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...


@dataclass(frozen=True)
class Head:
    """A chain's last record, as far as the root is concerned."""

    borrower_id: str
    seq: int
    hash: str


@dataclass(frozen=True)
class Record:
    """One evidence record. ``payload`` is the record's own copy; treat it as read-only."""

    borrower_id: str
    seq: int
    at: datetime
    kind: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    # The payload's text as stored (read from the database, or written to compute the hash of
    # a record just appended): what verification hashes and what an export writes. Not an
    # init field, so a copy made by dataclasses.replace writes its own payload's text.
    _payload_text: str | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def at_text(self) -> str:
        return format_at(self.at)

    @property
    def head(self) -> Head:
        return Head(self.borrower_id, self.seq, self.hash)

    def payload_json(self) -> str:
        return (
            self._payload_text if self._payload_text is not None else canonical_json(self.payload)
        )

    def computed_hash(self) -> str:
        """The hash this record's content calls for (differs from ``hash`` if it was altered).

        A stored record's is over its stored payload text (see :func:`stored_hash`; raises
        NotCanonical if that text is not canonical); a record built in memory is canonical by
        construction."""
        if self._payload_text is not None:
            # self.payload is what the stored text was read as (see ``stored``)
            payload_text = _checked_payload(self._payload_text, self.payload)
            return _stored_body_hash(
                self.borrower_id, self.seq, self.at_text, self.kind, payload_text, self.prev_hash
            )
        body = body_json(
            self.borrower_id, self.seq, self.at_text, self.kind, self.payload, self.prev_hash
        )
        return sha256_hex(body)

    def to_json(self) -> str:
        """The record as one JSON line (all seven fields): the export format. The payload is
        written as stored, so a stored text that is not canonical is exported as it is (and
        the borrower's verifier refuses it), never quietly repaired."""
        return (
            f'{{"at":{canonical_json(self.at_text)},'
            f'"borrower_id":{canonical_json(self.borrower_id)},"hash":{canonical_json(self.hash)},'
            f'"kind":{canonical_json(self.kind)},"payload":{self.payload_json()},'
            f'"prev_hash":{canonical_json(self.prev_hash)},"seq":{canonical_json(self.seq)}}}'
        )


@dataclass(frozen=True)
class Entry:
    """Something to append: the caller's part of a record (seq and hashes are computed)."""

    borrower_id: str
    kind: str
    payload: Mapping[str, Any]
    at: datetime


def _check_borrower_id(borrower_id: str) -> None:
    if not isinstance(borrower_id, str) or not 1 <= len(borrower_id) <= MAX_BORROWER_ID:
        raise EvidenceError(f"borrower_id: {borrower_id!r} must be 1..{MAX_BORROWER_ID} chars")


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or len(kind) > MAX_KIND or not _KIND_RE.fullmatch(kind):
        raise EvidenceError(
            f"kind: {kind!r} must be dot-separated lowercase words, at most {MAX_KIND} chars"
        )


class Link(NamedTuple):
    """A record as it is stored: its fields as text (the row, column for column) and the hash
    over them. What the engine writes in bulk without building a ``Record``."""

    borrower_id: str
    seq: int
    at: str
    kind: str
    payload: str
    prev_hash: str
    hash: str


def link(
    head: HasHead | None,
    borrower_id: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> Link:
    """The stored form of the record that follows ``head`` (``None``: the chain's first)."""
    _check_borrower_id(borrower_id)
    _check_kind(kind)
    if not isinstance(payload, Mapping):
        raise EvidenceError("payload: must be a JSON object (a dict)")
    if head is None:
        seq, prev_hash = 1, GENESIS_HASH
    else:
        if head.borrower_id != borrower_id:
            raise EvidenceError(
                f"borrower_id: {borrower_id!r} cannot follow the head of {head.borrower_id!r}"
            )
        seq, prev_hash = head.seq + 1, head.hash
    at_text = format_at(at)
    payload_text = canonical_json(dict(payload))
    digest = sha256_hex(_new_body(borrower_id, seq, at_text, kind, payload_text, prev_hash))
    return Link(borrower_id, seq, at_text, kind, payload_text, prev_hash, digest)


def append(
    head: HasHead | None,
    borrower_id: str,
    kind: str,
    payload: Mapping[str, Any],
    at: datetime,
) -> Record:
    """The record that follows ``head`` (``None``: the chain's first record)."""
    return _record(link(head, borrower_id, kind, payload, at), at)


def _record(stored: Link, at: datetime) -> Record:
    # The record keeps a fresh copy decoded from the canonical text, so later changes to the
    # caller's dict cannot make the record disagree with its hash.
    record = Record(
        borrower_id=stored.borrower_id,
        seq=stored.seq,
        at=at.astimezone(UTC),  # what parse_at(at_text) gives: format_at keeps every microsecond
        kind=stored.kind,
        payload=json.loads(stored.payload),
        prev_hash=stored.prev_hash,
        hash=stored.hash,
    )
    object.__setattr__(record, "_payload_text", stored.payload)
    return record


def stored(
    borrower_id: str,
    seq: int,
    at: datetime,
    kind: str,
    payload_text: str,
    prev_hash: str,
    digest: str,
) -> Record:
    """A record as read back from storage, keeping its payload text: verification hashes that
    text. A text that is not JSON reads as an empty payload (verification then names it)."""
    try:
        payload = json.loads(payload_text)
    except (ValueError, TypeError, RecursionError):
        payload = {}
    record = Record(
        borrower_id,
        seq,
        at,
        kind,
        payload if isinstance(payload, dict) else {},
        prev_hash,
        digest,
    )
    object.__setattr__(record, "_payload_text", payload_text)
    return record


def append_all(heads: Mapping[str, HasHead], entries: Iterable[Entry]) -> list[Record]:
    """Records for ``entries`` in order, each chained after the previous one of its borrower.

    ``heads`` holds the current head of every borrower that already has a chain.
    """
    batch = list(entries)
    return [_record(stored, e.at) for stored, e in zip(links(heads, batch), batch, strict=True)]


def links(heads: Mapping[str, HasHead], entries: Iterable[Entry]) -> list[Link]:
    """``append_all`` in stored form: the same chain, the same hashes."""
    current: dict[str, HasHead] = dict(heads)
    out: list[Link] = []
    for entry in entries:
        stored = link(
            current.get(entry.borrower_id), entry.borrower_id, entry.kind, entry.payload, entry.at
        )
        current[entry.borrower_id] = stored
        out.append(stored)
    return out


# ---------------------------------------------------------------------------------------------
# Verification


class Code(StrEnum):
    """What is wrong with a record or a chain."""

    MALFORMED = "malformed"  # a field cannot be read (bad time, float in payload, ...)
    WRONG_BORROWER = "wrong_borrower"  # a record of another chain sits in this one
    SEQUENCE = "sequence"  # seq is not the next number: a record deleted, inserted or moved
    NOT_CANONICAL = "not_canonical"  # stored text not in the one canonical form: edited
    HASH = "hash"  # the content does not match its hash: altered after it was written
    LINK = "link"  # prev_hash is not the previous record's hash
    HEAD_MISMATCH = "head_mismatch"  # the record at the root's head seq is not the root's head
    TRUNCATED = "truncated"  # fewer records than the root committed to
    MISSING_CHAIN = "missing_chain"  # the root names a chain that has no records at all
    ROOT_MISMATCH = "root_mismatch"  # a stored root does not match the heads it was made from
    HEAD_ROW = "head_row"  # evidence_heads does not name the chain's last record


@dataclass(frozen=True)
class Break:
    """Where a chain stops being trustworthy: its first bad record (or a bad root:
    ``borrower_id`` None). A finding of verification, not bad input (that is core.problem's)."""

    borrower_id: str | None
    seq: int | None
    code: Code
    detail: str

    def __str__(self) -> str:
        where = "root" if self.borrower_id is None else f"borrower {self.borrower_id}"
        if self.seq is not None:
            where += f" seq {self.seq}"
        return f"{where}: {self.code.value}: {self.detail}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "borrower_id": self.borrower_id,
            "seq": self.seq,
            "code": self.code.value,
            "detail": self.detail,
        }


def _check_record(record: Record, borrower_id: str, n: int, prev_hash: str) -> Break | None:
    def problem(code: Code, detail: str, seq: int = n) -> Break:
        return Break(borrower_id, seq, code, detail)

    if record.borrower_id != borrower_id:
        return problem(Code.WRONG_BORROWER, f"record belongs to borrower {record.borrower_id!r}")
    if record.seq != n:
        if record.seq > n:
            gone = f"record {n}" if record.seq == n + 1 else f"records {n}..{record.seq - 1}"
            return problem(Code.SEQUENCE, f"{gone} missing: the next record found is {record.seq}")
        return problem(
            Code.SEQUENCE, f"expected seq {n}, found {record.seq}: a record was inserted or moved"
        )
    try:
        computed = record.computed_hash()
    except NotCanonical as exc:
        return problem(
            Code.NOT_CANONICAL,
            f"stored payload is not canonical JSON: {exc}: edited after it was written",
        )
    except EvidenceError as exc:
        return problem(Code.MALFORMED, str(exc))
    if computed != record.hash:
        return problem(Code.HASH, "content does not match its hash: altered after it was written")
    if record.prev_hash != prev_hash:
        if n == 1:
            return problem(Code.LINK, "first record does not start from the genesis hash")
        return problem(
            Code.LINK,
            f"prev_hash is not the hash of record {n - 1}: record {n - 1} was altered, "
            f"or records were removed or inserted before {n}",
        )
    return None


def verify_chain(
    records: Iterable[Record],
    *,
    borrower_id: str | None = None,
    expected: HasHead | None = None,
) -> Break | None:
    """The first problem in one chain's records (in stored order), or None if it is intact.

    Streams: holds one record at a time. ``expected`` is the head a root committed to; with it,
    removing records from the end, or rewriting the whole chain consistently, is detected too.
    """
    if borrower_id is None and expected is not None:
        borrower_id = expected.borrower_id
    prev_hash = GENESIS_HASH
    n = 0
    for record in records:
        n += 1
        if borrower_id is None:
            borrower_id = record.borrower_id
        problem = _check_record(record, borrower_id, n, prev_hash)
        if problem is not None:
            return problem
        if expected is not None and n == expected.seq and record.hash != expected.hash:
            return Break(
                borrower_id,
                n,
                Code.HEAD_MISMATCH,
                f"record {n} is not the head the root committed to: the chain was rewritten",
            )
        prev_hash = record.hash
    if expected is not None and n < expected.seq:
        assert borrower_id is not None
        if n == 0:
            return Break(
                borrower_id,
                1,
                Code.MISSING_CHAIN,
                f"no records, but the root committed to {expected.seq}",
            )
        return Break(
            borrower_id,
            n + 1,
            Code.TRUNCATED,
            f"chain ends at seq {n}, but the root committed to {expected.seq} records: "
            f"records {n + 1}..{expected.seq} were removed",
        )
    return None


def verify(records: Iterable[Record], heads: Mapping[str, HasHead] | None = None) -> list[Break]:
    """The first problem of every broken chain among ``records`` (empty: all intact).

    Records are grouped by borrower (keeping their order within each chain). ``heads`` are the
    heads a root committed to; chains the root names but ``records`` lack are reported missing.
    """
    chains: dict[str, list[Record]] = {}
    for record in records:
        chains.setdefault(record.borrower_id, []).append(record)
    heads = heads or {}
    problems = []
    for borrower_id, chain_records in chains.items():
        problem = verify_chain(
            chain_records, borrower_id=borrower_id, expected=heads.get(borrower_id)
        )
        if problem is not None:
            problems.append(problem)
    for borrower_id in sorted(set(heads) - set(chains)):
        problem = verify_chain([], expected=heads[borrower_id])
        if problem is not None:
            problems.append(problem)
    return problems


# ---------------------------------------------------------------------------------------------
# The daily root: RFC 6962 Merkle Tree Hash over the chains' heads


def leaf_hash(head: HasHead) -> bytes:
    return hashlib.sha256(b"\x00" + _leaf_json(head)).digest()


def _leaf_json(head: HasHead) -> bytes:
    """canonical_json of the head's (borrower_id, hash, seq), UTF-8. A close seals every
    chain's head, and the general walk cost a third of the report phase: for the usual head (a
    str id, SHA-256 hex, a count) the text is written out, the keys being fixed and sorted."""
    bid, digest, seq = head.borrower_id, head.hash, head.seq
    if (
        type(bid) is str
        and type(digest) is str
        and type(seq) is int
        and 0 <= seq <= MAX_SAFE_INT
        and _HEX64_RE.fullmatch(digest)
    ):
        text = (
            f'{{"borrower_id":{json.dumps(bid, ensure_ascii=False)},"hash":"{digest}","seq":{seq}}}'
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the general form says so
    return canonical_json({"borrower_id": bid, "hash": digest, "seq": seq}).encode("utf-8")


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _sorted_leaves(heads: Iterable[HasHead]) -> Iterator[bytes]:
    last: str | None = None
    for head in heads:
        if last is not None and head.borrower_id <= last:
            raise EvidenceError(
                f"heads must be sorted by borrower_id without repeats: "
                f"{head.borrower_id!r} after {last!r}"
            )
        last = head.borrower_id
        yield leaf_hash(head)


def root(heads: Iterable[HasHead]) -> str:
    """The Merkle root (hex) over ``heads``, which must be sorted by borrower_id (code point).

    Streams in O(log n) memory: a stack of complete subtrees, merged as equal sizes meet.
    """
    stack: list[tuple[int, bytes]] = []  # (number of leaves, subtree hash), sizes decreasing
    for leaf in _sorted_leaves(heads):
        size, digest = 1, leaf
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, digest = left_size + size, node_hash(left, digest)
        stack.append((size, digest))
    if not stack:
        return hashlib.sha256(b"").hexdigest()
    # The leftover subtrees have strictly decreasing power-of-two sizes; folding them from the
    # right gives RFC 6962's tree (the odd node carried up, never duplicated).
    _, digest = stack.pop()
    while stack:
        _, left = stack.pop()
        digest = node_hash(left, digest)
    return digest.hex()


def _mth(leaves: Sequence[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_path(index, leaves[:k]), _mth(leaves[k:])]
    return [*_path(index - k, leaves[k:]), _mth(leaves[:k])]


@dataclass(frozen=True)
class Proof:
    """That ``head`` is leaf ``index`` of the ``size``-leaf tree with root ``root``."""

    head: Head
    index: int
    size: int
    path: tuple[str, ...]
    root: str


def prove(heads: Sequence[HasHead], borrower_id: str) -> Proof:
    """The inclusion proof of ``borrower_id``'s head in ``root(heads)`` (heads sorted)."""
    leaves = list(_sorted_leaves(heads))
    for index, head in enumerate(heads):
        if head.borrower_id == borrower_id:
            path = tuple(p.hex() for p in _path(index, leaves))
            return Proof(
                Head(head.borrower_id, head.seq, head.hash),
                index,
                len(leaves),
                path,
                _mth(leaves).hex(),
            )
    raise EvidenceError(f"borrower_id: {borrower_id!r} has no head in this root")


def check_proof(proof: Proof) -> bool:
    """RFC 9162 section 2.1.3.2: does ``proof.path`` lead from the head's leaf to the root?"""
    if not 0 <= proof.index < proof.size:
        return False
    fn, sn = proof.index, proof.size - 1
    digest = leaf_hash(proof.head)
    for sibling_hex in proof.path:
        if sn == 0 or not _HEX64_RE.fullmatch(sibling_hex):
            return False
        sibling = bytes.fromhex(sibling_hex)
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = node_hash(digest, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and digest.hex() == proof.root
