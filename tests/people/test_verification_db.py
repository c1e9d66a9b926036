"""Verifying a collector in the database (SQLite and PostgreSQL): one-time codes, guessing
limits, signed credentials checked against the registry, official channels, incidents."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, func, select, update

from arrears.core.people import codes
from arrears.core.people.advice import not_official, not_verified
from arrears.core.people.channels import official_channels
from arrears.core.people.collectors import Training
from arrears.core.people.guessing import GuessLimits
from arrears.services import evidence as log
from arrears.services.collection.people import (
    add_training,
    deactivate_agency,
    deactivate_collector,
    list_collectors,
    register_collector,
)
from arrears.services.collection.verification import (
    CodeVerdict,
    IssuedCode,
    issue_code,
    verify_code,
)
from arrears.services.collection.verification_channels import check_channel
from arrears.services.collection.verification_credentials import issue_credential, verify_credential
from arrears.services.collection.visits import (
    approve_visit,
    assign_visit,
    request_visit,
)
from arrears.store.case_tables import collectors
from arrears.store.evidence_tables import evidence_records
from arrears.store.people_tables import (
    agencies,
    code_attempts,
    collector_codes,
    impostor_incidents,
)
from arrears.store.profile_tables import borrower_profiles
from contact.test_cases_support import overdue_loans, sh
from factories import succeeded

SECRET = b"test-secret-for-visit-codes-0123456789"
VISIT = sh("2024-03-20 10:30")  # inside the assigned window below
LOANS = ["L1", "L2", "L3", "L4"]


def _random(seed: int = 7) -> Callable[[int], bytes]:
    return random.Random(seed).randbytes


@pytest.fixture
def people(engine: Engine, tmp_path: Path) -> dict[str, str]:
    """Four overdue borrowers B-L1..B-L4 (B-L2 reads English); three collectors trained
    2023-06-01: A and B of Agency A, C the lender's own. A and B are assigned a visit to
    B-L1 on 2024-03-20 10:00-12:00."""
    overdue_loans(
        engine,
        tmp_path,
        LOANS,
        profiles={"B-L1": {"address": "上海市某路1号"}, "B-L2": {"language": "en"}},
    )
    ids: dict[str, str] = {}
    with engine.begin() as conn:
        for who, employee_no, agency in (
            ("A", "EMP-0001", "Agency A"),
            ("B", "EMP-0002", "Agency A"),
            ("C", "EMP-0003", None),
        ):
            cid, problems = register_collector(conn, f"Collector {who}", employee_no, agency)
            assert problems == () and cid is not None
            ids[who] = cid
            assert succeeded(
                add_training(conn, Training(cid, date(2023, 6, 1), "合规催收"), VISIT.date())
            )
        v = succeeded(
            request_visit(conn, "visit-1", "L1", "agent7", sh("2024-03-10 09:00"), "unreachable")
        )
        succeeded(approve_visit(conn, v.visit_id, "sup", sh("2024-03-11 09:00")))
        team = (ids["A"], ids["B"])
        succeeded(
            assign_visit(
                conn,
                v.visit_id,
                team,
                sh("2024-03-20 10:00"),
                sh("2024-03-20 12:00"),
                sh("2024-03-12"),
            )
        )
    return ids


def _issue(engine: Engine, collector_id: str, loan_id: str = "L1", **kw: Any) -> IssuedCode:
    at = kw.pop("at", VISIT - timedelta(minutes=10))
    with engine.begin() as conn:
        issued, problems = issue_code(conn, collector_id, loan_id, at, SECRET, _random(), **kw)
    assert problems == () and issued is not None, problems
    return issued


def _verify(
    engine: Engine, code: str, borrower: str, at: datetime = VISIT, **kw: Any
) -> CodeVerdict:
    with engine.begin() as conn:
        verdict, problems = verify_code(conn, code, borrower, at, SECRET, **kw)
    assert problems == () and verdict is not None, problems
    return verdict


def _incidents(engine: Engine) -> list[tuple[str | None, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                impostor_incidents.c.borrower_id,
                impostor_incidents.c.source,
                impostor_incidents.c.reason,
            ).order_by(impostor_incidents.c.incident_id)
        )
        return [(r.borrower_id, r.source, r.reason) for r in rows]


def _kinds(conn: Connection, borrower: str) -> list[str]:
    return [r.kind for r in log.load_chain(conn, borrower)]


def _snapshot(engine: Engine) -> dict[str, int]:
    tables = (collector_codes, code_attempts, impostor_incidents, evidence_records, collectors)
    with engine.connect() as conn:
        return {
            tbl.name: conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for tbl in tables
        }


def test_registration_numbers_collectors_and_registers_agencies(
    engine: Engine, people: dict[str, str]
) -> None:
    assert people == {"A": "C000001", "B": "C000002", "C": "C000003"}
    with engine.begin() as conn:
        clash, problems = register_collector(conn, "Someone", "EMP-0001", None)
        assert clash is None and [(p.field, p.code) for p in problems] == [
            ("credential_no", "conflict")
        ]
        blank, problems = register_collector(conn, " ", "EMP-9", None)
        assert blank is None and [(p.field, p.code) for p in problems] == [("name", "invalid")]
        assert conn.execute(select(agencies.c.name, agencies.c.status)).all() == [
            ("Agency A", "active")
        ]
        listed = {c["collector_id"]: c["status"] for c in list_collectors(conn)}
    assert listed == {"C000001": "active", "C000002": "active", "C000003": "active"}


def test_a_valid_code_verifies_once(engine: Engine, people: dict[str, str]) -> None:
    issued = _issue(engine, people["A"])
    assert len(issued.code) == 11 and issued.code[5] == "-"
    assert issued.valid_until == VISIT + timedelta(minutes=50)
    with engine.connect() as conn:
        stored = conn.execute(select(collector_codes.c.code_hmac)).scalar_one()
    # Only the keyed hash is kept.
    assert stored == codes.digest(SECRET, issued.code.replace("-", ""))
    assert issued.code.replace("-", "") not in stored
    verdict = _verify(engine, issued.code.lower(), "B-L1")
    assert verdict.verified and verdict.assigned and verdict.valid_until == issued.valid_until
    assert verdict.collector is not None
    card = verdict.collector
    assert (card.name, card.employee_no, card.agency, card.status) == (
        "Collector A",
        "****0001",
        "Agency A",
        "active",
    )
    assert card.last_trained_on == date(2023, 6, 1)
    again = _verify(engine, issued.code, "B-L1", VISIT + timedelta(minutes=1))
    assert not again.verified and again.advice == not_verified("zh-CN")
    assert _incidents(engine) == [("B-L1", "code", codes.USED)]
    with engine.connect() as conn:
        kinds = _kinds(conn, "B-L1")
        assert log.verify_db(conn) == []
    assert kinds[-3:] == [
        "collector.code_issued",
        "collector.verified",
        "collector.impostor_suspected",
    ]


def test_a_collector_not_on_the_visit_is_verified_but_not_assigned(
    engine: Engine, people: dict[str, str]
) -> None:
    issued = _issue(engine, people["C"])
    verdict = _verify(engine, issued.code, "B-L1")
    assert verdict.verified and not verdict.assigned
    assert verdict.collector is not None and verdict.collector.agency is None


def test_an_expired_code_is_refused(engine: Engine, people: dict[str, str]) -> None:
    issued = _issue(engine, people["A"], valid_minutes=15)
    late = _verify(engine, issued.code, "B-L1", issued.valid_until)
    assert not late.verified and late.collector is None
    assert _incidents(engine) == [("B-L1", "code", codes.EXPIRED)]


def test_another_borrowers_code_is_refused_and_stays_good_for_its_borrower(
    engine: Engine, people: dict[str, str]
) -> None:
    issued = _issue(engine, people["A"], "L1")
    wrong = _verify(engine, issued.code, "B-L2")
    assert not wrong.verified and wrong.advice == not_verified("en")
    assert _incidents(engine) == [("B-L2", "code", codes.OTHER_BORROWER)]
    right = _verify(engine, issued.code, "B-L1", VISIT + timedelta(minutes=1))
    assert right.verified and right.collector is not None
    assert right.collector.collector_id == people["A"]


def test_a_deactivated_collectors_codes_stop_verifying(
    engine: Engine, people: dict[str, str]
) -> None:
    issued = _issue(engine, people["A"])
    with engine.begin() as conn:
        assert deactivate_collector(conn, people["A"], VISIT - timedelta(minutes=5)) == (True, ())
        assert deactivate_collector(conn, people["A"], VISIT) == (False, ())
        _, problems = deactivate_collector(conn, "C999999", VISIT)
        assert [p.code for p in problems] == ["not_found"]
        registered = conn.execute(
            select(collectors.c.registered).where(collectors.c.collector_id == people["A"])
        ).scalar_one()
    assert registered is False  # the compliance gate no longer lets them visit
    assert not _verify(engine, issued.code, "B-L1").verified
    assert _incidents(engine) == [("B-L1", "code", codes.DEACTIVATED)]
    with engine.begin() as conn:
        refused, problems = issue_code(conn, people["A"], "L1", VISIT, SECRET, _random())
    assert refused is None and [(p.field, p.code) for p in problems] == [
        ("collector_id", "conflict")
    ]


def test_an_agency_whose_contract_ended_stops_its_collectors_codes(
    engine: Engine, people: dict[str, str]
) -> None:
    issued_b = _issue(engine, people["B"])
    issued_c = _issue(engine, people["C"], "L2")
    with engine.begin() as conn:
        assert deactivate_agency(conn, "Agency A") == (True, ())
        assert [p.code for p in deactivate_agency(conn, "Agency Z")[1]] == ["not_found"]
    assert not _verify(engine, issued_b.code, "B-L1").verified
    assert _verify(engine, issued_c.code, "B-L2").verified  # the lender's own staff


def test_guessing_locks_the_borrower_then_the_right_code_works_again(
    engine: Engine, people: dict[str, str]
) -> None:
    issued = _issue(engine, people["A"], valid_minutes=24 * 60)
    wrong = [codes.generate(_random(seed)) for seed in range(100, 105)]
    assert issued.code.replace("-", "") not in wrong
    for i, guess in enumerate(wrong):
        assert not _verify(engine, guess, "B-L1", VISIT + timedelta(seconds=i)).verified
    last_failure = VISIT + timedelta(seconds=4)
    locked = _verify(engine, issued.code, "B-L1", VISIT + timedelta(minutes=1))
    assert not locked.verified and locked.locked_until == last_failure + timedelta(hours=1)
    assert locked.advice == not_verified("zh-CN", locked=True)
    # Hammering while locked neither extends the lock nor adds incidents.
    for minute in range(2, 10):
        _verify(engine, issued.code, "B-L1", VISIT + timedelta(minutes=minute))
    assert len(_incidents(engine)) == 5
    other = _issue(engine, people["C"], "L3")
    assert _verify(engine, other.code, "B-L3", VISIT + timedelta(minutes=2)).verified
    after = _verify(engine, issued.code, "B-L1", last_failure + timedelta(hours=1))
    assert after.verified  # the code was never used: the lock kept it safe
    with engine.connect() as conn:
        outcomes = conn.execute(
            select(code_attempts.c.outcome, func.count())
            .where(code_attempts.c.borrower_id == "B-L1")
            .group_by(code_attempts.c.outcome)
        ).all()
    assert dict(outcomes) == {"refused": 5, "locked": 9, "verified": 1}


def test_the_global_budget_stops_spraying_many_borrowers(
    engine: Engine, people: dict[str, str]
) -> None:
    limits = GuessLimits(global_failures=3, global_window=timedelta(minutes=15))
    issued = _issue(engine, people["C"], "L4", valid_minutes=60)
    for i, borrower in enumerate(("B-L1", "B-L2", "B-L3")):
        guess = codes.generate(_random(200 + i))
        verdict = _verify(engine, guess, borrower, VISIT + timedelta(seconds=i), limits=limits)
        assert not verdict.verified and verdict.locked_until is None
    # One failure each: no borrower is locked, but the code space is closed for everyone.
    busy = _verify(engine, issued.code, "B-L4", VISIT + timedelta(minutes=1), limits=limits)
    assert not busy.verified and busy.advice == not_verified("zh-CN", locked=True)
    reopened = VISIT + timedelta(minutes=15, seconds=3)
    assert _verify(engine, issued.code, "B-L4", reopened, limits=limits).verified


def test_bad_input_is_refused_and_changes_nothing(engine: Engine, people: dict[str, str]) -> None:
    issued = _issue(engine, people["A"])
    before = _snapshot(engine)
    with engine.begin() as conn:
        cases = [
            issue_code(conn, "C999999", "L1", VISIT, SECRET, _random()),
            issue_code(conn, people["A"], "NO-LOAN", VISIT, SECRET, _random()),
            issue_code(conn, people["A"], "L1", VISIT, SECRET, _random(), valid_minutes=0),
            issue_code(conn, people["A"], "L1", VISIT, SECRET, _random(), valid_minutes=1441),
            verify_code(conn, issued.code, "NOBODY", VISIT, SECRET),
            verify_code(conn, "12345", "B-L1", VISIT, SECRET),
            verify_code(conn, "7KQ2M-XD9U!", "B-L1", VISIT, SECRET),
        ]
    found = [(value, [(p.field, p.code) for p in problems]) for value, problems in cases]
    assert found == [
        (None, [("collector_id", "not_found")]),
        (None, [("loan", "not_found")]),
        (None, [("valid_minutes", "invalid")]),
        (None, [("valid_minutes", "invalid")]),
        (None, [("borrower", "not_found")]),
        (None, [("code", "invalid")]),
        (None, [("code", "invalid")]),
    ]
    assert _snapshot(engine) == before
    assert _verify(engine, issued.code, "B-L1").verified


def test_a_borrower_holds_at_most_ten_live_codes(engine: Engine, people: dict[str, str]) -> None:
    for seed in range(10):
        with engine.begin() as conn:
            _, problems = issue_code(conn, people["C"], "L2", VISIT, SECRET, _random(seed))
            assert problems == ()
    with engine.begin() as conn:
        _, problems = issue_code(conn, people["C"], "L2", VISIT, SECRET, _random(99))
    assert [(p.field, p.code) for p in problems] == [("loan", "conflict")]


def test_credentials_against_the_registry(engine: Engine, people: dict[str, str]) -> None:
    key = Ed25519PrivateKey.generate()
    with engine.begin() as conn:
        issued, problems = issue_credential(conn, people["A"], VISIT, key, valid_days=7)
        assert problems == () and issued is not None
        assert [p.code for p in issue_credential(conn, "C999999", VISIT, key)[1]] == ["not_found"]
        online, _ = verify_credential(issued.text, key.public_key(), VISIT, "zh-CN", conn)
        assert online is not None and online.verified and online.status_checked
        assert online.credential is not None and online.credential.employee_no == "EMP-0001"
        assert deactivate_collector(conn, people["A"], VISIT)[0] is True
        revoked, _ = verify_credential(issued.text, key.public_key(), VISIT, "en", conn)
        assert revoked is not None and not revoked.verified
        assert revoked.reason == "the collector has been deactivated"
        assert revoked.advice == not_verified("en")
        _, problems = issue_credential(conn, people["A"], VISIT, key)
        assert [(p.field, p.code) for p in problems] == [("collector_id", "conflict")]
    # Offline, with the public key alone, the credential stands until it expires.
    offline, _ = verify_credential(issued.text, key.public_key(), VISIT, "zh-CN")
    assert offline is not None and offline.verified and not offline.status_checked
    expired, _ = verify_credential(issued.text, key.public_key(), VISIT + timedelta(days=7), "en")
    assert expired is not None and not expired.verified and expired.reason.startswith("expired")
    # Offline nothing can be recorded, and the advice does not claim it was.
    assert expired.advice == not_verified("en", recorded=False) != not_verified("en")
    assert _incidents(engine) == [(None, "credential", "credential_refused")]


def test_official_channels_and_incidents(engine: Engine, people: dict[str, str]) -> None:
    official, problems = official_channels(["95188", "+86 400 820 8888"], ["6222 0212 3456 7890"])
    assert problems == () and official is not None
    with engine.begin() as conn:
        phone, _ = check_channel(conn, official, VISIT, phone="400-820-8888", borrower_id="B-L2")
        account, _ = check_channel(conn, official, VISIT, account="6222021234567890")
    assert phone is not None and phone.official and phone.advice == ()
    assert account is not None and account.official
    assert _incidents(engine) == []
    with engine.begin() as conn:
        scam, _ = check_channel(
            conn, official, VISIT, phone="+86 171 0000 1234", borrower_id="B-L2"
        )
        payee, _ = check_channel(conn, official, VISIT, account="6217 0000 1111 2222")
        detail = conn.execute(select(impostor_incidents.c.detail)).scalars().all()
        kinds = _kinds(conn, "B-L2")
    assert scam is not None and not scam.official and scam.value == "17100001234"
    assert scam.advice == not_official("en")
    assert payee is not None and not payee.official and payee.advice == not_official("zh-CN")
    assert _incidents(engine) == [
        ("B-L2", "channel", "unofficial_phone"),
        (None, "channel", "unofficial_account"),
    ]
    assert [json.loads(d) for d in detail] == [
        {"phone": "17100001234"},
        {"account": "6217000011112222"},
    ]
    assert kinds[-1] == "collector.impostor_suspected"


def test_channel_bad_input_changes_nothing(engine: Engine, people: dict[str, str]) -> None:
    official, _ = official_channels(["95188"], [])
    assert official is not None
    before = _snapshot(engine)
    with engine.begin() as conn:
        results = [
            check_channel(conn, official, VISIT),
            check_channel(conn, official, VISIT, phone="95188", account="1234"),
            check_channel(conn, official, VISIT, phone="call me"),
            check_channel(conn, official, VISIT, account="??"),
            check_channel(conn, official, VISIT, phone="13800000000", borrower_id="NOBODY"),
        ]
    assert [[(p.field, p.code) for p in problems] for _, problems in results] == [
        [("", "invalid")],
        [("", "invalid")],
        [("phone", "invalid")],
        [("account", "invalid")],
        [("borrower", "not_found")],
    ]
    assert _snapshot(engine) == before


def test_language_comes_from_the_borrowers_profile(engine: Engine, people: dict[str, str]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(borrower_profiles)
            .where(borrower_profiles.c.borrower_id == "B-L3")
            .values(language="en")
        )
    verdict = _verify(engine, "00000-00000", "B-L3")
    assert verdict.language == "en" and verdict.advice == not_verified("en")
