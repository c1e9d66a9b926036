"""Sign-in by phone when one number is on file for two borrowers: refused, not guessed, and
the phone told why by SMS (at most once an hour)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from arrears.api.app import ApiConfig, create_app
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.signin import SHARED_NUMBER, send_code, sign_in
from arrears.store.api_tables import login_codes
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles
from factories import import_rows, loan_row

SECRET = b"s" * 32
SHARED_PHONE = "13800138000"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def two_borrowers_one_number(engine: Engine, tmp_path: Path) -> None:
    import_rows(
        engine,
        tmp_path,
        [loan_row("L1", phone=SHARED_PHONE), loan_row("L2", phone=SHARED_PHONE),
         loan_row("L3", phone="13900000003")],
    )  # fmt: skip


def test_a_shared_number_signs_no_one_in_and_is_told_why(engine: Engine, tmp_path: Path) -> None:
    two_borrowers_one_number(engine, tmp_path)
    lender = default_settings().lender
    with engine.begin() as conn:
        sent, problems = send_code(conn, SHARED_PHONE, NOW, SECRET, lender)
        again, _ = send_code(conn, SHARED_PHONE, NOW + timedelta(minutes=5), SECRET, lender)
    assert sent is None and again is None
    assert problems == (SHARED_NUMBER,) and "more than one borrower" in problems[0].reason
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(login_codes)).scalar_one() == 0
        [msg] = conn.execute(select(outbox)).all()  # asked twice in one hour: one SMS
    assert (msg.recipient, msg.channel, msg.template) == (
        SHARED_PHONE,
        "sms",
        "signin_shared_number",
    )
    assert msg.language == "zh-CN" and lender.hotline in msg.body
    assert "多位客户" in msg.body and not re.search(r"\b\d{6}\b", msg.body)  # no code in it
    # A code from before the number was shared opens neither account.
    with engine.begin() as conn:
        session, problems = sign_in(conn, SHARED_PHONE, "123456", NOW, SECRET)
    assert session is None and problems == (SHARED_NUMBER,)


def test_the_english_text_and_an_unshared_number_still_signs_in(
    engine: Engine, tmp_path: Path
) -> None:
    two_borrowers_one_number(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(borrower_profiles).values(language="en"))
        lender = default_settings().lender
        send_code(conn, SHARED_PHONE, NOW, SECRET, lender)
        sent, problems = send_code(conn, "13900000003", NOW, SECRET, lender)
    assert problems == () and sent is not None and sent.borrower_id == "B-L3"
    with engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body).where(outbox.c.template == "signin_shared_number")
        ).scalar_one()
    assert "more than one of our customers" in body and "400-000-0000" in body


def test_the_api_answers_a_shared_number_as_any_number(engine: Engine, tmp_path: Path) -> None:
    two_borrowers_one_number(engine, tmp_path)
    settings = default_settings()
    config = ApiConfig(engine, SECRET, settings.lender, CloseConfig(default_policy_set()))
    client = TestClient(create_app(config))
    shared = client.post("/api/v1/auth/borrower/code", json={"phone": SHARED_PHONE})
    unknown = client.post("/api/v1/auth/borrower/code", json={"phone": "13700000000"})
    assert shared.status_code == unknown.status_code == 202
    assert shared.json() == unknown.json()
    refused = client.post(
        "/api/v1/auth/borrower/session", json={"phone": SHARED_PHONE, "code": "123456"}
    )
    assert refused.status_code == 401 and "more than one" not in refused.text
    with engine.connect() as conn:  # the API's transaction committed the SMS
        assert conn.execute(
            select(func.count()).select_from(outbox).where(
                outbox.c.template == "signin_shared_number"
            )
        ).scalar_one() == 1  # fmt: skip
