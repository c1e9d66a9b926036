"""What the API's routes do, beyond who may call them: money applied once per key (also when
ten copies arrive at once, over real HTTP), ids changed in paths and bodies refused as not
found, the borrower's message reaching the agents' queue, complaints and notes kept to their
owner, a signed evidence pack that checks offline, and an agent held to the calls they hold."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from api.serving import serving
from api.test_borrower_api import sign_in
from arrears.api.app import ApiConfig, create_app
from arrears.core.evidence.pack import check_pack
from arrears.services.close.day import CloseConfig
from arrears.services.collection.queue import next_item
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.staff import add_user
from arrears.store import tables as t
from arrears.store.api_tables import idempotency_keys
from arrears.store.case_tables import queue_items
from contact.test_cases_support import overdue_loans
from factories import succeeded

PASSWORD = "a long enough password"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def tomorrow_10am() -> datetime:
    """A callback time always ahead and inside the hours a lender may call."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=1)
    return datetime.combine(day, time(10), SHANGHAI)


@dataclass
class World:
    client: TestClient
    app: Any
    key: Ed25519PrivateKey
    engine: Engine

    def staff(self, username: str) -> dict[str, str]:
        r = self.client.post(
            "/api/v1/auth/staff/session", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(t.borrowers)
            .where(t.borrowers.c.borrower_id == "B-L2")
            .values(phone="13900000002")
        )
        for name, role in [
            ("sup", "supervisor"),
            ("agent1", "agent"),
            ("agent2", "agent"),
            ("fc", "field_collector"),
        ]:
            succeeded(add_user(conn, name, PASSWORD, role, now))
    key = Ed25519PrivateKey.generate()
    config = ApiConfig(
        engine,
        b"f" * 32,
        default_settings().lender,
        CloseConfig(default_policy_set()),
        signing_key=key,
    )
    app = create_app(config)
    return World(TestClient(app), app, key, engine)


def _events(engine: Engine, loan_id: str) -> int:
    with engine.connect() as conn:
        q = select(func.count()).select_from(t.loan_events)
        return int(conn.execute(q.where(t.loan_events.c.loan_id == loan_id)).scalar_one())


def _outstanding(engine: Engine, loan_id: str) -> int:
    with engine.connect() as conn:
        s = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == loan_id)).one()
    return int(s.outstanding_principal + s.outstanding_interest + s.outstanding_penalty)


def test_a_payment_applies_once_per_key_and_bad_ones_change_nothing(world: World) -> None:
    sup = world.staff("sup")
    before_events, before = _events(world.engine, "L1"), _outstanding(world.engine, "L1")
    body = {"amount": "120.50", "on": "2024-03-01", "ref": "BANK-1"}
    first = world.client.post(
        "/api/v1/loans/L1/payments", json=body, headers={**sup, "Idempotency-Key": "k1"}
    )
    assert first.status_code == 200, first.text
    again = world.client.post(
        "/api/v1/loans/L1/payments", json=body, headers={**sup, "Idempotency-Key": "k1"}
    )
    assert again.json() == first.json() and first.json()["already_applied"] is False
    assert _events(world.engine, "L1") == before_events + 1
    assert _outstanding(world.engine, "L1") == before - 12050  # the waterfall moves 120.50 yuan
    other = world.client.post(
        "/api/v1/loans/L1/payments",
        json={**body, "amount": "1.00"},
        headers={**sup, "Idempotency-Key": "k1"},
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    for bad, field in [
        ({**body, "ref": "B2", "amount": "12.345"}, "amount"),
        ({**body, "ref": "B3", "amount": "-5"}, "amount"),
        ({**body, "ref": "B4", "on": "2023-01-01"}, "on"),
        ({**body, "ref": "B5", "on": "not a date"}, "on"),
    ]:
        r = world.client.post(
            "/api/v1/loans/L1/payments", json=bad, headers={**sup, "Idempotency-Key": bad["ref"]}
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert field in {e["field"].split(".")[-1] for e in r.json()["errors"]}, r.text
    missing = world.client.post(
        "/api/v1/loans/NOPE/payments", json=body, headers={**sup, "Idempotency-Key": "k9"}
    )
    assert missing.status_code == 404
    no_key = world.client.post("/api/v1/loans/L1/payments", json=body, headers=sup)
    assert no_key.status_code == 400
    assert _events(world.engine, "L1") == before_events + 1
    with world.engine.connect() as conn:  # refused requests keep no answer: the key is free
        kept = conn.execute(select(idempotency_keys.c.key)).scalars().all()
    assert sorted(kept) == ["k1"]


def test_ten_copies_of_one_payment_at_once_apply_once(world: World) -> None:
    sup = world.staff("sup")
    before_events, before = _events(world.engine, "L1"), _outstanding(world.engine, "L1")
    body = {"amount": "50.00", "on": "2024-03-01", "ref": "BANK-CONCURRENT"}
    headers = {**sup, "Idempotency-Key": "same-key"}
    with serving(world.app) as url, httpx.Client(base_url=url, timeout=60) as http:

        def send(_: int) -> httpx.Response:
            return http.post("/api/v1/loans/L1/payments", json=body, headers=headers)

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(send, range(10)))
    assert [r.status_code for r in answers] == [200] * 10, [r.text for r in answers]
    assert len({json.dumps(r.json(), sort_keys=True) for r in answers}) == 1
    assert _events(world.engine, "L1") == before_events + 1
    assert _outstanding(world.engine, "L1") == before - 5000


def test_changing_ids_reaches_nothing_of_another_borrower(world: World) -> None:
    me = sign_in(world.client, world.engine)  # B-L1, who owns L1 only
    c = world.client
    assert c.get("/api/v1/loans/L2", headers=me).status_code == 404
    for path, body in [
        ("/api/v1/me/plans/preview", {"loan_id": "L2", "months": 3}),
        ("/api/v1/me/plans", {"loan_id": "L2", "months": 3, "reason": "illness"}),
        ("/api/v1/me/messages", {"text": "hello", "loan_id": "L2"}),
        ("/api/v1/me/complaints", {"against": "amount", "text": "wrong", "loan_id": "L2"}),
    ]:
        r = c.post(path, json=body, headers={**me, "Idempotency-Key": path})
        assert r.status_code == 404, (path, r.text)
    # Staff routes are not a borrower's to know of, whatever the id.
    for path in ("/api/v1/borrowers/B-L2/forecast", "/api/v1/queue", "/api/v1/complaints"):
        assert c.get(path, headers=me).status_code == 404
    r = c.post(
        "/api/v1/loans/L1/payments",
        json={"amount": "1.00", "on": "2024-03-01", "ref": "X"},
        headers={**me, "Idempotency-Key": "x"},
    )
    assert r.status_code == 404


def test_my_message_reaches_the_queue_and_my_complaints_and_notes_stay_mine(
    world: World,
) -> None:
    c = world.client
    me = sign_in(c, world.engine)
    other = sign_in(c, world.engine, "13900000002")
    r = c.post(
        "/api/v1/me/messages",
        json={"text": "I lost my job; please call me", "callback_at": tomorrow_10am().isoformat()},
        headers={**me, "Idempotency-Key": "m1"},
    )
    assert r.status_code == 201, r.text
    queue = c.get("/api/v1/queue", headers=world.staff("sup")).json()
    assert queue[0]["borrower_id"] == "B-L1" and queue[0]["step"] == "callback"  # on top
    assert "****" in queue[0]["number"]  # a supervisor does not dial: masked
    filed = c.post(
        "/api/v1/me/complaints",
        json={"against": "contact", "text": "they called me at 23:00", "loan_id": "L1"},
        headers={**me, "Idempotency-Key": "c1"},
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["due_on"] > "2024-03-01"
    assert [x["complaint_id"] for x in c.get("/api/v1/me/complaints", headers=me).json()] == [
        filed.json()["complaint_id"]
    ]
    assert c.get("/api/v1/me/complaints", headers=other).json() == []
    note = c.post(
        "/api/v1/me/records",
        json={
            "happened_at": "2024-03-02T09:00:00+08:00",
            "channel": "visit",
            "caller_name": "Li",
            "said": "asked me to pay into his own account",
        },
        headers={**me, "Idempotency-Key": "n1"},
    )
    assert note.status_code == 201, note.text
    assert len(c.get("/api/v1/me/records", headers=me).json()) == 1
    assert c.get("/api/v1/me/records", headers=other).json() == []
    bad = c.post(
        "/api/v1/me/records",
        json={"happened_at": "2024-03-02T09:00:00", "channel": "visit", "said": "x"},
        headers={**me, "Idempotency-Key": "n2"},
    )
    assert bad.status_code == 422, bad.text  # a time without its offset is refused


def test_my_evidence_pack_checks_offline_and_a_tampered_one_fails(world: World) -> None:
    c = world.client
    me = sign_in(c, world.engine)
    c.post("/api/v1/me/messages", json={"text": "call me"}, headers={**me, "Idempotency-Key": "m"})
    pack = c.get("/api/v1/me/evidence", headers=me).json()
    text = json.dumps(pack, ensure_ascii=False)
    checked = check_pack(text, world.key.public_key())
    assert checked.problems == () and checked.borrower_id == "B-L1" and checked.records > 0
    pack["loans"][0]["loan_id"] = "L9"
    assert check_pack(json.dumps(pack), world.key.public_key()).problems != ()
    other = Ed25519PrivateKey.generate().public_key()
    assert check_pack(text, other).problems != ()


def test_a_number_not_the_lenders_gets_the_advice(world: World) -> None:
    me = sign_in(world.client, world.engine)
    r = world.client.post("/api/v1/me/verify-channel", json={"phone": "17000000000"}, headers=me)
    assert r.status_code == 200 and r.json()["official"] is False and r.json()["advice"]
    both = world.client.post(
        "/api/v1/me/verify-channel", json={"phone": "17000000000", "account": "1"}, headers=me
    )
    assert both.status_code == 422


def test_an_agent_records_only_the_calls_they_hold(world: World) -> None:
    c = world.client
    me = sign_in(c, world.engine)
    c.post(
        "/api/v1/me/messages",
        json={"callback_at": tomorrow_10am().isoformat()},
        headers={**me, "Idempotency-Key": "cb"},
    )
    with world.engine.begin() as conn:  # agent1 takes the call when it is due
        taken = next_item(conn, "agent1", tomorrow_10am() + timedelta(minutes=1))
    assert taken is not None
    held = {"item_id": taken.item_id}
    mine = c.get("/api/v1/queue", headers=world.staff("agent1")).json()
    assert [i["item_id"] for i in mine] == [taken.item_id] and "****" not in mine[0]["number"]
    agent2 = world.staff("agent2")
    theirs = c.get("/api/v1/queue", headers=agent2).json()
    assert held["item_id"] not in [i["item_id"] for i in theirs]
    body = {"outcome": "no_answer", "at": (tomorrow_10am() + timedelta(minutes=5)).isoformat()}
    path = f"/api/v1/queue/{held['item_id']}/outcome"
    assert c.post(path, json=body, headers={**agent2, "Idempotency-Key": "o"}).status_code == 404
    done = c.post(path, json=body, headers={**world.staff("agent1"), "Idempotency-Key": "o"})
    assert done.status_code == 200 and done.json()["outcome"] == "no_answer", done.text
    with world.engine.connect() as conn:
        row = conn.execute(
            select(queue_items).where(queue_items.c.item_id == held["item_id"])
        ).one()
    assert row.outcome == "no_answer" and row.claimed_by == "agent1"
    promise = c.post(
        path.replace(str(held["item_id"]), "999999"),
        json={"outcome": "promise_to_pay"},
        headers={**world.staff("sup"), "Idempotency-Key": "p"},
    )
    assert promise.status_code == 404


def test_what_the_fuzzer_found_is_refused_by_name(world: World) -> None:
    """A NUL character (PostgreSQL refuses it) and an id past the 32-bit column were server
    errors on PostgreSQL until schemathesis sent them."""
    c = world.client
    r = c.post("/api/v1/auth/borrower/code", json={"phone": "1380013\u00008000"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "phone", r.text
    sup = world.staff("sup")
    big = c.post(
        "/api/v1/queue/2147483648/outcome",
        json={"outcome": "no_answer"},
        headers={**sup, "Idempotency-Key": "big"},
    )
    assert big.status_code == 422 and big.json()["errors"][0]["field"] == "item_id", big.text
    nul_path = c.get("/api/v1/plans", params={"status": "pending\u0000"}, headers=sup)
    assert nul_path.status_code == 422
    extra = c.post("/api/v1/auth/borrower/code", json={"phone": "13800138000", "admin": True})
    assert extra.status_code == 422 and extra.json()["errors"][0]["field"] == "admin", extra.text


def test_numbers_shown_in_clear_are_on_the_audit_log(world: World) -> None:
    c = world.client
    me = sign_in(c, world.engine)
    c.post(
        "/api/v1/me/messages",
        json={"callback_at": tomorrow_10am().isoformat()},
        headers={**me, "Idempotency-Key": "cb"},
    )
    with world.engine.begin() as conn:
        taken = next_item(conn, "agent1", tomorrow_10am() + timedelta(minutes=1))
    assert taken is not None
    sup = c.get("/api/v1/queue", headers=world.staff("sup")).json()
    assert sup and all(i["number"] == "138****8000" for i in sup)
    with world.engine.begin() as conn:
        succeeded(add_user(conn, "audit", PASSWORD, "compliance", datetime.now(UTC)))
    compliance = world.staff("audit")
    assert c.get("/api/v1/audit/pii-reads", headers=compliance).json() == []  # masked: no line
    mine = c.get("/api/v1/queue", headers=world.staff("agent1")).json()
    assert mine[0]["number"] == "13800138000"
    log = c.get("/api/v1/audit/pii-reads", headers=compliance).json()
    assert [(x["username"], x["role"], x["route"], x["borrower_id"], x["fields"]) for x in log] == [
        ("agent1", "agent", "GET /queue", "B-L1", ["number"])
    ]
    assert c.get("/api/v1/audit/pii-reads", headers=world.staff("agent1")).status_code == 403
    assert c.get("/api/v1/audit/pii-reads", headers=world.staff("sup")).status_code == 403


def test_masks_leave_the_region_and_hide_the_rest() -> None:
    from arrears.core.people.masking import mask_address, mask_phone

    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("+86 138 0013 8000") == "138****8000"  # the country code is not shown
    assert mask_phone("+1 212 555 0134") == "212****0134"
    assert mask_phone("+44 7700 900123") == "770****0123"
    assert mask_phone("12345") == "****"
    address = "上海市浦东新区世纪大道100号5楼"
    masked = mask_address(address)
    assert masked.startswith("上海市") and masked.endswith("****")  # the city stays
    assert "世纪大道" not in masked and "100" not in masked  # the street and the door do not
    assert mask_address("") == ""
