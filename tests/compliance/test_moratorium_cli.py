"""``arrears moratorium`` and ``arrears dispute``: JSON out, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from arrears.cli.main import app

from .test_moratoria_close import FIRST, START, book, close

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


def one_line_error(res: Result, code: int, *needles: str) -> None:
    assert res.exit_code == code, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_moratorium_start_list_end(db_url: str, engine: Engine, tmp_path: Path) -> None:
    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    started = run(
        "moratorium", "start", "--borrower", "B1", "--kind", "breathing-space",
        "--from", START.isoformat(), "--ref", "BS-9", "--db", db_url, "--json",
    )  # fmt: skip
    assert started.exit_code == 0, started.stderr
    made = json.loads(started.stdout)
    assert (made["ends_on"], made["loan_ids"]) == ("2026-05-11", ["L1"])  # 60 days
    listed = json.loads(run("moratorium", "list", "--db", db_url, "--json").stdout)
    assert [m["ref"] for m in listed] == ["BS-9"]
    ended = run(
        "moratorium", "end", str(made["moratorium_id"]), "--on", "2026-04-01",
        "--reason", "cancelled on review", "--db", db_url, "--json",
    )  # fmt: skip
    assert ended.exit_code == 0 and json.loads(ended.stdout)["ends_on"] == "2026-04-01"


def test_moratorium_bad_input_is_one_line(db_url: str, engine: Engine, tmp_path: Path) -> None:
    book(engine, tmp_path, "uk-conc")
    close(engine, FIRST)
    base = ("moratorium", "start", "--ref", "R", "--db", db_url)
    one_line_error(
        run(*base, "--borrower", "B1", "--kind", "holiday", "--from", START.isoformat()),
        2,
        "kind",
    )
    one_line_error(
        run(*base, "--borrower", "B1", "--kind", "breathing-space", "--from", "tomorrow"),
        2,
        "from",
    )
    one_line_error(
        run(
            *base, "--borrower", "NOBODY", "--kind", "breathing-space", "--from", START.isoformat()
        ),
        1,
        "NOBODY",
    )
    one_line_error(
        run("moratorium", "end", "99", "--on", "2026-04-01", "--reason", "x", "--db", db_url), 1
    )


def test_dispute_open_and_verification(db_url: str, engine: Engine, tmp_path: Path) -> None:
    book(engine, tmp_path, "us-reg-f")
    opened = run(
        "dispute", "open", "--loan", "L1", "--kind", "dispute", "--received", "2026-03-01",
        "--ref", "LTR-9", "--db", db_url, "--json",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.stderr
    dispute_id = json.loads(opened.stdout)["dispute_id"]
    sent = run(
        "dispute", "verification-sent", str(dispute_id), "--at", "2026-03-05T15:00+00:00",
        "--db", db_url, "--json",
    )  # fmt: skip
    assert sent.exit_code == 0 and json.loads(sent.stdout)["verification_sent_at"]
    again = run("dispute", "verification-sent", str(dispute_id), "--db", db_url)
    one_line_error(again, 2, "already sent")
    one_line_error(
        run("dispute", "open", "--loan", "L1", "--kind", "rant", "--received", "2026-03-01",
            "--ref", "X", "--db", db_url),
        2,
        "kind",
    )  # fmt: skip
