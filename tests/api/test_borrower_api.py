"""The borrower's side of the REST API: sign in by SMS code, see only one's own loans, the
forecast and rights, propose a plan once per Idempotency-Key."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, update

from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.store import tables as t
from arrears.store.api_tables import login_codes
from arrears.store.case_tables import plans
from arrears.store.outbox_tables import outbox
from contact.test_cases_support import overdue_loans

SECRET = b"s" * 32


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> TestClient:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:  # two borrowers, two phones
        conn.execute(
            update(t.borrowers)
            .where(t.borrowers.c.borrower_id == "B-L2")
            .values(phone="13900000002")
        )
    settings = default_settings()
    config = ApiConfig(engine, SECRET, settings.lender, CloseConfig(default_policy_set()))
    return TestClient(create_app(config))


def sign_in(client: TestClient, engine: Engine, phone: str = "13800138000") -> dict[str, str]:
    assert client.post("/api/v1/auth/borrower/code", json={"phone": phone}).status_code == 202
    with engine.connect() as conn:
        body = (
            conn.execute(
                select(outbox.c.body)
                .where(outbox.c.template == "signin_code")
                .order_by(outbox.c.created_at.desc())
            )
            .scalars()
            .first()
        )
    code = re.search(r"\d{6}", body or "")
    assert code is not None, body
    r = client.post("/api/v1/auth/borrower/session", json={"phone": phone, "code": code.group()})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_sign_in_and_see_only_my_loans(client: TestClient, engine: Engine) -> None:
    r0 = client.get("/api/v1/me/loans")
    assert r0.status_code == 401, r0.text
    me = sign_in(client, engine)
    loans = client.get("/api/v1/me/loans", headers=me).json()
    assert [x["loan_id"] for x in loans] == ["L1"]
    with engine.connect() as conn:
        s = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == "L1")).one()
    assert (
        loans[0]["dpd"] == s.dpd
        and loans[0]["overdue_principal"] == f"{s.overdue_principal / 100:.2f}"
    )
    assert client.get("/api/v1/loans/L1", headers=me).status_code == 200
    other = client.get("/api/v1/loans/L2", headers=me)  # another borrower's: as if it did not exist
    assert other.status_code == 404 and other.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/loans/NOPE", headers=me).json()["status"] == 404


def test_codes_are_single_use_rate_limited_and_unknown_numbers_look_the_same(
    client: TestClient, engine: Engine
) -> None:
    unknown = client.post("/api/v1/auth/borrower/code", json={"phone": "10000000000"})
    assert unknown.status_code == 202 and unknown.json()["sent"] is True
    bad = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": "000000"}
    )
    assert bad.status_code == 401
    sign_in(client, engine)
    with engine.connect() as conn:
        used = conn.execute(
            select(login_codes.c.used_at).order_by(login_codes.c.code_id.desc())
        ).scalar()
    assert used is not None
    for _ in range(4):  # five codes in the hour, the first included
        client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    limited = client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    assert limited.status_code == 429 and limited.json()["errors"][0]["field"] == "phone"
    invalid = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": "12ab"}
    )
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "code"


def test_a_wrong_code_five_times_locks_it(client: TestClient, engine: Engine) -> None:
    client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    with engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body).where(outbox.c.template == "signin_code")
        ).scalar()
    code = re.search(r"\d{6}", body or "")
    assert code is not None
    wrong = "000000" if code.group() != "000000" else "111111"
    for _ in range(5):
        client.post("/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": wrong})
    right = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": code.group()}
    )
    assert right.status_code == 401


def test_a_plan_request_applies_once_per_key(client: TestClient, engine: Engine) -> None:
    me = sign_in(client, engine)
    body = {"loan_id": "L1", "months": 6, "reason": "job_loss"}
    missing = client.post("/api/v1/me/plans", json=body, headers=me)
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "Idempotency-Key"
    keyed = {**me, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/me/plans", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/me/plans", json=body, headers=keyed)
    assert again.json() == first.json()
    other = client.post("/api/v1/me/plans", json={**body, "months": 3}, headers=keyed)
    assert other.status_code == 422
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(plans)).scalar_one() == 1
    foreign = client.post(
        "/api/v1/me/plans", json={**body, "loan_id": "L2"}, headers={**me, "Idempotency-Key": "k-2"}
    )
    assert foreign.status_code == 404
    assert [p["status"] for p in client.get("/api/v1/me/plans", headers=me).json()] == ["active"]
    preview = client.post(
        "/api/v1/me/plans/preview", json={"loan_id": "L1", "monthly": "300"}, headers=me
    )
    assert preview.status_code == 200 and len(preview.json()["schedule"]) >= 1


def test_forecast_rights_and_openapi(client: TestClient, engine: Engine) -> None:
    me = sign_in(client, engine)
    f = client.get("/api/v1/me/forecast?days=3", headers=me).json()
    assert f["borrower_id"] == "B-L1" and f["next"][0]["on"] == "2024-03-02"
    rights = client.get("/api/v1/me/rights?language=en", headers=me).json()
    assert rights["pack"] == "cn" and rights["language"] == "en"
    spec = client.get("/openapi.json").json()
    assert "/api/v1/me/plans" in spec["paths"] and date.today().year >= 2024


def test_a_request_takes_one_connection_for_its_session_check_and_its_work(
    client: TestClient, engine: Engine
) -> None:
    me = sign_in(client, engine)
    checkouts: list[object] = []

    def count(_dbapi: object, record: object, _proxy: object) -> None:
        checkouts.append(record)

    event.listen(engine, "checkout", count)
    try:
        loans = client.get("/api/v1/me/loans", headers=me)
        assert loans.status_code == 200 and len(checkouts) == 1, loans.text
        missing = client.get("/api/v1/loans/L2", headers=me)  # another's loan: refused, 404
        assert missing.status_code == 404 and len(checkouts) == 2, missing.text
    finally:
        event.remove(engine, "checkout", count)


def test_the_summary_asks_the_database_as_often_for_two_loans_as_for_one(
    client: TestClient, engine: Engine
) -> None:
    me = sign_in(client, engine)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    def summary() -> tuple[list[str], int]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            r = client.get("/api/v1/me/loans", headers=me)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert r.status_code == 200, r.text
        return [x["loan_id"] for x in r.json()], len(statements)

    one, queries_for_one = summary()
    with engine.begin() as conn:  # L2 becomes the signed-in borrower's second loan
        conn.execute(update(t.loans).where(t.loans.c.loan_id == "L2").values(borrower_id="B-L1"))
    two, queries_for_two = summary()
    assert one == ["L1"] and two == ["L1", "L2"]
    assert queries_for_two == queries_for_one
