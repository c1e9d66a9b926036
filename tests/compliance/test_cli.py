"""`arrears compliance check|rules` through the mounted CLI: exit 0 allowed, 3 blocked,
2 bad input with the line and field."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from arrears.cli.main import app

runner = CliRunner()

TALK = {
    "at": "2026-03-02T09:00:00+08:00",
    "channel": "call",
    "debt_id": "L1",
    "party": "debtor",
    "number": "+8613800000000",
    "connected": True,
    "conversation": True,
}


def files(
    tmp_path: Path, history: list[dict[str, object]] | str, at: str, **ctx: object
) -> list[str]:
    h = tmp_path / "history.jsonl"
    h.write_text(history if isinstance(history, str) else "\n".join(json.dumps(x) for x in history))
    p = tmp_path / "proposed.json"
    proposed = {
        **TALK,
        "at": at,
        "connected": False,
        "conversation": False,
        "context": {"timezones": ["Asia/Shanghai"], **ctx},
    }
    p.write_text(json.dumps(proposed, indent=2))
    return ["--history", str(h), "--proposed", str(p)]


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["compliance", *args])


def test_allowed_exits_0(tmp_path: Path) -> None:
    result = run(
        "check", "--rules", "cn", *files(tmp_path, [TALK], "2026-03-02T21:59:00+08:00"), "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"allowed": True, "violations": [], "warnings": []}


def test_blocked_exits_3_with_rule_and_source(tmp_path: Path) -> None:
    result = run(
        "check", "--rules", "cn", *files(tmp_path, [TALK], "2026-03-02T22:00:00+08:00"), "--json"
    )
    assert result.exit_code == 3
    out = json.loads(result.stdout)
    assert out["allowed"] is False
    assert [v["rule"] for v in out["violations"]] == ["cn.hours"]
    assert "22:00" in out["violations"][0]["source"]


def test_blocked_plain_output(tmp_path: Path) -> None:
    result = run(
        "check", "--rules", "us-reg-f", *files(tmp_path, [TALK], "2026-03-03T10:00:00+08:00")
    )
    assert result.exit_code == 3
    assert "blocked" in result.stdout and "us.calls-after-conversation" in result.stdout


def test_bad_history_line_exits_2_naming_line_and_field(tmp_path: Path) -> None:
    bad = json.dumps(TALK) + "\n" + json.dumps({**TALK, "channel": "fax"})
    result = run("check", "--rules", "cn", *files(tmp_path, bad, "2026-03-02T10:00:00+08:00"))
    assert result.exit_code == 2
    assert ": line 2: channel: " in result.stderr  # the file, the line, the field


def test_bad_proposed_exits_2_naming_field(tmp_path: Path) -> None:
    args = files(tmp_path, [], "2026-03-02T10:00:00+08:00", timezones=["Mars/Base"])
    result = run("check", "--rules", "cn", *args)
    assert result.exit_code == 2
    assert "context.timezones[0]" in result.stderr and "line" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    args = files(tmp_path, [], "2026-03-02T10:00:00+08:00")
    args[1] = str(tmp_path / "nope.jsonl")
    result = run("check", "--rules", "cn", *args)
    assert result.exit_code == 2
    assert "nope.jsonl" in result.stderr


def test_unknown_pack_exits_2(tmp_path: Path) -> None:
    result = run("check", "--rules", "eu", *files(tmp_path, [], "2026-03-02T10:00:00+08:00"))
    assert result.exit_code == 2


def test_settings_tighten_and_looser_is_bad_input(tmp_path: Path) -> None:
    args = files(tmp_path, [], "2026-03-02T21:30:00+08:00")
    strict = tmp_path / "strict.json"
    strict.write_text('{"day_end": "21:00"}')
    result = run("check", "--rules", "cn", *args, "--settings", str(strict))
    assert result.exit_code == 3
    loose = tmp_path / "loose.json"
    loose.write_text('{"day_end": "23:00"}')
    result = run("check", "--rules", "cn", *args, "--settings", str(loose))
    assert result.exit_code == 2
    assert "day_end" in result.stderr and "looser" in result.stderr


def test_rules_lists_every_rule_with_source() -> None:
    result = run("rules", "--rules", "us-reg-f", "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    ids = {r["rule"] for r in out["rules"]}
    assert {"us.calls-7-in-7", "us.calls-after-conversation", "us.hours"} <= ids
    assert all(r["source"] for r in out["rules"])
    assert out["limits"]["day_end"] == "21:00"
    plain = run("rules", "--rules", "cn")
    assert plain.exit_code == 0 and "cn.daily-conversations" in plain.stdout
