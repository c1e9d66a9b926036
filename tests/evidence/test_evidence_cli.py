"""``arrears evidence verify | export | show | seal`` against a real database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.services import evidence as log

runner = CliRunner()
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        for i in range(3):
            log.append(conn, "b1", "contact.attempt", {"channel": "sms", "i": i}, T0)
        log.append(conn, "b2", "contact.blocked", {"rule": "cn.quiet_hours"}, T0)


def test_verify_intact_then_tampered(engine: Engine, db_url: str) -> None:
    seed(engine)
    ok = runner.invoke(app, ["evidence", "verify", "--db", db_url])
    assert ok.exit_code == 0, ok.output
    assert "evidence intact: 2 chains, 4 records" in ok.output

    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER evidence_records_no_update"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE evidence_records SET kind = 'visit' WHERE seq = 2"))
    bad = runner.invoke(app, ["evidence", "verify", "--db", db_url])
    assert bad.exit_code == 1
    assert "evidence TAMPERED: borrower b1 seq 2: hash:" in bad.output

    as_json = runner.invoke(app, ["evidence", "verify", "--db", db_url, "--json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and report["intact"] is False
    assert report["problems"][0] == {
        "borrower_id": "b1",
        "seq": 2,
        "code": "hash",
        "detail": "content does not match its hash: altered after it was written",
    }
    only_b2 = runner.invoke(app, ["evidence", "verify", "--db", db_url, "--borrower", "b2"])
    assert only_b2.exit_code == 0, only_b2.output


def test_seal_then_export_and_show(engine: Engine, db_url: str, tmp_path: Path) -> None:
    seed(engine)
    sealed = runner.invoke(app, ["evidence", "seal", "--label", "2024-05-01", "--db", db_url])
    assert sealed.exit_code == 0, sealed.output
    assert "(2 chains, 4 records)" in sealed.output

    out = tmp_path / "b1.jsonl"
    exported = runner.invoke(
        app,
        [
            "evidence",
            "export",
            "--borrower",
            "b1",
            "--out",
            str(out),
            "--db",
            db_url,
            "--format",
            "chain",
        ],
    )
    assert exported.exit_code == 0, exported.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4 and lines[-1].startswith('{"anchor":')

    shown = runner.invoke(app, ["evidence", "show", "--borrower", "b1", "--db", db_url, "--json"])
    records = json.loads(shown.output)
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [json.loads(line) for line in lines[:3]] == records

    table = runner.invoke(app, ["evidence", "show", "--borrower", "b1", "--db", db_url])
    assert table.exit_code == 0 and "contact.attempt" in table.output


def test_errors_are_one_line_and_non_zero(db_url: str, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["evidence", "verify", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no database at" in missing.output
    assert not (tmp_path / "none.db").exists()
    nobody = runner.invoke(app, ["evidence", "show", "--borrower", "nobody", "--db", db_url])
    assert nobody.exit_code == 1 and "no evidence for borrower 'nobody'" in nobody.output
    out = tmp_path / "x.jsonl"
    nothing = runner.invoke(
        app,
        [
            "evidence",
            "export",
            "--borrower",
            "nobody",
            "--out",
            str(out),
            "--db",
            db_url,
            "--format",
            "chain",
        ],
    )
    assert nothing.exit_code == 1 and not out.exists()
    label = runner.invoke(app, ["evidence", "verify", "--db", db_url, "--root-label", "x"])
    assert label.exit_code == 2 and "no evidence root labelled 'x'" in label.output
