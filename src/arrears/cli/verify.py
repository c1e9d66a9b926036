"""``arrears verify``, ``verify-credential``, ``verify-channel``: a borrower checks a visitor's
one-time code, a collector's signed credential, or a phone number or account they were given.

A check that fails is an answer, not an error: it prints ``verified: false`` (or ``official:
false``) with what to do, exits 0 and is recorded for the lender. Errors (an unknown borrower,
text that cannot be a code) print one line, exit 1 or 2 and record nothing.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arrears.cli.common import (
    EXIT_FAILED,
    DbOption,
    JsonOption,
    SettingsOption,
    fail,
    lender_settings,
    parse_instant,
    print_json,
    transaction,
    unwrap,
)
from arrears.core.people import credentials as cred
from arrears.core.people.advice import Language, language_of
from arrears.services.collection.verification import verify_code
from arrears.services.collection.verification_channels import (
    check_channel,
    official_from_settings,
)
from arrears.services.collection.verification_credentials import (
    credential_text,
    verify_credential,
)
from arrears.services.verification_keys import code_secret, load_public_key, signing_key

T = TypeVar("T")

AtOption = Annotated[
    str | None, typer.Option("--at", help="ISO 8601 time with offset (default now)")
]
LanguageOption = Annotated[
    str, typer.Option("--language", help="zh-CN or en, when no borrower is named")
]


def notice(message: str) -> None:
    typer.echo(message, err=True)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _print_lines(data: dict[str, Any], headline: str) -> None:
    typer.echo(headline)
    for line in data.get("advice", []):
        typer.echo(f"  - {line}")


def verify_cmd(
    code: Annotated[str, typer.Argument(help="The code the visitor gave you, e.g. 7KQ2M-XD94R")],
    borrower: Annotated[str, typer.Option(help="Your borrower id")],
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check a visiting collector's one-time code."""
    when = parse_instant(at, "at")
    secret = unwrap(code_secret(os.environ, notice))
    with transaction(db) as conn:
        verdict = unwrap(verify_code(conn, code, borrower, when, secret))
    data = verdict.as_dict()
    if json_out:
        print_json(data)
    elif verdict.verified:
        c = data["collector"]
        where = f", {c['agency']}" if c["agency"] else ""
        role = "assigned to you" if verdict.assigned else "NOT assigned to your case"
        typer.echo(f"verified: {c['name']} ({c['employee_no']}{where}), {role}")
    else:
        _print_lines(data, "not verified")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot be read: {exc}", EXIT_FAILED)


def _public_key(path: Path | None) -> Ed25519PublicKey:
    if path is None:
        return unwrap(signing_key(os.environ, notice)).public_key()
    return unwrap(load_public_key(_read(path), str(path)))


def verify_credential_cmd(
    credential: Annotated[str, typer.Argument(help="The credential text, or a file holding it")],
    public_key: Annotated[
        Path | None, typer.Option(help="The lender's published public key (PEM)")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not ask the database whether still active")
    ] = False,
    language: LanguageOption = "zh-CN",
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check a collector's signed credential (offline: with the public key alone)."""
    when = parse_instant(at, "at")
    content = credential if credential.startswith(f"{cred.PREFIX}.") else _read(Path(credential))
    text = unwrap(credential_text(content))
    key = _public_key(public_key)
    lang: Language = language_of(language)
    if offline:
        verdict = unwrap(verify_credential(text, key, when, lang))
    else:
        with transaction(db) as conn:
            verdict = unwrap(verify_credential(text, key, when, lang, conn))
    data = verdict.as_dict()
    if json_out:
        print_json(data)
    elif verdict.verified:
        c = data["collector"]
        typer.echo(f"verified: {c['name']} ({c['employee_no']}), valid until {data['valid_until']}")
    else:
        _print_lines(data, f"not verified: {verdict.reason}")


def verify_channel_cmd(
    phone: Annotated[str | None, typer.Option(help="A number that called or texted you")] = None,
    account: Annotated[str | None, typer.Option(help="An account you were asked to pay")] = None,
    borrower: Annotated[str | None, typer.Option(help="Your borrower id")] = None,
    language: LanguageOption = "zh-CN",
    settings: SettingsOption = None,
    at: AtOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Is this phone number or repayment account one of the lender's official ones (the
    setting lender.official_channels)?"""
    when = parse_instant(at, "at")
    official = unwrap(official_from_settings(lender_settings(settings)))
    with transaction(db) as conn:
        verdict = unwrap(
            check_channel(
                conn,
                official,
                when,
                phone=phone,
                account=account,
                borrower_id=borrower,
                language=language_of(language),
            )
        )
    data = verdict.as_dict()
    if json_out:
        print_json(data)
    elif verdict.official:
        typer.echo(f"official: {verdict.value} is one of the lender's own")
    else:
        _print_lines(data, f"NOT official: {verdict.value}")
