"""Who may do what, on every route the OpenAPI lists: one table, checked for every role, so a
new route without a rule fails here. Staff sign in with argon2-hashed passwords; wrong
passwords lock the account."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.collection.borrower_contact import reach_lender
from arrears.services.collection.plans import request_plan
from arrears.services.collection.queue import next_item
from arrears.services.events import pay_in
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.signin import new_session
from arrears.services.staff import ROLES, add_user
from arrears.store import tables as t
from arrears.store.case_tables import cases
from arrears.store.outbox_tables import outbox
from contact.test_cases_support import overdue_loans, sh
from factories import succeeded

PASSWORD = "correct horse battery"
SECRET = b"k" * 32
PUBLIC = "public"
BORROWER = "borrower"
SIGNED_IN = "signed in"  # anyone with a session, about their own session
# (method, path) -> who may: PUBLIC, BORROWER, or a set of staff roles.
ACCESS: dict[tuple[str, str], Any] = {
    ("GET", "/health"): PUBLIC,
    ("POST", "/api/v1/auth/borrower/code"): PUBLIC,
    ("POST", "/api/v1/auth/borrower/session"): PUBLIC,
    ("POST", "/api/v1/auth/staff/session"): PUBLIC,
    ("GET", "/api/v1/me/loans"): BORROWER,
    ("GET", "/api/v1/loans/{loan_id}"): BORROWER,
    ("GET", "/api/v1/me/forecast"): BORROWER,
    ("GET", "/api/v1/me/rights"): BORROWER,
    ("POST", "/api/v1/me/plans/preview"): BORROWER,
    ("POST", "/api/v1/me/plans"): BORROWER,
    ("GET", "/api/v1/me/plans"): BORROWER,
    ("GET", "/api/v1/plans"): {"admin", "supervisor", "compliance"},
    ("POST", "/api/v1/plans/{plan_id}/decision"): {"admin", "supervisor"},
    ("GET", "/api/v1/borrowers/{borrower_id}/forecast"): {
        "admin",
        "supervisor",
        "compliance",
        "agent",
    },
    ("GET", "/api/v1/complaints"): {"admin", "supervisor", "compliance"},
    ("GET", "/ready"): PUBLIC,
    ("POST", "/api/v1/auth/session/end"): SIGNED_IN,
    ("POST", "/api/v1/me/messages"): BORROWER,
    ("POST", "/api/v1/me/verify-collector"): BORROWER,
    ("POST", "/api/v1/me/verify-channel"): BORROWER,
    ("POST", "/api/v1/me/complaints"): BORROWER,
    ("GET", "/api/v1/me/complaints"): BORROWER,
    ("GET", "/api/v1/me/credit"): BORROWER,
    ("POST", "/api/v1/me/records"): BORROWER,
    ("GET", "/api/v1/me/records"): BORROWER,
    ("GET", "/api/v1/me/evidence"): BORROWER,
    ("POST", "/api/v1/loans/{loan_id}/payments"): {"admin", "supervisor"},
    ("POST", "/api/v1/payments/{payment_ref}/reversal"): {"admin", "supervisor"},
    ("POST", "/api/v1/loans/{loan_id}/waivers"): {"admin", "supervisor"},
    ("GET", "/api/v1/queue"): {"admin", "supervisor", "compliance", "agent"},
    ("POST", "/api/v1/queue/next"): {"agent", "supervisor"},
    ("POST", "/api/v1/queue/{item_id}/outcome"): {"agent", "supervisor"},
    ("GET", "/api/v1/visits"): {"admin", "supervisor", "compliance", "field_collector"},
    ("GET", "/api/v1/audit/pii-reads"): {"admin", "compliance"},
}
# What each route is called with: the borrower's own ids, a small valid body.
CALLS: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("GET", "/api/v1/loans/{loan_id}"): ("/api/v1/loans/L1", None),
    ("GET", "/api/v1/me/forecast"): ("/api/v1/me/forecast?days=1", None),
    ("POST", "/api/v1/me/plans/preview"): (
        "/api/v1/me/plans/preview",
        {"loan_id": "L1", "months": 3},
    ),
    ("POST", "/api/v1/me/plans"): (
        "/api/v1/me/plans",
        {"loan_id": "L1", "months": 24, "reason": "illness"},
    ),
    ("POST", "/api/v1/plans/{plan_id}/decision"): (
        "/api/v1/plans/{plan}/decision",
        {"decision": "reject"},
    ),
    ("GET", "/api/v1/borrowers/{borrower_id}/forecast"): (
        "/api/v1/borrowers/B-L1/forecast?days=1",
        None,
    ),
    ("POST", "/api/v1/me/messages"): ("/api/v1/me/messages", {"text": "please call me"}),
    ("POST", "/api/v1/me/verify-collector"): ("/api/v1/me/verify-collector", {"code": "123456"}),
    ("POST", "/api/v1/me/verify-channel"): ("/api/v1/me/verify-channel", {"phone": "13900001111"}),
    ("POST", "/api/v1/me/complaints"): (
        "/api/v1/me/complaints",
        {"against": "amount", "text": "the penalty is wrong", "loan_id": "L1"},
    ),
    ("POST", "/api/v1/me/records"): (
        "/api/v1/me/records",
        {
            "happened_at": "2024-03-02T10:00:00+08:00",
            "channel": "call",
            "caller_name": "Wang",
            "said": "he said my family would be told",
        },
    ),
    ("POST", "/api/v1/loans/{loan_id}/payments"): (
        "/api/v1/loans/L1/payments",
        {"amount": "1.00", "on": "2024-03-02", "ref": "pay-roles"},
    ),
    ("POST", "/api/v1/payments/{payment_ref}/reversal"): (
        "/api/v1/payments/P-REV/reversal",
        {"on": "2024-03-02", "ref": "rev-roles"},
    ),
    ("POST", "/api/v1/loans/{loan_id}/waivers"): (
        "/api/v1/loans/L1/waivers",
        {"component": "penalty", "amount": "0.01", "on": "2024-03-02", "ref": "waive-roles"},
    ),
    ("POST", "/api/v1/queue/{item_id}/outcome"): (
        "/api/v1/queue/{item}/outcome",
        {"outcome": "no_answer", "at": "2024-03-02T10:30:00+08:00"},
    ),
    ("POST", "/api/v1/auth/borrower/code"): (
        "/api/v1/auth/borrower/code",
        {"phone": "10000000000"},
    ),
    ("POST", "/api/v1/auth/borrower/session"): (
        "/api/v1/auth/borrower/session",
        {"phone": "10000000000", "code": "123456"},
    ),
    ("POST", "/api/v1/auth/staff/session"): (
        "/api/v1/auth/staff/session",
        {"username": "x", "password": "y"},
    ),
}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> tuple[TestClient, dict[str, dict[str, str]], int]:
    overdue_loans(engine, tmp_path, ["L1"])
    from datetime import date, time

    from arrears.services.close.day import close_business_day

    close_business_day(
        engine,
        date(2024, 3, 2),
        CloseConfig(default_policy_set()),
        now=datetime.combine(date(2024, 3, 2), time(0, 30), UTC),
    )
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for role in ROLES:
            succeeded(add_user(conn, role, PASSWORD, role, now))
        succeeded(add_user(conn, "agent2", PASSWORD, "agent", now))
        conn.execute(
            update(cases).where(cases.c.borrower_id == "B-L1").values(assigned_agent="agent")
        )
        succeeded(pay_in(conn, "L1", 100, date(2024, 3, 2), "P-REV"))
        succeeded(
            reach_lender(
                conn,
                key="callback",
                borrower_id="B-L1",
                at=sh("2024-03-02 09:00"),
                callback_at=sh("2024-03-02 10:00"),
            )
        )
        item = next_item(conn, "agent", sh("2024-03-02 10:05"))
        assert item is not None
    config = ApiConfig(
        engine,
        SECRET,
        default_settings().lender,
        CloseConfig(default_policy_set()),
        signing_key=Ed25519PrivateKey.generate(),
    )
    client = TestClient(create_app(config))
    tokens: dict[str, dict[str, str]] = {"anonymous": {}}
    for user in (*ROLES, "agent2"):
        r = client.post("/api/v1/auth/staff/session", json={"username": user, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[user] = {"Authorization": f"Bearer {r.json()['token']}"}
    client.post("/api/v1/auth/borrower/code", json={"phone": "13800138000"})
    with engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body).where(outbox.c.template == "signin_code")
        ).scalar()
    code = re.search(r"\d{6}", body or "")
    assert code is not None
    r = client.post(
        "/api/v1/auth/borrower/session", json={"phone": "13800138000", "code": code.group()}
    )
    tokens[BORROWER] = {"Authorization": f"Bearer {r.json()['token']}"}
    return client, tokens, item.item_id


def _plan(engine: Engine, key: str) -> int:
    """A pending plan on L1 to decide: the one waiting, else a new one (one open per loan)."""
    from arrears.store.case_tables import plans

    with engine.begin() as conn:
        waiting = conn.execute(select(plans.c.plan_id).where(plans.c.status == "pending")).scalar()
        if waiting is not None:
            return int(waiting)
        plan = succeeded(
            request_plan(
                conn,
                key=key,
                borrower_id="B-L1",
                loan_id="L1",
                at=sh("2024-03-02 10:00"),
                reason="illness",
                months=24,
            )
        )
    return plan.plan_id


def _throwaway(engine: Engine, who: str) -> str:
    with engine.begin() as conn:
        kind, subject = ("borrower", "B-L1") if who == BORROWER else ("staff", who)
        return new_session(conn, kind, subject, who, datetime.now(UTC), SECRET).token


def test_every_route_has_a_rule_and_every_role_gets_its_answer(
    world: tuple[TestClient, dict[str, dict[str, str]], int], engine: Engine
) -> None:
    client, tokens, item_id = world
    spec = client.get("/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routes.add(("GET", "/health"))
    assert routes == set(ACCESS), f"routes without a rule: {routes - set(ACCESS)}"
    for (method, template), rule in sorted(ACCESS.items()):
        for who in ("anonymous", BORROWER, *ROLES):
            path, body = CALLS.get((method, template), (template, None))
            if "{plan}" in path:
                path = path.replace("{plan}", str(_plan(engine, f"{who}-{method}-{template}")))
            path = path.replace("{item}", str(item_id))
            headers = {**tokens[who], "Idempotency-Key": f"{who}-{path}"}
            if rule == SIGNED_IN and who != "anonymous":  # signing out spends the token
                headers["Authorization"] = f"Bearer {_throwaway(engine, who)}"
            r = client.request(method, path, json=body, headers=headers)
            allowed = (
                rule == PUBLIC
                or (rule == SIGNED_IN and who != "anonymous")
                or (rule == BORROWER and who == BORROWER)
                or (isinstance(rule, set) and who in rule)
            )
            where = f"{who} {method} {path}: {r.status_code} {r.text[:200]}"
            if allowed:
                assert r.status_code not in (401, 403, 404) or rule == PUBLIC, where
                assert r.status_code < 500, where
            elif who == "anonymous":
                assert r.status_code == 401, where
            elif rule == BORROWER or who == BORROWER:
                assert r.status_code == 404, where  # not theirs to know of
            else:
                assert r.status_code == 403, where


def test_an_agent_sees_only_the_cases_assigned_to_them(
    world: tuple[TestClient, dict[str, dict[str, str]], int],
) -> None:
    client, tokens, _ = world
    path = "/api/v1/borrowers/B-L1/forecast?days=1"
    assert client.get(path, headers=tokens["agent"]).status_code == 200
    assert client.get(path, headers=tokens["agent2"]).status_code == 404


def test_compliance_reads_and_changes_nothing(
    world: tuple[TestClient, dict[str, dict[str, str]], int], engine: Engine
) -> None:
    client, tokens, _ = world
    plan_id = _plan(engine, "c")
    assert (
        client.get("/api/v1/plans?status=pending", headers=tokens["compliance"]).status_code == 200
    )
    r = client.post(
        f"/api/v1/plans/{plan_id}/decision",
        json={"decision": "approve"},
        headers={**tokens["compliance"], "Idempotency-Key": "x"},
    )
    assert r.status_code == 403
    ok = client.post(
        f"/api/v1/plans/{plan_id}/decision",
        json={"decision": "approve"},
        headers={**tokens["supervisor"], "Idempotency-Key": "x"},
    )
    assert ok.status_code == 200 and ok.json()["status"] == "active"


def test_staff_passwords_are_argon2_and_lock_after_five_wrong(
    world: tuple[TestClient, dict[str, dict[str, str]], int], engine: Engine
) -> None:
    client, _, _ = world
    from arrears.store.api_tables import staff_users

    with engine.connect() as conn:
        stored = conn.execute(
            select(staff_users.c.password_hash).where(staff_users.c.username == "agent")
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    for _ in range(5):
        bad = client.post(
            "/api/v1/auth/staff/session", json={"username": "agent", "password": "wrong password!"}
        )
        assert bad.status_code == 401
    locked = client.post(
        "/api/v1/auth/staff/session", json={"username": "agent", "password": PASSWORD}
    )
    assert locked.status_code == 429
    unknown = client.post(
        "/api/v1/auth/staff/session", json={"username": "nobody", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    with engine.begin() as conn:
        assert (
            add_user(conn, "agent", PASSWORD, "agent", datetime.now(UTC))[1][0].code == "conflict"
        )
        assert (
            add_user(conn, "short", "short", "agent", datetime.now(UTC))[1][0].field == "password"
        )
        assert add_user(conn, "r", PASSWORD, "king", datetime.now(UTC))[1][0].field == "role"
    assert t.loans is not None
