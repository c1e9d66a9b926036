"""Verify an exported evidence chain without the server: standard library only, pure.

:func:`verify_lines` takes the export's lines and returns the verdict (or raises
:class:`Bad`); reading the file and printing are ``arrears/cli/check_export.py``'s::

    python -m arrears.cli.check_export chain.jsonl [--root HEX]
    python check_export.py chain.jsonl          # the two files alone, copied into one folder

This file imports nothing from ``arrears`` on purpose: a borrower can copy it (with
``check_export.py``) next to their export and run it with any Python 3.11+. It re-implements
the rules written down in ``arrears/core/evidence/chain.py`` (and ``docs/evidence.md``):

* each line is a JSON object; record lines have ``at, borrower_id, hash, kind, payload,
  prev_hash, seq``; the optional last line ``{"anchor": {...}}`` ties the chain to a root;
* record *n* has seq *n*, one borrower throughout, ``prev_hash`` = hash of record *n - 1*
  (64 zeros for the first), and ``hash`` = SHA-256 of the canonical JSON of the other six
  fields (sorted keys, no whitespace, UTF-8, no floats);
* each record line is itself canonical JSON: exactly what ``json.dumps(record,
  sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, so a line that reads
  the same but is written otherwise (whitespace, key order, a key twice, an escape where the
  character is written, ``1.0``, ``1e2``, ``01``, ``-0``) is refused: the lender stores and
  exports one text per record, and a second spelling is an edit;
* the anchor's head must be the chain's record at that seq (so nothing was cut off the end),
  and its RFC 6962 inclusion proof must lead to the anchor's root. Compare that root with the
  value the lender published (``--root``) to know the lender cannot have rewritten the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

GENESIS_HASH = "0" * 64
MAX_SAFE_INT = 2**53 - 1
FIELDS = {"at", "borrower_id", "hash", "kind", "payload", "prev_hash", "seq"}
AT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
HEX64_RE = re.compile(r"[0-9a-f]{64}")


class Bad(Exception):
    """The file is well-formed JSON lines, but the evidence in it is not intact."""


def _no_float(text: str) -> Any:
    raise ValueError(f"number {text} is not an integer; evidence never holds floats")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _check_ints(value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ValueError(f"integer {value} is outside ±(2**53 - 1)")
    elif isinstance(value, list):
        for item in value:
            _check_ints(item)
    elif isinstance(value, dict):
        for item in value.values():
            _check_ints(item)


def canonical(value: Any) -> bytes:
    _check_ints(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _no_minus_zero(text: str) -> int:
    if text == "-0":
        raise ValueError("number -0: the canonical form of zero is 0")
    return int(text)


def not_canonical(line: str, value: Any) -> str | None:
    """Why ``line`` is not the canonical text of ``value`` (what it reads as), or None."""
    try:
        want = canonical(value).decode("utf-8")
    except ValueError as exc:
        return str(exc)
    if want == line:
        return None
    at = next(
        (i for i, (a, b) in enumerate(zip(line, want, strict=False)) if a != b),
        min(len(line), len(want)),
    )
    if at < len(line) and line[at] in " \t\r\n":
        what = "whitespace outside a string"
    elif "\\" in line[max(0, at - 5) : at + 1]:  # within an escape: one is at most six long
        what = "a character escaped otherwise than canonical JSON writes it"
    else:
        what = "text differs from its canonical form (keys out of order?)"
    return f"{what} at character {at}: {line[at : at + 12]!r}, canonical {want[at : at + 12]!r}"


def parse_line(line: str) -> dict[str, Any]:
    value = json.loads(
        line,
        parse_float=_no_float,
        parse_int=_no_minus_zero,
        parse_constant=_no_float,
        object_pairs_hook=_no_duplicates,
    )
    if not isinstance(value, dict):
        raise ValueError("a line is not a JSON object")
    return value


def record_hash(rec: dict[str, Any]) -> str:
    body = {k: rec[k] for k in ("at", "borrower_id", "kind", "payload", "prev_hash", "seq")}
    return sha256_hex(canonical(body))


def leaf_hash(borrower_id: str, seq: int, digest: str) -> bytes:
    data = canonical({"borrower_id": borrower_id, "hash": digest, "seq": seq})
    return hashlib.sha256(b"\x00" + data).digest()


def proof_root(leaf: bytes, index: int, size: int, path: list[str]) -> str | None:
    """RFC 9162 section 2.1.3.2: the root the audit path leads to (None if it cannot)."""
    if not 0 <= index < size:
        return None
    fn, sn, digest = index, size - 1, leaf
    for sibling_hex in path:
        if sn == 0 or not isinstance(sibling_hex, str) or not HEX64_RE.fullmatch(sibling_hex):
            return None
        sibling = bytes.fromhex(sibling_hex)
        if fn & 1 or fn == sn:
            digest = hashlib.sha256(b"\x01" + sibling + digest).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            digest = hashlib.sha256(b"\x01" + digest + sibling).digest()
        fn >>= 1
        sn >>= 1
    return digest.hex() if sn == 0 else None


def _where(borrower_id: Any, seq: Any) -> str:
    return f"borrower {borrower_id} seq {seq}"


def _named(line: str) -> str:
    """The record a line that the strict reader refused names, read leniently ("" if none)."""
    try:
        value = json.loads(line)
    except ValueError:
        return ""
    if not isinstance(value, dict) or "seq" not in value:
        return ""
    return f" ({_where(value.get('borrower_id'), value.get('seq'))})"


def check_record(rec: dict[str, Any], n: int, borrower_id: Any, prev_hash: str) -> None:
    """Raise Bad naming record ``n`` if it is not the intact n-th record of the chain."""
    where = _where(borrower_id, n)
    if set(rec) != FIELDS:
        raise Bad(f"{where}: fields are {sorted(rec)}, expected {sorted(FIELDS)}")
    if rec["borrower_id"] != borrower_id:
        raise Bad(f"{where}: record belongs to borrower {rec['borrower_id']!r}")
    seq = rec["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq != n:
        raise Bad(
            f"{where}: expected seq {n}, found {seq!r}: a record was deleted, inserted or moved"
        )
    if not isinstance(rec["at"], str) or not AT_RE.fullmatch(rec["at"]):
        raise Bad(f"{where}: at {rec['at']!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    if not isinstance(rec["payload"], dict) or not isinstance(rec["kind"], str):
        raise Bad(f"{where}: payload must be an object and kind a string")
    if record_hash(rec) != rec["hash"]:
        raise Bad(f"{where}: content does not match its hash: altered after it was written")
    if rec["prev_hash"] != prev_hash:
        if n == 1:
            raise Bad(f"{where}: first record does not start from the genesis hash")
        raise Bad(
            f"{where}: prev_hash is not the hash of record {n - 1}: record {n - 1} was "
            f"altered, or records were removed or inserted before {n}"
        )


def check_anchor(anchor: Any, hashes: list[str], borrower_id: Any) -> dict[str, Any]:
    """Raise Bad unless the anchor's head is in the chain and its proof reaches its root."""
    if not isinstance(anchor, dict) or not isinstance(anchor.get("head"), dict):
        raise Bad("anchor: not an object with a head")
    head = anchor["head"]
    seq, digest = head.get("seq"), head.get("hash")
    if head.get("borrower_id") != borrower_id or not isinstance(seq, int) or seq < 1:
        raise Bad(f"anchor: its head {head!r} is not of borrower {borrower_id!r}")
    if seq > len(hashes):
        raise Bad(
            f"{_where(borrower_id, len(hashes) + 1)}: chain ends at seq {len(hashes)}, "
            f"but root {anchor.get('label')!r} committed to {seq} records: "
            f"records {len(hashes) + 1}..{seq} were removed"
        )
    if hashes[seq - 1] != digest:
        raise Bad(
            f"{_where(borrower_id, seq)}: not the head root {anchor.get('label')!r} "
            "committed to: the chain was rewritten"
        )
    path = anchor.get("path")
    index, size = anchor.get("index"), anchor.get("size")
    if not isinstance(path, list) or not isinstance(index, int) or not isinstance(size, int):
        raise Bad("anchor: index, size and path are missing")
    reached = proof_root(leaf_hash(borrower_id, seq, digest), index, size, path)
    if reached is None or reached != anchor.get("root"):
        raise Bad(f"anchor: the inclusion proof does not lead to root {anchor.get('root')}")
    return anchor


def verify_lines(lines: list[str], expected_root: str | None = None) -> str:
    """A one-line summary if intact; raises Bad (tampered) or ValueError (unreadable)."""
    records: list[dict[str, Any]] = []
    anchor: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if anchor is not None:
            raise Bad(f"line {number}: records after the anchor line")
        try:
            value = parse_line(line)
        except ValueError as exc:
            raise Bad(f"line {number}{_named(line)}: {exc}") from None
        if set(value) == {"anchor"}:
            anchor = value["anchor"]
            continue
        why = not_canonical(line, value)
        if why is not None:
            where = _where(value.get("borrower_id"), value.get("seq"))
            raise Bad(f"line {number} ({where}): not in canonical form: {why}")
        records.append(value)
    if not records:
        raise Bad("the file holds no records")
    borrower_id = records[0].get("borrower_id")
    prev_hash, hashes = GENESIS_HASH, []
    for n, rec in enumerate(records, start=1):
        check_record(rec, n, borrower_id, prev_hash)
        prev_hash = rec["hash"]
        hashes.append(prev_hash)
    summary = f"intact: borrower {borrower_id}, {len(records)} records, head {prev_hash}"
    if anchor is not None:
        checked = check_anchor(anchor, hashes, borrower_id)
        summary += (
            f"; records 1..{checked['head']['seq']} are in root {checked['label']!r} "
            f"= {checked['root']}"
        )
        if expected_root is not None and expected_root.lower() != checked["root"]:
            raise Bad(f"anchor: root is {checked['root']}, not the published {expected_root}")
    elif expected_root is not None:
        raise Bad("the file has no anchor line to compare with the published root")
    else:
        summary += " (no anchor: records removed from the end cannot be detected)"
    return summary
