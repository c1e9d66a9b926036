"""``arrears demo`` as a new user runs it: a fresh database, the simulated days, a summary
that matches what the database holds, then the web app with logins that work."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.serving import free_port

ARREARS = [sys.executable, "-m", "arrears.cli.main"]


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ARREARS_KEY_DIR": str(tmp_path / "keys"), "COLUMNS": "200"}


def test_no_serve_prints_a_summary_the_database_agrees_with_and_reruns_afresh(
    tmp_path: Path,
) -> None:
    db = tmp_path / "demo.db"
    args = [*ARREARS, "demo", "--db", str(db), "--loans", "200", "--days", "12", "--no-serve"]
    first = subprocess.run(args, capture_output=True, text=True, env=_env(tmp_path), check=True)
    found = re.search(
        r"(\d+) borrowers, .*: (\d+) contacts enqueued, (\d+) blocked by the gate, (\d+) calls, "
        r"(\d+) promises, (\d+) payments, (\d+) home visits, (\d+) plans asked for \((\d+) in "
        r"force\), (\d+) complaints and (\d+) disputes",
        first.stdout,
    )
    assert found, first.stdout
    borrowers, _, _, calls, promises, _, _, plans, _, complaints, disputes = map(
        int, found.groups()
    )
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from borrowers").fetchone()[0] == borrowers
        assert conn.execute("select count(*) from promises").fetchone()[0] == promises
        assert conn.execute("select count(*) from plans").fetchone()[0] == plans
        assert conn.execute("select count(*) from complaints").fetchone()[0] == (
            complaints + disputes
        )
        done = "select count(*) from queue_items where outcome is not null"
        assert conn.execute(done).fetchone()[0] == calls
    assert "the web app:" not in first.stdout
    # Run again on the same file: a new database, the same seeded run, the same summary.
    second = subprocess.run(args, capture_output=True, text=True, env=_env(tmp_path), check=True)
    assert found.group(0) in second.stdout


def test_the_demo_serves_the_web_app_with_the_logins_it_prints(tmp_path: Path) -> None:
    port = free_port()
    args = [*ARREARS, "demo", "--db", str(tmp_path / "d.db"), "--loans", "60", "--days", "3",
            "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(tmp_path)
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            lines.append(line)
            if line.lstrip().startswith("compliance:"):
                break
        text = "".join(lines)
        logins = re.findall(r"^\s+(\w+):\s+\S+/staff/signin\s+(\S+) / (\S+)$", text, re.M)
        assert {role for role, _, _ in logins} == {
            "agent", "supervisor", "field_collector", "compliance"
        }  # fmt: skip
        phone = re.search(r"/signin\s+phone (.+?) \(B-NEVER", text)
        assert phone, text
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        for role, username, password in logins:
            r = httpx.post(
                f"{base}/api/v1/auth/staff/session",
                json={"username": username, "password": password},
            )
            assert r.status_code == 200 and r.json()["role"] == role, r.text
            if role == "agent":  # the desk is staffed: a call waits for the agent
                token = r.json()["token"]
                call = httpx.post(
                    f"{base}/api/v1/queue/next",
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "demo-1"},
                )
                assert call.status_code == 200 and call.json() is not None, call.text
        r = httpx.post(f"{base}/api/v1/auth/borrower/code", json={"phone": phone.group(1)})
        assert r.status_code == 202
        page = httpx.get(f"{base}/signin")
        assert page.status_code == 200 and "<form" in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    # The code went to the console, as the demo says (there is no SMS gateway).
    assert re.search(r"\[development\] SMS to .*\d{6}", out), out[-2000:]
