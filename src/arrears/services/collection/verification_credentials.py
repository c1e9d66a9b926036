"""Signed collector credentials: issued from the registry, checked offline or against it.

``issue_credential`` signs what the registry says about an active collector. ``verify_credential``
needs only the lender's public key; given a connection as well it also refuses a collector who
is no longer on record or has since been deactivated (a credential cannot be withdrawn once
handed out, so an offline check trusts it until it expires: keep credentials short-lived).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select

from arrears.core.people import credentials as cred
from arrears.core.people.advice import Language, not_verified
from arrears.core.problem import Problem, Result, fail, not_found, ok
from arrears.services.collection.verification import collector_active, record_incident
from arrears.store.case_tables import collectors

MAX_VALID_DAYS = 366


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    text: str  # ARC1.<payload>.<signature>: what the phone shows, or a QR code of it
    credential: cred.Credential


@dataclass(frozen=True, slots=True)
class CredentialVerdict:
    verified: bool
    credential: cred.Credential | None  # what it claims (trusted only when verified)
    status_checked: bool  # the database was asked whether the collector is still active
    reason: str = ""
    advice: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        claimed = self.credential
        if not self.verified:
            return {"verified": False, "reason": self.reason, "advice": list(self.advice)}
        assert claimed is not None, "a verified credential names its collector"
        return {
            "verified": True,
            "collector": {
                "id": claimed.collector_id,
                "name": claimed.name,
                "employee_no": claimed.employee_no,
                "agency": claimed.agency,
            },
            "valid_from": claimed.valid_from.isoformat(),
            "valid_until": claimed.valid_until.isoformat(),
            "key_id": claimed.key_id,
            "status_checked": self.status_checked,
        }


def issue_credential(
    conn: Connection,
    collector_id: str,
    now: datetime,
    key: Ed25519PrivateKey,
    valid_days: int = 30,
) -> Result[IssuedCredential]:
    record = f"credential for collector {collector_id}"
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        return fail(Problem(record, "valid_days", f"must be 1-{MAX_VALID_DAYS}"))
    active = collector_active(conn, collector_id)
    if active is None:
        return fail(not_found(record, "no such collector", "collector_id"))
    if not active:
        return fail(Problem(record, "collector_id", "is deactivated", "conflict"))
    row = conn.execute(select(collectors).where(collectors.c.collector_id == collector_id)).one()
    start = now.replace(microsecond=0)
    credential = cred.Credential(
        collector_id=collector_id,
        name=row.name,
        employee_no=row.credential_no,
        agency=row.agency,
        valid_from=start,
        valid_until=start + timedelta(days=valid_days),
        key_id=cred.key_id(key.public_key()),
    )
    return ok(IssuedCredential(cred.sign(credential, key), credential))


def verify_credential(
    text: str,
    public_key: Ed25519PublicKey,
    now: datetime,
    language: Language,
    conn: Connection | None = None,
) -> Result[CredentialVerdict]:
    checked, problems = cred.check(text, public_key, now)
    if checked is None:
        return fail(*problems)
    refused = checked.refused
    online = conn is not None
    if not refused and conn is not None:
        assert checked.credential is not None
        active = collector_active(conn, checked.credential.collector_id)
        if active is None:
            refused = "the collector is not on the lender's record"
        elif not active:
            refused = "the collector has been deactivated"
    if not refused:
        return ok(CredentialVerdict(True, checked.credential, online))
    advice = not_verified(language, recorded=online)
    if conn is not None:
        claimed = None if checked.credential is None else checked.credential.collector_id
        detail = {"reason": refused}
        record_incident(conn, now, "credential", "credential_refused", None, detail, claimed)
    return ok(CredentialVerdict(False, checked.credential, online, refused, advice))


def credential_text(content: str) -> Result[str]:
    """The credential in what was handed in: its text, or a file ``arrears collectors
    credential --out`` wrote (JSON with the text and, for reading, the payload; a payload that
    says something other than the signed text is refused, not silently ignored)."""
    stripped = content.strip()
    if not stripped.startswith("{"):
        return ok(stripped)
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return fail(Problem("credential file", "", "is neither a credential nor its JSON"))
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        return fail(Problem("credential file", "text", "is missing"))
    payload, problems = cred.payload_of(text)
    if payload is None:
        return fail(*problems)
    if "payload" in data and data["payload"] != payload:
        return fail(Problem("credential file", "payload", "differs from the signed text: altered"))
    return ok(text)
