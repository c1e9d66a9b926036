"""Field visits: request, approval, assignment to two registered trained collectors, notice,
report, each judged by the compliance gate's visit rules and each on the evidence log."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.core.compliance import Context
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.visits import VisitPlan, validate_visit
from arrears.core.evidence.chain import sha256_hex
from arrears.core.people.collectors import Collector, Training
from arrears.core.problem import Result
from arrears.services import evidence as log
from arrears.services.collection.history import history_for
from arrears.services.collection.people import add_collector, add_training
from arrears.services.collection.visits import (
    Visit,
    VisitRequest,
    approve_visit,
    assign_visit,
    record_visit_notice,
    report_visit,
    request_visit,
    request_visits,
)
from arrears.store.case_tables import visits
from factories import refused, succeeded

from .test_cases_support import SHANGHAI, overdue_loans, sh

CN = get_pack("cn")
assert CN is not None
VISIT_DAY = date(2024, 3, 20)


def _people(engine: Engine) -> None:
    """c1, c2 trained 2023-06-01 (within 12 months of the visit); old trained 2023-02-19 (13
    months before); new never trained; ghost not registered."""
    people = [
        (Collector("c1", "张一", "CRED-1"), date(2023, 6, 1)),
        (Collector("c2", "张二", "CRED-2", agency="Agency A"), date(2023, 6, 1)),
        (Collector("old", "老王", "CRED-3"), date(2023, 2, 19)),
        (Collector("new", "小李", "CRED-4"), None),
        (Collector("ghost", "无名", "CRED-5", registered=False), date(2023, 6, 1)),
    ]
    with engine.begin() as conn:
        for c, trained in people:
            assert succeeded(add_collector(conn, c)) is True
            if trained is not None:
                training = Training(c.collector_id, trained, "合规催收")
                assert succeeded(add_training(conn, training, VISIT_DAY)) is True


def _approved(engine: Engine, tmp_path: Path, vulnerable: bool = False) -> int:
    overdue_loans(
        engine,
        tmp_path,
        ["L1"],
        profiles={"B-L1": {"vulnerable": vulnerable, "address": "上海市某路1号"}},
    )
    _people(engine)
    with engine.begin() as conn:
        v = succeeded(
            request_visit(
                conn, "visit-1", "L1", "agent7", sh("2024-03-10 09:00"), "unreachable 30 days"
            )
        )
        succeeded(approve_visit(conn, v.visit_id, "supervisor1", sh("2024-03-11 09:00")))
        return v.visit_id


def _assign(
    engine: Engine,
    visit_id: int,
    collectors: tuple[str, ...],
    start: str = "2024-03-20 10:00",
    end: str = "2024-03-20 12:00",
) -> Result[Visit]:
    with engine.begin() as conn:
        return assign_visit(conn, visit_id, collectors, sh(start), sh(end), sh("2024-03-12 09:00"))


def test_a_visit_from_request_to_report(engine: Engine, tmp_path: Path) -> None:
    visit_id = _approved(engine, tmp_path)
    assigned = succeeded(_assign(engine, visit_id, ("c1", "c2")))
    assert assigned.status == "assigned"
    assert assigned.address == "上海市某路1号"
    with engine.begin() as conn:
        late = refused(record_visit_notice(conn, visit_id, sh("2024-03-20 10:00")))  # not before
    assert "cn.visit.notice" in late.reason
    with engine.begin() as conn:
        noticed = succeeded(record_visit_notice(conn, visit_id, sh("2024-03-13 09:00")))
        assert noticed.status == "noticed"
        early = refused(report_visit(conn, visit_id, sh("2024-03-20 09:00"), "…", "met"))
        assert early.field == "at"
    with engine.begin() as conn:
        done = succeeded(
            report_visit(
                conn, visit_id, sh("2024-03-20 11:30"), "借款人在家，承诺月底还款", "promise_to_pay"
            )
        )
        assert done.status == "reported"
        again = succeeded(
            report_visit(
                conn, visit_id, sh("2024-03-20 11:30"), "借款人在家，承诺月底还款", "promise_to_pay"
            )
        )
        assert (again.visit_id, again.status, again.outcome) == (
            done.visit_id,
            "reported",
            "promise_to_pay",
        )
        (visited,) = history_for(conn, ["B-L1"])["B-L1"]
        chain = log.load_chain(conn, "B-L1")
        assert log.verify_db(conn) == []
    assert (visited.channel, visited.collectors, visited.conversation) == (
        "visit",
        ("c1", "c2"),
        True,
    )
    events = [r.payload.get("event") for r in chain if r.kind == "visit"]
    assert events == ["requested", "approved", "assigned", "notice_sent", "reported"]
    assert [r.kind for r in chain][-2:] == ["contact.attempt", "visit"]


@pytest.mark.parametrize(
    ("collectors", "rule"),
    [
        (("c1",), "cn.visit.collectors"),  # one collector
        (("c1", "new"), "cn.visit.collectors"),  # never trained
        (("c1", "old"), "cn.visit.collectors"),  # trained 13 months before the visit
        (("c1", "ghost"), "cn.visit.collectors"),  # not registered
        (("c1", "nobody"), "cn.visit.collectors"),  # unknown
    ],
)
def test_assignment_refused_without_two_qualified_collectors(
    engine: Engine, tmp_path: Path, collectors: tuple[str, ...], rule: str
) -> None:
    visit_id = _approved(engine, tmp_path)
    got = refused(_assign(engine, visit_id, collectors))
    assert rule in got.reason, got
    with engine.connect() as conn:
        status = conn.execute(select(visits.c.status)).scalar()
        kinds = [r.payload.get("event") for r in log.load_chain(conn, "B-L1") if r.kind == "visit"]
    assert status == "approved" and kinds == ["requested", "approved"]


def test_trained_exactly_12_months_before_is_still_qualified(
    engine: Engine, tmp_path: Path
) -> None:
    visit_id = _approved(engine, tmp_path)
    with engine.begin() as conn:
        assert (
            succeeded(add_training(conn, Training("old", date(2023, 3, 20), "复训"), VISIT_DAY))
            is True
        )
    succeeded(_assign(engine, visit_id, ("c1", "old")))


def test_assignment_refused_for_a_vulnerable_borrower(engine: Engine, tmp_path: Path) -> None:
    visit_id = _approved(engine, tmp_path, vulnerable=True)
    got = refused(_assign(engine, visit_id, ("c1", "c2")))
    assert "cn.visit.vulnerable" in got.reason


def test_assignment_refused_at_night(engine: Engine, tmp_path: Path) -> None:
    """CN: no collection contact 22:00-08:00; a window ending at 22:00 is the last allowed."""
    visit_id = _approved(engine, tmp_path)
    got = refused(_assign(engine, visit_id, ("c1", "c2"), "2024-03-20 20:00", "2024-03-20 22:01"))
    assert "cn.visit.hours" in got.reason
    succeeded(_assign(engine, visit_id, ("c1", "c2"), "2024-03-20 20:00", "2024-03-20 22:00"))


def test_approval_rules(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"])
    _people(engine)
    with engine.begin() as conn:
        v = succeeded(request_visit(conn, "visit-1", "L1", "agent7", sh("2024-03-10 09:00")))
        same = succeeded(request_visit(conn, "visit-1", "L1", "agent7", sh("2024-03-10 09:05")))
        assert same.visit_id == v.visit_id
        own = refused(approve_visit(conn, v.visit_id, "agent7", sh("2024-03-11 09:00")))
        assert own.field == "approved_by"
        unapproved = refused(
            assign_visit(
                conn,
                v.visit_id,
                ("c1", "c2"),
                sh("2024-03-20 10:00"),
                sh("2024-03-20 11:00"),
                sh("2024-03-12 09:00"),
            )
        )
        assert unapproved.field == "status"
        missing = refused(request_visit(conn, "visit-2", "NOPE", "agent7", sh("2024-03-10 09:00")))
        assert missing.field == "loan_id"


def test_validate_visit_pure_missing_notice_and_all_good() -> None:
    plan = VisitPlan(
        "B",
        "L",
        ("c1", "c2"),
        datetime(2024, 3, 20, 10, tzinfo=SHANGHAI),
        datetime(2024, 3, 20, 12, tzinfo=SHANGHAI),
    )
    trained = {"c1": date(2023, 6, 1), "c2": date(2023, 6, 1)}
    ctx = Context(timezones=(SHANGHAI,), collectors=trained, visit_approved=True)
    missing = validate_visit(plan, ctx, CN)
    assert [p.rule for p in missing] == ["cn.visit.notice"]
    assert validate_visit(plan, ctx, CN, require_notice=False) == []
    noticed = Context(
        timezones=(SHANGHAI,),
        collectors=trained,
        visit_approved=True,
        visit_notice_at=plan.window_start - timedelta(days=1),
    )
    assert validate_visit(plan, noticed, CN) == []
    unapproved = Context(
        timezones=(SHANGHAI,),
        collectors=trained,
        visit_notice_at=plan.window_start - timedelta(days=1),
    )
    assert [p.rule for p in validate_visit(plan, unapproved, CN)] == ["cn.visit.approval"]
    backwards = VisitPlan("B", "L", ("c1", "c2"), plan.window_end, plan.window_start)
    assert [p.rule for p in validate_visit(backwards, noticed, CN)] == ["visit.window"]


def test_requests_in_bulk_answer_each_request_as_one_at_a_time_would(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    at = sh("2024-03-10 09:00")
    with engine.begin() as conn:
        first = succeeded(request_visit(conn, "visit-1", "L1", "agent7", at))
        out = request_visits(
            conn,
            [
                VisitRequest("visit-1", "L1", "agent7", at),  # the same request again
                VisitRequest("visit-1b", "L2", "agent7", at, "60 days"),  # new
                VisitRequest("visit-2", "NOPE", "agent7", at),  # unknown loan
                VisitRequest(" ", "L2", "agent7", at),  # bad key
                VisitRequest("visit-3", "L2", "", at),  # nobody asked
                VisitRequest("visit-4", "L2", "agent7", at.replace(tzinfo=None)),  # naive time
            ],
        )
        reused = request_visits(conn, [VisitRequest("visit-1b", "L1", "agent8", at)])
        with pytest.raises(ValueError, match="duplicate keys"):
            request_visits(
                conn, [VisitRequest("k", "L1", "a", at), VisitRequest("k", "L1", "a", at)]
            )
    same, new = (succeeded(r) for r in out[:2])
    assert same.visit_id == first.visit_id
    assert (new.loan_id, new.status, new.reason) == (
        "L2",
        "requested",
        "60 days",
    )
    assert [refused(r).field for r in out[2:]] == [
        "loan_id",
        "key",
        "requested_by",
        "at",
    ]
    assert refused(reused[0]).field == "key"
    with engine.connect() as conn:
        keys = sorted(conn.execute(select(visits.c.key)).scalars())
        assert keys == ["visit-1", "visit-1b"]
        # One evidence record per visit actually requested, on the borrower's chain.
        owner = new.borrower_id
        events = [r.payload for r in log.load_chain(conn, owner) if r.kind == "visit"]
        assert {
            "event": "requested",
            "visit_key": "visit-1b",
            "loan_id": "L2",
            "requested_by": "agent7",
            "reason_sha256": sha256_hex("60 days"),  # a person's words: the chain keeps a hash
        } in events


def test_a_borrower_has_one_live_visit_at_a_time(engine: Engine, tmp_path: Path) -> None:
    visit_id = _approved(engine, tmp_path)
    at = sh("2024-03-12 09:00")
    with engine.begin() as conn:
        again = refused(request_visit(conn, "visit-2", "L1", "agent8", at, "no answer"))
        batch = request_visits(conn, [VisitRequest("visit-3", "L1", "agent8", at)])
    assert (again.code, again.field) == ("conflict", "loan_id")
    assert f"visit {visit_id} is still approved" in again.reason
    assert refused(batch[0]).code == "conflict"
    with engine.connect() as conn:
        assert conn.execute(select(visits.c.key)).scalars().all() == ["visit-1"]
        asked = [r for r in log.load_chain(conn, "B-L1") if r.kind == "visit"]
        assert [r.payload["event"] for r in asked] == ["requested", "approved"]
    # Reported, the visit is over: the next one may be asked for.
    succeeded(_assign(engine, visit_id, ("c1", "c2")))
    with engine.begin() as conn:
        succeeded(record_visit_notice(conn, visit_id, sh("2024-03-13 09:00")))
        succeeded(report_visit(conn, visit_id, sh("2024-03-20 11:30"), "不在家", "not_home"))
        first, second = request_visits(
            conn,
            [
                VisitRequest("visit-4", "L1", "agent8", sh("2024-03-21 09:00")),
                VisitRequest("visit-5", "L1", "agent9", sh("2024-03-21 09:05")),
            ],
        )
    assert succeeded(first).status == "requested"
    assert refused(second).code == "conflict"
