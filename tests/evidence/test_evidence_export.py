"""Exports verify with the standalone verifier (even copied out of the package, with no
``arrears`` importable), and tampered exports fail naming the first bad record."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

import arrears.cli.check_export as check_export_module
import arrears.core.evidence.verify_export as verify_export_module
from arrears.services import evidence as log

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def write_chains(engine: Engine, seal: bool) -> None:
    with engine.begin() as conn:
        for borrower_id, n in (("a", 2), ("b1", 5), ("c", 3)):
            for i in range(n):
                log.append(
                    conn,
                    borrower_id,
                    "contact.attempt",
                    # U+2028 and U+0085 are written literally: the file must not split on them.
                    {"channel": "sms", "amount": f"{100 + i}.00", "text": "逾期\u2028通知\x85"},
                    T0 + timedelta(minutes=i),
                )
        if seal:
            log.store_root(conn, "2024-05-01", T0)


def export(engine: Engine, path: Path, borrower_id: str = "b1") -> list[str]:
    with engine.begin() as conn:
        lines = list(log.export_chain(conn, borrower_id))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="")
    return lines


def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "arrears.cli.check_export", str(path), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def test_export_verifies_with_the_module(engine: Engine, tmp_path: Path) -> None:
    write_chains(engine, seal=False)
    path = tmp_path / "b1.jsonl"
    lines = export(engine, path)
    assert len(lines) == 5
    done = run(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact: borrower b1, 5 records" in done.stdout
    assert "no anchor" in done.stdout


def test_verifier_runs_alone_without_arrears(engine: Engine, tmp_path: Path) -> None:
    write_chains(engine, seal=True)
    path = tmp_path / "b1.jsonl"
    export(engine, path)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(verify_export_module.__file__, alone / "verify_export.py")
    shutil.copy(check_export_module.__file__, alone / "check_export.py")
    # -I: ignore PYTHON* variables and the user site; -S: no site-packages, so no arrears.
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(alone / "check_export.py"), str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=alone,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "records 1..5 are in root '2024-05-01'" in done.stdout


def test_anchor_ties_the_export_to_the_published_root(engine: Engine, tmp_path: Path) -> None:
    write_chains(engine, seal=True)
    with engine.begin() as conn:
        stored = log.get_root(conn)
    assert stored is not None
    for borrower_id in ("a", "b1", "c"):
        path = tmp_path / f"{borrower_id}.jsonl"
        export(engine, path, borrower_id)
        assert run(path, "--root", stored.root).returncode == 0
    wrong = run(tmp_path / "b1.jsonl", "--root", "ab" * 32)
    assert wrong.returncode == 1
    assert "not the published" in wrong.stdout


def test_records_after_the_latest_root_still_verify(engine: Engine, tmp_path: Path) -> None:
    write_chains(engine, seal=True)
    with engine.begin() as conn:
        log.append(conn, "b1", "visit", {"report": "nobody home"}, T0)
    path = tmp_path / "b1.jsonl"
    export(engine, path)
    done = run(path)
    assert done.returncode == 0, done.stdout
    assert "6 records" in done.stdout and "records 1..5 are in root" in done.stdout


def tamper(path: Path, edit: str) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    records, anchor = lines[:-1], lines[-1:]
    if edit == "edit":
        records[2] = records[2].replace('"102.00"', '"1.00"')
    elif edit == "delete":
        del records[1]
    elif edit == "reorder":
        records[1], records[2] = records[2], records[1]
    elif edit == "insert":
        records.insert(1, records[3])
    elif edit == "truncate":
        records = records[:3]
    path.write_text("".join(line + "\n" for line in [*records, *anchor]), encoding="utf-8")
    return lines


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("edit", "borrower b1 seq 3: content does not match its hash"),
        ("delete", "borrower b1 seq 2: expected seq 2, found 3"),
        ("reorder", "borrower b1 seq 2: expected seq 2, found 3"),
        ("insert", "borrower b1 seq 2: expected seq 2, found 4"),
        ("truncate", "borrower b1 seq 4: chain ends at seq 3"),
    ],
)
def test_tampered_export_fails_naming_the_first_bad_record(
    engine: Engine, tmp_path: Path, edit: str, named: str
) -> None:
    write_chains(engine, seal=True)
    path = tmp_path / "b1.jsonl"
    export(engine, path)
    tamper(path, edit)
    done = run(path)
    assert done.returncode == 1
    assert done.stdout.startswith("TAMPERED: ")
    assert named in done.stdout


def test_a_float_in_the_export_is_refused(tmp_path: Path) -> None:
    line = (
        '{"at":"2024-05-01T09:30:00.000000Z","borrower_id":"b1","hash":"' + "0" * 64 + '",'
        '"kind":"visit","payload":{"amount":1.5},"prev_hash":"' + "0" * 64 + '","seq":1}'
    )
    path = tmp_path / "x.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    done = run(path)
    assert done.returncode == 1 and "floats" in done.stdout


def test_missing_file_is_exit_2(tmp_path: Path) -> None:
    assert run(tmp_path / "nope.jsonl").returncode == 2
