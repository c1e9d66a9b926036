"""Browser sessions: the session in an HttpOnly, SameSite=Strict, Secure cookie; a request
that changes something must carry the session's anti-forgery token, which a forged request
from another site cannot know; signing out ends the session at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.staff import add_user
from arrears.store.case_tables import borrower_contacts
from arrears.store.outbox_tables import outbox
from contact.test_cases_support import overdue_loans
from factories import succeeded

PASSWORD = "cookie jar password"


def _client(engine: Engine, secure: bool) -> TestClient:
    config = ApiConfig(
        engine,
        b"c" * 32,
        default_settings().lender,
        CloseConfig(default_policy_set()),
        cookie_secure=secure,
    )
    return TestClient(create_app(config))


def _code(engine: Engine) -> str:
    with engine.connect() as conn:
        q = select(outbox.c.body).where(outbox.c.template == "signin_code")
        body = conn.execute(q.order_by(outbox.c.created_at.desc())).scalars().first()
    found = re.search(r"\d{6}", body or "")
    assert found is not None
    return found.group()


def _messages(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(borrower_contacts)).scalar_one())


def test_the_cookies_are_httponly_strict_and_secure(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    with engine.begin() as conn:
        succeeded(add_user(conn, "sup", PASSWORD, "supervisor", datetime.now(UTC)))
    client = _client(engine, secure=True)
    r = client.post(
        "/api/v1/auth/staff/session",
        json={"username": "sup", "password": PASSWORD, "cookie": True},
    )
    assert r.status_code == 200 and r.json()["token"] == "" and r.json()["csrf_token"]
    cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    session, csrf = cookies["arrears_session"], cookies["arrears_csrf"]
    for flag in ("secure", "samesite=strict", "path=/", "max-age="):
        assert flag in session and flag in csrf
    assert "httponly" in session and "httponly" not in csrf  # the page's script reads only csrf
    bearer = client.post(
        "/api/v1/auth/staff/session", json={"username": "sup", "password": PASSWORD}
    )
    assert "set-cookie" not in bearer.headers and bearer.json()["token"]


def test_a_forged_request_without_the_token_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    client = _client(engine, secure=False)  # the test client speaks plain http
    client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    r = client.post(
        "/api/v1/auth/borrower/session",
        json={"phone": "13800138000", "code": _code(engine), "cookie": True},
    )
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    assert client.get("/api/v1/me/loans").status_code == 200  # the cookie alone reads
    body = {"text": "please call me"}
    forged = client.post("/api/v1/me/messages", json=body, headers={"Idempotency-Key": "m"})
    assert forged.status_code == 403
    assert forged.json()["errors"][0]["field"] == "X-CSRF-Token"
    wrong = client.post(
        "/api/v1/me/messages",
        json=body,
        headers={"Idempotency-Key": "m", "X-CSRF-Token": "0" * 64},
    )
    assert wrong.status_code == 403 and _messages(engine) == 0
    ok = client.post(
        "/api/v1/me/messages", json=body, headers={"Idempotency-Key": "m", "X-CSRF-Token": csrf}
    )
    assert ok.status_code == 201 and _messages(engine) == 1
    assert client.post("/api/v1/auth/session/end").status_code == 403  # no forged sign-out
    out = client.post("/api/v1/auth/session/end", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert client.get("/api/v1/me/loans").status_code == 401


def test_signing_out_ends_a_bearer_token_at_once(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    client = _client(engine, secure=True)
    client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    token = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": _code(engine)}
    ).json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me/loans", headers=me).status_code == 200
    assert client.post("/api/v1/auth/session/end", headers=me).status_code == 204
    assert client.get("/api/v1/me/loans", headers=me).status_code == 401
    assert client.post("/api/v1/auth/session/end", headers=me).status_code == 401
