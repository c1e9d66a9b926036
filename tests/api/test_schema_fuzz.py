"""schemathesis over the OpenAPI document: requests generated from every operation's schema,
sent as a borrower and as a supervisor, must never get a server error, and every answer must
match the schema documented for its status and content type. Bounded in examples so that CI
stays within its time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import Engine, select

from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.staff import add_user
from arrears.store.outbox_tables import outbox
from contact.test_cases_support import overdue_loans
from factories import succeeded

PASSWORD = "fuzzing password 1"


@pytest.fixture
def fuzzed(engine: Engine, tmp_path: Path) -> tuple[Any, list[dict[str, str]]]:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        succeeded(add_user(conn, "sup", PASSWORD, "supervisor", datetime.now(UTC)))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    config = ApiConfig(
        engine,
        b"z" * 32,
        default_settings().lender,
        CloseConfig(default_policy_set()),
        signing_key=Ed25519PrivateKey.generate(),
    )
    app = create_app(config)
    client = TestClient(app)
    staff = client.post(
        "/api/v1/auth/staff/session", json={"username": "sup", "password": PASSWORD}
    )
    client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    with engine.connect() as conn:
        q = select(outbox.c.body).where(outbox.c.template == "signin_code")
        text = conn.execute(q).scalar()
    code = re.search(r"\d{6}", text or "")
    assert code is not None
    borrower = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": code.group()}
    )
    tokens = [
        {"Authorization": f"Bearer {borrower.json()['token']}"},
        {"Authorization": f"Bearer {staff.json()['token']}"},
    ]
    return app, tokens


def test_no_server_error_and_answers_match_the_schema(
    fuzzed: tuple[Any, list[dict[str, str]]],
) -> None:
    app, tokens = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [found.ok() for found in schema.get_all_operations()]
    assert len(operations) > 30  # every route is walked, none skipped unnoticed
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            for auth in tokens:
                case.call_and_validate(headers={**(case.headers or {}), **auth}, checks=checks)

        fuzz()
