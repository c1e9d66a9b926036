"""Sign-in by phone when one number is on file for two borrowers: refused, not guessed, and
the phone told why by SMS (at most once an hour). The service answers the shared number as it
answers any number, so the API and the pages answer it as they answer a number with one
borrower, and nothing in the answer says who borrows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from arrears.api.app import ApiConfig
from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.settings import default_settings
from arrears.services.signin import send_code, sign_in
from arrears.store import tables
from arrears.store.api_tables import login_codes
from arrears.store.outbox_tables import outbox
from arrears.store.profile_tables import borrower_profiles
from arrears.web.site import create_site
from factories import import_rows, loan_row, succeeded

SECRET = b"s" * 32
SHARED_PHONE = "13800138000"
OWN_PHONE = "13900000003"  # B-L3's alone
UNKNOWN_PHONE = "13700000000"
# Six digits on their own (not \b: a Chinese character is a word character too).
SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# What the API says to any number it is asked to send a code to (routes_auth.CodeOut).
CODE_ANSWER = {"sent": True, "detail": "If the number is ours, a code is on its way by SMS."}


def two_borrowers_one_number(engine: Engine, tmp_path: Path) -> None:
    import_rows(
        engine,
        tmp_path,
        [loan_row("L1", phone=SHARED_PHONE), loan_row("L2", phone=SHARED_PHONE),
         loan_row("L3", phone=OWN_PHONE)],
    )  # fmt: skip


def shared_sms(engine: Engine) -> list[tuple[str, str, str, str, str]]:
    """(recipient, channel, template, language, body) of every shared-number SMS, oldest first."""
    with engine.connect() as conn:
        q = select(
            outbox.c.recipient,
            outbox.c.channel,
            outbox.c.template,
            outbox.c.language,
            outbox.c.body,
        ).where(outbox.c.template == "signin_shared_number")
        rows = conn.execute(q.order_by(outbox.c.created_at)).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def codes_of(engine: Engine, *borrowers: str) -> int:
    with engine.connect() as conn:
        q = select(func.count()).select_from(login_codes)
        return int(conn.execute(q.where(login_codes.c.borrower_id.in_(borrowers))).scalar_one())


def code_in(engine: Engine, borrower_id: str) -> str:
    """The code in the latest sign-in SMS to ``borrower_id``."""
    with engine.connect() as conn:
        q = select(outbox.c.body).where(
            outbox.c.template == "signin_code", outbox.c.borrower_id == borrower_id
        )
        body = conn.execute(q.order_by(outbox.c.created_at.desc())).scalars().first()
    found = SIX_DIGITS.search(body or "")
    assert found is not None, body
    return found.group()


def test_a_shared_number_is_answered_as_an_unknown_one_and_told_why_by_sms(
    engine: Engine, tmp_path: Path
) -> None:
    two_borrowers_one_number(engine, tmp_path)
    lender = default_settings().lender
    with engine.begin() as conn:
        first = send_code(conn, SHARED_PHONE, NOW, SECRET, lender)
        again = send_code(conn, SHARED_PHONE, NOW + timedelta(minutes=5), SECRET, lender)
    # No code sent and no problem: what a number we do not know is answered.
    assert first == again == (None, ())
    assert codes_of(engine, "B-L1", "B-L2") == 0
    [(recipient, channel, template, language, body)] = shared_sms(engine)  # one in the hour
    assert (recipient, channel, template, language) == (
        SHARED_PHONE,
        "sms",
        "signin_shared_number",
        "zh-CN",
    )
    assert lender.hotline in body and "多位客户" in body
    assert not SIX_DIGITS.search(body)  # no code in it
    # The next hour, asking again tells the phone again (once).
    with engine.begin() as conn:
        later = send_code(conn, SHARED_PHONE, NOW + timedelta(minutes=35), SECRET, lender)
        send_code(conn, SHARED_PHONE, NOW + timedelta(minutes=50), SECRET, lender)
    assert later == (None, ())
    assert len(shared_sms(engine)) == 2
    assert codes_of(engine, "B-L1", "B-L2") == 0


def test_a_code_from_before_the_number_was_shared_opens_no_account(
    engine: Engine, tmp_path: Path
) -> None:
    import_rows(
        engine,
        tmp_path,
        [loan_row("L1", phone=SHARED_PHONE), loan_row("L2", phone="13900000002")],
    )
    lender = default_settings().lender
    with engine.begin() as conn:
        succeeded(send_code(conn, SHARED_PHONE, NOW, SECRET, lender))  # B-L1's alone, then
    code = code_in(engine, "B-L1")
    b = tables.borrowers.c
    with engine.begin() as conn:  # B-L2's number is now recorded as B-L1's too
        conn.execute(
            update(tables.borrowers).where(b.borrower_id == "B-L2").values(phone=SHARED_PHONE)
        )
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with engine.begin() as conn:
        for given in (code, wrong, "000000"):
            session, problems = sign_in(
                conn, SHARED_PHONE, given, NOW + timedelta(minutes=1), SECRET
            )
            assert session is None
            assert [(p.field, p.code) for p in problems] == [("code", "unauthorized")]
            assert "more than one" not in str(problems)
    # The same code, the number B-L1's alone again, does open B-L1's account: it was refused
    # for the sharing, not for itself.
    with engine.begin() as conn:
        conn.execute(
            update(tables.borrowers).where(b.borrower_id == "B-L2").values(phone="13900000002")
        )
        session = succeeded(sign_in(conn, SHARED_PHONE, code, NOW + timedelta(minutes=2), SECRET))
    assert session.subject == "B-L1"


def test_the_english_text_and_an_unshared_number_still_signs_in(
    engine: Engine, tmp_path: Path
) -> None:
    two_borrowers_one_number(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(borrower_profiles).values(language="en"))
        lender = default_settings().lender
        send_code(conn, SHARED_PHONE, NOW, SECRET, lender)
        sent, problems = send_code(conn, OWN_PHONE, NOW, SECRET, lender)
    assert problems == () and sent is not None and sent.borrower_id == "B-L3"
    [(_, _, _, language, body)] = shared_sms(engine)
    assert language == "en"
    assert "more than one of our customers" in body and "400-000-0000" in body


def _client(engine: Engine) -> TestClient:
    settings = default_settings()
    config = ApiConfig(engine, SECRET, settings.lender, CloseConfig(default_policy_set()))
    return TestClient(create_site(config))


def test_the_api_answers_a_shared_number_as_a_number_with_one_borrower(
    engine: Engine, tmp_path: Path
) -> None:
    two_borrowers_one_number(engine, tmp_path)
    client = _client(engine)
    shared = client.post("/api/v1/auth/borrower/code", json={"phone": SHARED_PHONE})
    own = client.post("/api/v1/auth/borrower/code", json={"phone": OWN_PHONE})
    unknown = client.post("/api/v1/auth/borrower/code", json={"phone": UNKNOWN_PHONE})
    for answer in (shared, own, unknown):
        assert (answer.status_code, answer.json()) == (202, CODE_ANSWER)
    # The API's transaction committed the SMS; no code was issued to either borrower.
    assert [(r, t) for r, _, t, _, _ in shared_sms(engine)] == [
        (SHARED_PHONE, "signin_shared_number")
    ]
    assert codes_of(engine, "B-L1", "B-L2") == 0 and codes_of(engine, "B-L3") == 1
    # Signing in with any code is refused as a wrong code at a number with one borrower.
    wrong_at_own = client.post(
        "/api/v1/auth/borrower/session", json={"phone": OWN_PHONE, "code": "999999"}
    )
    assert wrong_at_own.status_code == 401
    for given in ("123456", "000000", "999999"):
        refused = client.post(
            "/api/v1/auth/borrower/session", json={"phone": SHARED_PHONE, "code": given}
        )
        assert refused.status_code == 401
        assert refused.json() == wrong_at_own.json()
        assert "more than one" not in refused.text


def _without(html: str, phone: str) -> str:
    return html.replace(phone, "PHONE")


def test_the_sign_in_page_answers_a_shared_number_as_a_number_with_one_borrower(
    engine: Engine, tmp_path: Path
) -> None:
    two_borrowers_one_number(engine, tmp_path)
    client = _client(engine)
    shared = client.post("/signin/code", data={"phone": SHARED_PHONE})
    own = client.post("/signin/code", data={"phone": OWN_PHONE})
    assert shared.status_code == own.status_code == 200
    assert 'name="code"' in shared.text  # on to the step that asks for the code
    assert _without(shared.text, SHARED_PHONE) == _without(own.text, OWN_PHONE)
    assert "more than one" not in shared.text and "多位客户" not in shared.text
    assert [(r, t) for r, _, t, _, _ in shared_sms(engine)] == [
        (SHARED_PHONE, "signin_shared_number")
    ]
    assert codes_of(engine, "B-L1", "B-L2") == 0 and codes_of(engine, "B-L3") == 1
    # Any code at the shared number is refused as a wrong code at a number with one borrower.
    wrong_at_own = client.post("/signin", data={"phone": OWN_PHONE, "code": "999999"})
    assert wrong_at_own.status_code == 401
    for given in ("123456", "000000"):
        refused = client.post("/signin", data={"phone": SHARED_PHONE, "code": given})
        assert refused.status_code == 401
        assert _without(refused.text, SHARED_PHONE) == _without(wrong_at_own.text, OWN_PHONE)
        assert "set-cookie" not in refused.headers
