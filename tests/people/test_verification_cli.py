"""The verification commands end to end: register, issue a code, verify it; credentials
checked offline with the published key; official channels from a settings file; keys from the
environment or made once in the key directory; exit codes and nothing-changes-on-error."""

from __future__ import annotations

import base64
import json
import re
import stat
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from arrears.cli.main import app
from arrears.core.people.advice import not_official, not_verified
from arrears.store.evidence_tables import evidence_records
from arrears.store.people_tables import code_attempts, collector_codes, impostor_incidents
from factories import import_rows, loan_row

runner = CliRunner()
AT = "2026-03-02T10:00:00+08:00"
LATER = "2026-03-02T10:30:00+08:00"
EXPIRED = "2026-03-02T11:00:00+08:00"


@pytest.fixture(autouse=True)
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No keys in the environment: the development key files go to a fresh directory."""
    monkeypatch.delenv("ARREARS_SECRET_KEY", raising=False)
    monkeypatch.delenv("ARREARS_SIGNING_KEY", raising=False)
    monkeypatch.setenv("ARREARS_KEY_DIR", str(tmp_path / "keys"))
    return tmp_path / "keys"


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def ok_json(*args: str) -> Any:
    res = run(*args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (collector_codes, code_attempts, impostor_incidents, evidence_records)
        }


def _setup(engine: Engine, tmp_path: Path, db: str) -> str:
    import_rows(engine, tmp_path, [loan_row("L1"), loan_row("L2")])
    new = ok_json(
        "collectors",
        "add",
        "--name",
        "张一",
        "--employee-no",
        "EMP-0001",
        "--agency",
        "Agency A",
        "--db",
        db,
    )
    assert new == {"id": "C000001"}
    plain = run("collectors", "add", "--name", "张二", "--employee-no", "EMP-0002", "--db", db)
    assert plain.exit_code == 0 and plain.stdout.strip() == "C000002"
    return str(new["id"])


def test_code_issued_and_verified(db_url: str, engine: Engine, tmp_path: Path, keys: Path) -> None:
    cid = _setup(engine, tmp_path, db_url)
    res = run("collectors", "code", cid, "--loan", "L1", "--at", AT, "--db", db_url)
    assert res.exit_code == 0, res.output
    code = res.stdout.split()[-1]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code)
    # The development secret was made once, said so on stderr, and is the owner's only.
    secret_file = keys / "code-secret.key"
    assert str(secret_file) in res.stderr and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    again = run("collectors", "code", "C000002", "--loan", "L2", "--at", AT, "--db", db_url)
    assert again.exit_code == 0 and again.stderr == ""
    other_code = again.stdout.split()[-1]

    wrong = ok_json("verify", code, "--borrower", "B-L2", "--at", LATER, "--db", db_url)
    assert wrong == {"verified": False, "advice": list(not_verified("zh-CN"))}
    good = ok_json("verify", code, "--borrower", "B-L1", "--at", LATER, "--db", db_url)
    assert good == {
        "verified": True,
        "collector": {
            "id": "C000001",
            "name": "张一",
            "employee_no": "****0001",
            "agency": "Agency A",
            "last_trained_on": None,
            "status": "active",
        },
        "assigned": False,
        "valid_until": "2026-03-02T03:00:00+00:00",
    }
    reused = ok_json("verify", code, "--borrower", "B-L1", "--at", LATER, "--db", db_url)
    assert reused["verified"] is False
    late = ok_json("verify", other_code, "--borrower", "B-L2", "--at", EXPIRED, "--db", db_url)
    assert late["verified"] is False
    with engine.connect() as conn:
        reasons = conn.execute(select(impostor_incidents.c.reason)).scalars().all()
    assert reasons == ["another_borrowers_code", "code_used", "code_expired"]


def test_a_deactivated_collectors_code_stops_verifying(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cid = _setup(engine, tmp_path, db_url)
    code = run("collectors", "code", cid, "--loan", "L1", "--at", AT, "--db", db_url)
    assert ok_json("collectors", "deactivate", cid, "--at", AT, "--db", db_url) == {
        "id": cid,
        "deactivated": True,
    }
    verdict = ok_json(
        "verify", code.stdout.split()[-1], "--borrower", "B-L1", "--at", LATER, "--db", db_url
    )
    assert verdict["verified"] is False
    listed = ok_json("collector", "list", "--db", db_url)  # the old name still works
    assert [(c["collector_id"], c["status"], c["registered"]) for c in listed] == [
        ("C000001", "deactivated", False),
        ("C000002", "active", True),
    ]
    res = run("collectors", "code", cid, "--loan", "L1", "--db", db_url)
    assert res.exit_code == 2 and "is deactivated" in res.stderr


def test_bad_input_exits_with_one_line_and_changes_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    cid = _setup(engine, tmp_path, db_url)
    run("collectors", "code", cid, "--loan", "L1", "--at", AT, "--db", db_url)
    before = _counts(engine)
    for args, exit_code, message in (
        (("collectors", "code", "C999999", "--loan", "L1"), 1, "no such collector"),
        (("collectors", "code", cid, "--loan", "NOPE"), 1, "no such loan NOPE"),
        (("collectors", "code", cid, "--loan", "L1", "--valid-minutes", "0"), 2, "valid_minutes"),
        (("verify", "ABC", "--borrower", "B-L1"), 2, "must be 10 letters and digits"),
        (("verify", "00000-00000", "--borrower", "NOBODY"), 1, "no such borrower"),
        (("collectors", "deactivate", "C999999"), 1, "no such collector"),
        (("collectors", "add", "--name", "X", "--employee-no", "EMP-0001"), 2, "already belongs"),
    ):
        res = run(*args, "--db", db_url)
        assert res.exit_code == exit_code, (args, res.output)
        assert res.stderr.startswith("error: ") and message in res.stderr
        assert res.stderr.count("\n") == 1
    assert _counts(engine) == before


def test_credentials_offline_with_the_published_key(
    db_url: str, engine: Engine, tmp_path: Path, keys: Path
) -> None:
    cid = _setup(engine, tmp_path, db_url)
    out = tmp_path / "credential.json"
    res = run("collectors", "credential", cid, "--out", str(out), "--at", AT, "--db", db_url)
    assert res.exit_code == 0 and "credential-signing-key.pem" in res.stderr
    text = res.stdout.strip().split()[-1]
    assert json.loads(out.read_text())["text"] == text
    pem = tmp_path / "lender.pem"
    pem.write_text(run("collectors", "public-key").stdout)
    offline = ("--public-key", str(pem), "--offline", "--at", LATER)
    by_file = ok_json("verify-credential", str(out), *offline)
    by_text = ok_json("verify-credential", text, *offline)
    assert by_file == by_text and by_file["verified"] is True
    assert by_file["collector"] == {
        "id": cid,
        "name": "张一",
        "employee_no": "EMP-0001",
        "agency": "Agency A",
    }
    assert by_file["status_checked"] is False

    # The file's readable payload altered: refused, not silently ignored.
    doc = json.loads(out.read_text())
    doc["payload"]["name"] = "李四"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(doc, ensure_ascii=False))
    res = run("verify-credential", str(altered), *offline)
    assert res.exit_code == 2 and "differs from the signed text" in res.stderr

    # Another lender's key cannot vouch for it; a key that is not one is bad input.
    other = tmp_path / "other.pem"
    other_key = Ed25519PrivateKey.generate()
    other.write_bytes(
        other_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    wrong_key = ok_json("verify-credential", text, "--public-key", str(other), "--offline")
    assert wrong_key["verified"] is False and "signed by another key" in wrong_key["reason"]
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    assert run("verify-credential", text, "--public-key", str(garbage), "--offline").exit_code == 2

    expired = ok_json(
        "verify-credential",
        text,
        *offline[:3],
        "--at",
        "2026-04-02T10:00:00+08:00",
        "--language",
        "en",
    )
    assert expired["verified"] is False and expired["reason"].startswith("expired at")
    assert expired["advice"] == list(not_verified("en", recorded=False))

    # Online, a deactivated collector's credential is refused.
    run("collectors", "deactivate", cid, "--db", db_url)
    online = ok_json("verify-credential", text, "--at", LATER, "--db", db_url)
    assert online == {
        "verified": False,
        "reason": "the collector has been deactivated",
        "advice": list(not_verified("zh-CN")),
    }


def test_signing_key_from_the_environment(
    db_url: str, engine: Engine, tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _setup(engine, tmp_path, db_url)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    monkeypatch.setenv("ARREARS_SIGNING_KEY", base64.urlsafe_b64encode(raw).decode())
    res = run("collectors", "credential", cid, "--at", AT, "--db", db_url)
    assert res.exit_code == 0 and res.stderr == ""
    assert not (keys / "credential-signing-key.pem").exists()
    published = ok_json("collectors", "public-key")
    assert published["pem"].startswith("-----BEGIN PUBLIC KEY-----")
    monkeypatch.setenv("ARREARS_SIGNING_KEY", "too short")
    assert run("collectors", "public-key").exit_code == 2
    monkeypatch.setenv("ARREARS_SECRET_KEY", "short")
    res = run("collectors", "code", cid, "--loan", "L1", "--db", db_url)
    assert res.exit_code == 2 and "ARREARS_SECRET_KEY" in res.stderr


def _settings(tmp_path: Path, phones: str, accounts: str) -> Path:
    """The bundled lender settings with these official channels."""
    text = (resources.files("arrears") / "data" / "lender.yaml").read_text(encoding="utf-8")
    listed = "    phones: [400-000-0000]\n    accounts: []\n"
    assert listed in text
    path = tmp_path / f"lender-{len(list(tmp_path.glob('lender-*')))}.yaml"
    path.write_text(
        text.replace(listed, f"    phones: {phones}\n    accounts: {accounts}\n"), "utf-8"
    )
    return path


def test_verify_channel_from_the_settings_file(db_url: str, engine: Engine, tmp_path: Path) -> None:
    _setup(engine, tmp_path, db_url)
    settings = _settings(tmp_path, "['95188', '+86 400 820 8888']", "['6222 0212 3456 7890']")
    common = ("--settings", str(settings), "--db", db_url)
    assert ok_json("verify-channel", "--phone", "400-820-8888", *common) == {
        "official": True,
        "phone": "4008208888",
    }
    assert ok_json("verify-channel", "--account", "6222021234567890", *common)["official"]
    before = _counts(engine)
    scam = ok_json("verify-channel", "--phone", "+86 171 0000 1234", "--borrower", "B-L1", *common)
    assert scam == {
        "official": False,
        "phone": "17100001234",
        "advice": list(not_official("zh-CN")),
    }
    after = _counts(engine)
    assert after["impostor_incidents"] == before["impostor_incidents"] + 1
    assert after["evidence_records"] == before["evidence_records"] + 1
    for args, code in (
        (("--phone", "1", "--account", "2"), 2),
        ((), 2),
        (("--phone", "call me"), 2),
        (("--phone", "95188", "--borrower", "NOBODY"), 1),
    ):
        res = run("verify-channel", *args, *common)
        assert res.exit_code == code, (args, res.output)
    for phones, message in (
        ("95188", "lender.official_channels.phones"),  # not a list
        ("['95188', 'nope']", "lender.official_channels.phones[1]: phone"),
    ):
        broken = _settings(tmp_path, phones, "[]")
        res = run("verify-channel", "--phone", "95188", "--settings", str(broken), "--db", db_url)
        assert res.exit_code == 2 and message in res.stderr, res.output
    assert _counts(engine) == after
