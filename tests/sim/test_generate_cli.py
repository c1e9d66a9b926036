"""``arrears portfolio generate``: files that ``loans import`` and ``payments import`` take,
the same bytes for the same arguments, one-line errors with exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from arrears.cli.main import app

runner = CliRunner()


def test_help() -> None:
    res = runner.invoke(app, ["portfolio", "generate", "--help"])
    assert res.exit_code == 0
    for option in ("--loans", "--seed", "--out", "--as-of", "--payments-out", "--json"):
        assert option in res.stdout


def test_generate_then_import_both_files(db_url: str, tmp_path: Path) -> None:
    loans, pays = tmp_path / "l.csv", tmp_path / "p.parquet"
    args = ["portfolio", "generate", "--loans", "40", "--seed", "3", "--as-of", "2026-11-28"]
    res = runner.invoke(app, [*args, "--out", str(loans), "--payments-out", str(pays), "--json"])
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["loans"] == 40 and data["payments"] > 0 and data["as_of"] == "2026-11-28"
    first = (loans.read_bytes(), pays.read_bytes())
    again = runner.invoke(app, [*args, "--out", str(loans), "--payments-out", str(pays)])
    assert again.exit_code == 0 and "wrote 40 loans" in again.stdout
    assert (loans.read_bytes(), pays.read_bytes()) == first
    imp = runner.invoke(app, ["loans", "import", str(loans), "--db", db_url, "--json"])
    assert imp.exit_code == 0, imp.stderr
    assert json.loads(imp.stdout)["loans"] == 40
    paid = runner.invoke(app, ["payments", "import", str(pays), "--db", db_url, "--json"])
    assert paid.exit_code == 0, paid.stderr
    assert json.loads(paid.stdout) == {"applied": data["payments"], "already_applied": 0}


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path) -> None:
    for extra in (
        ["--out", str(tmp_path / "x.xlsx")],
        ["--out", str(tmp_path / "x.csv"), "--as-of", "28/11/2026"],
        ["--out", str(tmp_path / "x.csv"), "--payments-out", str(tmp_path / "p.json")],
    ):
        res = runner.invoke(app, ["portfolio", "generate", "--loans", "5", "--seed", "1", *extra])
        assert res.exit_code == 2, (extra, res.stdout, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1
        assert res.stderr.startswith("error: ")
    res = runner.invoke(
        app, ["portfolio", "generate", "--loans", "0", "--seed", "1", "--out", "x.csv"]
    )
    assert res.exit_code == 2
    assert not list(tmp_path.iterdir())
