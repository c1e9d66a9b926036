"""The API over real HTTP: uvicorn on a loopback port, a client in this process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.serving import free_port, serving
from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.staff import add_user
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade
from contact.test_cases_support import overdue_loans
from factories import succeeded


@pytest.fixture
def base_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    overdue_loans(engine, tmp_path, ["L1"])
    config = ApiConfig(
        engine, b"x" * 32, default_settings().lender, CloseConfig(default_policy_set())
    )
    with serving(create_app(config)) as url:
        yield url


def test_over_http(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert http.get("/health").json() == {"status": "ok"}
        assert (
            http.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"}).status_code
            == 202
        )
        r = http.get("/api/v1/me/loans", headers={"Authorization": "Bearer nonsense"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert "/api/v1/me/forecast" in http.get("/openapi.json").json()["paths"]


def _start(db: Path, tmp_path: Path, port: int, *more: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "ARREARS_ENV": "production",
        "ARREARS_KEY_DIR": str(tmp_path / "keys"),
        "PYTHONUNBUFFERED": "1",
    }
    arrears = Path(sys.executable).with_name("arrears")
    proc = subprocess.Popen(
        [str(arrears), "serve", "--port", str(port), "--db", str(db), *more],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    said = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"arrears serve did not start: {said}")


def test_the_server_logs_json_without_personal_data_and_stops_gracefully(
    tmp_path: Path,
) -> None:
    db = tmp_path / "served.db"
    engine = make_engine(str(db))
    upgrade(engine)
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        succeeded(add_user(conn, "sup", "served password 1", "supervisor", datetime.now(UTC)))
    engine.dispose()
    port = free_port()
    proc = _start(db, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=120) as http:
        traced = http.get("/health", headers={"X-Request-ID": "trace-42"})
        assert traced.headers["x-request-id"] == "trace-42"
        fresh = http.get("/health", headers={"X-Request-ID": "not a plain token!"})
        assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
        http.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
        http.get("/api/v1/loans/L1", headers={"Authorization": "Bearer secret-token-xyz"})
        token = http.post(
            "/api/v1/auth/staff/session",
            json={"username": "sup", "password": "served password 1"},
        ).json()["token"]
        slow: dict[str, httpx.Response] = {}

        def forecast() -> None:  # runs the close day by day: seconds, long enough to be in flight
            slow["r"] = http.get(
                "/api/v1/borrowers/B-L1/forecast?days=60",
                headers={"Authorization": f"Bearer {token}"},
            )

        worker = threading.Thread(target=forecast)
        worker.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        worker.join(timeout=120)
    out, err = proc.communicate(timeout=60)
    # uvicorn exits by the signal it was sent, once every request in flight has its answer
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert "Application shutdown complete." in err
    assert slow["r"].status_code == 200, slow["r"].text  # answered, not cut off
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    requests = [x for x in lines if x.get("msg") == "request"]
    assert {"trace-42"} <= {x["request_id"] for x in requests}
    assert "/api/v1/loans/{loan_id}" in {x["route"] for x in requests}
    assert any(x["route"].endswith("/forecast") and x["status"] == 200 for x in requests)
    everything = out + err
    for personal in ("13800138000", "138****8000", "secret-token-xyz", "served password", "L1"):
        assert personal not in everything, personal


def _workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn started under ``pid`` (multiprocessing's spawned
    interpreters; its resource tracker is a child too, but not a worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_two_workers_serve_one_port_and_agree_on_sessions(tmp_path: Path) -> None:
    db = tmp_path / "served.db"
    engine = make_engine(str(db))
    upgrade(engine)
    with engine.begin() as conn:
        succeeded(add_user(conn, "sup", "served password 1", "supervisor", datetime.now(UTC)))
    engine.dispose()
    port = free_port()
    proc = _start(db, tmp_path, port, "--workers", "2")
    try:
        workers = _workers_of(proc.pid)
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/staff/session",
            json={"username": "sup", "password": "served password 1"},
            timeout=60,
        ).json()["token"]
        # Each on a new connection, taken by whichever worker accepts it first: a session
        # is good at either (both read one key), so every answer is 200.
        statuses = [
            httpx.get(
                f"http://127.0.0.1:{port}/api/v1/complaints",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ).status_code
            for _ in range(20)
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=60)[1]
    assert len(workers) == 2, err[-2000:]
    assert statuses == [200] * 20
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert err.count("Application shutdown complete.") == 2  # each worker stopped gracefully
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    routes = [x["route"] for x in lines if x.get("msg") == "request"]
    assert routes.count("/api/v1/complaints") == 20  # a JSON line a request, in each worker
