"""A borrower's evidence pack: everything recorded about them, in one signed JSON file that
anyone can check without the lender's database.

The pack holds the borrower's hash chain (the export lines, with the root anchor when there is
one), the contacts and blocked attempts read from it, their loans' amounts, their installment
plans, their complaints and the records they added themselves (with the words of their
notes). Checking it (:func:`check_pack`) needs only the file and, to be sure who signed it,
the lender's published key:

1. the chain verifies on its own (``verify_export``: every hash, every link, the anchor);
2. every contact listed is the chain record it names (same seq, kind and time);
3. every complaint and note shows the words whose SHA-256 its chain record holds, and every
   file the hash its record holds;
4. the Ed25519 signature over the canonical JSON of everything else verifies with the key
   in the pack, and that key is the published one when it is given.

So an edited amount breaks the signature, an edited record breaks the chain, and words swapped
in a note break its hash: a tampered pack fails, naming where.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from arrears.core.evidence import verify_export
from arrears.core.evidence.chain import canonical_json
from arrears.core.problem import Problem

FORMAT = "arrears-evidence-pack/1"
CONTACT_KINDS = (
    "contact.planned",
    "contact.sent",
    "contact.delivered",
    "contact.failed",
    "contact.expired",
    "contact.cancelled",
    "contact.attempt",
    "contact.outcome",
    "contact.blocked",
    "visit",
)
SIGNED = "signature"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_text(key: Ed25519PublicKey) -> str:
    """The 32 raw bytes in base64url, as the lender publishes it."""
    return b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def contact_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The contacts, blocked attempts and visits among the chain's records, in order."""
    rows = []
    for r in records:
        if r["kind"] not in CONTACT_KINDS:
            continue
        p = r["payload"] if isinstance(r["payload"], Mapping) else {}
        rows.append(
            {
                "seq": r["seq"],
                "at": r["at"],
                "kind": r["kind"],
                "channel": p.get("channel"),
                "party": p.get("party"),
                "loan_id": p.get("loan_id"),
                # a blocked contact lists the rules against it; a planned one counts those it
                # was checked by (an integer), which is not what a borrower needs here
                "rules": list(p.get("rules", [])) if r["kind"] == "contact.blocked" else [],
            }
        )
    return rows


def sign(body: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``body`` with its signature: Ed25519 over the canonical JSON of ``body``."""
    assert SIGNED not in body
    message = canonical_json(dict(body)).encode("utf-8")
    return {
        **body,
        SIGNED: {
            "algorithm": "Ed25519",
            "public_key": public_key_text(key.public_key()),
            "value": b64(key.sign(message)),
        },
    }


@dataclass(frozen=True, slots=True)
class PackCheck:
    borrower_id: str
    records: int
    anchored: bool  # the chain is tied to a root the lender published
    signed_by: str  # the public key that signed it
    problems: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_signature(
    pack: Mapping[str, Any], published: Ed25519PublicKey | None
) -> tuple[str, list[Problem]]:
    sig = pack.get(SIGNED)
    if not isinstance(sig, Mapping) or sig.get("algorithm") != "Ed25519":
        return "", [Problem("pack", "signature", "missing, or not an Ed25519 signature")]
    body = {k: v for k, v in pack.items() if k != SIGNED}
    try:
        key = Ed25519PublicKey.from_public_bytes(unb64(str(sig.get("public_key", ""))))
        key.verify(unb64(str(sig.get("value", ""))), canonical_json(body).encode("utf-8"))
    except (ValueError, binascii.Error):
        return "", [Problem("pack", "signature", "the key or the signature is not Ed25519")]
    except InvalidSignature:
        return str(sig["public_key"]), [
            Problem("pack", "signature", "does not match the pack: something was changed")
        ]
    if published is not None and public_key_text(published) != sig["public_key"]:
        return str(sig["public_key"]), [
            Problem(
                "pack", "signature", "was made with a key other than the lender's published key"
            )
        ]
    return str(sig["public_key"]), []


def _by_seq(records: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(r["seq"]): r for r in records}


def _check_contents(pack: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    by_seq = _by_seq(records)
    if list(pack.get("contacts", [])) != contact_rows(records):
        problems.append(Problem("pack", "contacts", "differ from the contacts in the chain"))
    for own in pack.get("own_records", []):
        where = f"own record {own.get('key')}"
        rec = by_seq.get(int(own.get("seq", 0)))
        if rec is None or rec["kind"] not in ("borrower.note", "borrower.file"):
            problems.append(Problem(where, "seq", "names no record of the borrower's in the chain"))
            continue
        payload = rec["payload"]
        if rec["kind"] == "borrower.note":
            if _sha(str(own.get("text", ""))) != payload.get("text_sha256"):
                problems.append(Problem(where, "text", "is not the text recorded in the chain"))
        elif own.get("sha256") != payload.get("sha256"):
            problems.append(Problem(where, "sha256", "is not the file recorded in the chain"))
    complaints = {
        r["payload"].get("complaint_id"): r
        for r in records
        if r["kind"] == "borrower.request"
        and isinstance(r["payload"], Mapping)
        and r["payload"].get("kind") == "complaint"
    }
    requested = {
        r["payload"].get("plan_id")
        for r in records
        if r["kind"] == "borrower.request"
        and isinstance(r["payload"], Mapping)
        and r["payload"].get("kind") == "installment_plan"
    }
    for plan in pack.get("plans", []):
        if plan.get("plan_id") not in requested:
            problems.append(
                Problem(f"plan {plan.get('plan_id')}", "plan_id", "is not in the chain")
            )
    for c in pack.get("complaints", []):
        where = f"complaint {c.get('complaint_id')}"
        rec = complaints.get(c.get("complaint_id"))
        if rec is None:
            problems.append(Problem(where, "complaint_id", "is not in the chain"))
        elif _sha(str(c.get("text", ""))) != rec["payload"].get("text_sha256"):
            problems.append(Problem(where, "text", "is not the text recorded in the chain"))
    return problems


def check_pack(
    text: str, published: Ed25519PublicKey | None = None, expected_root: str | None = None
) -> PackCheck:
    """Check an evidence pack's text; every problem found is named, none raised.
    ``published``: the lender's published key; ``expected_root``: the root value the lender
    published, which the chain's anchor must lead to."""
    try:
        pack = json.loads(text)
    except ValueError as exc:
        return PackCheck("", 0, False, "", (Problem("pack", "json", f"is not JSON: {exc}"),))
    if not isinstance(pack, dict) or pack.get("format") != FORMAT:
        return PackCheck("", 0, False, "", (Problem("pack", "format", f"is not {FORMAT}"),))
    borrower_id = str(pack.get("borrower_id", ""))
    problems: list[Problem] = []
    lines = [str(line) for line in pack.get("chain", [])]
    anchor = pack.get("anchor")
    try:
        verify_export.verify_lines(lines + ([str(anchor)] if anchor else []), expected_root)
        records = [json.loads(line) for line in lines]
    except (verify_export.Bad, ValueError) as exc:
        problems.append(Problem("pack", "chain", str(exc)))
        records = []
    if records and any(r["borrower_id"] != borrower_id for r in records):
        problems.append(Problem("pack", "chain", f"is not borrower {borrower_id}'s chain"))
    if records:
        problems += _check_contents(pack, records)
    signed_by, found = _check_signature(pack, published)
    problems += found
    return PackCheck(borrower_id, len(lines), bool(anchor), signed_by, tuple(problems))
