"""The API over real HTTP: uvicorn on a loopback port, a client in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.serving import serving
from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from contact.test_cases_support import overdue_loans


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
