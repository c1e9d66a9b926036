"""A borrower's complaints: linked to evidence, answered by the pack's deadline, counted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.compliance.packs import PACKS
from arrears.core.evidence.chain import Kind
from arrears.core.people.collectors import Collector
from arrears.services import evidence as log
from arrears.services.collection.complaints import (
    complaint_counts,
    deadline_days,
    decide_complaint,
    file_complaint,
    list_complaints,
)
from arrears.services.collection.people import add_collector
from arrears.store.case_tables import complaints
from arrears.store.profile_tables import borrower_profiles
from contact.test_cases_support import overdue_loans
from factories import refused, succeeded

SHANGHAI = timezone(timedelta(hours=8))
AT = datetime(2024, 3, 4, 23, 30, tzinfo=SHANGHAI)  # 15:30 UTC: the borrower's 4 March


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    with engine.begin() as conn:
        succeeded(add_collector(conn, Collector("c1", "张一", "CRED-1", agency="Agency A")))
        succeeded(add_collector(conn, Collector("c2", "张二", "CRED-2", agency="Agency A")))
        succeeded(add_collector(conn, Collector("own", "李三", "CRED-3")))
        log.append(conn, "B-L1", Kind.CONTACT_ATTEMPT, {"note": "late call"}, AT)
    return engine


def test_every_pack_has_a_deadline() -> None:
    # CBIRC 2020 Art. 20: 15 days; DISP 1.6.2R: eight weeks.
    assert set(deadline_days()) == set(PACKS)
    assert deadline_days()["cn"] == 15 and deadline_days()["uk-conc"] == 56


def test_a_complaint_against_a_collector(book: Engine) -> None:
    with book.begin() as conn:
        seq = log.load_chain(conn, "B-L1")[-1].seq
        done = succeeded(
            file_complaint(
                conn,
                key="k1",
                borrower_id="B-L1",
                at=AT,
                against="collector",
                text="他晚上十一点打电话还骂人",
                loan_id="L1",
                collector_id="c1",
                rule="cn.hours",
                evidence=[seq],
            )
        )
        # Received on the borrower's 4 March: 15 days later is 19 March.
        assert done.due_on == date(2024, 3, 19) and done.status == "open"
        last = log.load_chain(conn, "B-L1")[-1]
        assert last.kind == "borrower.request" and last.payload["kind"] == "complaint"
        assert last.payload["evidence"] == [seq] and "text" not in last.payload
        again = succeeded(
            file_complaint(
                conn,
                key="k1",
                borrower_id="B-L1",
                at=AT,
                against="collector",
                text="他晚上十一点打电话还骂人",
                loan_id="L1",
                collector_id="c1",
                rule="cn.hours",
                evidence=[seq],
            )
        )
        assert again.already_recorded and again.complaint_id == done.complaint_id
        assert len(log.load_chain(conn, "B-L1")) == seq + 1  # nothing more recorded
        other = refused(
            file_complaint(
                conn, key="k1", borrower_id="B-L1", at=AT, against="amount", text="wrong"
            )
        )
        assert (other.field, other.code) == ("key", "conflict")
        assert [c.complaint_id for c in list_complaints(conn, overdue_on=date(2024, 3, 19))] == []
        assert [c.complaint_id for c in list_complaints(conn, overdue_on=date(2024, 3, 20))] == [
            done.complaint_id
        ]
        decided = succeeded(
            decide_complaint(
                conn,
                done.complaint_id,
                outcome="upheld",
                note="已核实，已对催收员停岗培训并致歉",
                by="sup1",
                at=AT + timedelta(days=3),
            )
        )
        assert decided.status == "upheld" and not decided.overdue(date(2024, 4, 1))
        record = log.load_chain(conn, "B-L1")[-1]
        assert record.kind == "complaint.decided" and record.payload["late"] is False
        assert (
            refused(
                decide_complaint(
                    conn, done.complaint_id, outcome="rejected", note="x", by="s", at=AT
                )
            ).code
            == "conflict"
        )
        assert log.verify_db(conn, "B-L1") == []


def test_the_deadline_is_the_borrowers_pack(book: Engine) -> None:
    with book.begin() as conn:
        conn.execute(
            update(borrower_profiles)
            .where(borrower_profiles.c.borrower_id == "B-L2")
            .values(rule_pack="uk-conc", timezones="Europe/London")
        )
        done = succeeded(
            file_complaint(
                conn, key="k2", borrower_id="B-L2", at=AT, against="amount", text="wrong fee"
            )
        )
    assert done.due_on == date(2024, 3, 4) + timedelta(days=56)  # London's date is 4 March


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(complaints)).scalar_one())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"against": "weather"}, "against"),
        ({"against": "collector"}, "collector_id"),
        ({"text": "  "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"at": datetime(2024, 3, 4, 12)}, "at"),
        ({"key": ""}, "key"),
        ({"borrower_id": "NOPE"}, "borrower_id"),
        ({"loan_id": "L2"}, "loan_id"),  # another borrower's loan
        ({"collector_id": "ghost"}, "collector_id"),
        ({"rule": "us.calls-7-in-7"}, "rule"),  # not a rule of the borrower's pack
        ({"evidence": [99]}, "evidence"),
        ({"evidence": [1, 1]}, "evidence"),
    ],
)
def test_bad_complaints_change_nothing(
    book: Engine, changes: dict[str, object], field: str
) -> None:
    args: dict[str, object] = {
        "key": "bad",
        "borrower_id": "B-L1",
        "at": AT,
        "against": "contact",
        "text": "too many calls",
    } | changes
    with book.begin() as conn:
        before = len(log.load_chain(conn, "B-L1"))
        problem = refused(file_complaint(conn, **args))  # type: ignore[arg-type]
        assert problem.field == field, problem
        assert len(log.load_chain(conn, "B-L1")) == before
    assert _count(book) == 0


def test_counts_by_collector_agency_and_rule(book: Engine) -> None:
    with book.begin() as conn:
        for key, who, rule in [
            ("a", "c1", "cn.hours"),
            ("b", "c1", "cn.content.insults"),
            ("c", "c2", "cn.hours"),
            ("d", "own", None),
        ]:
            succeeded(
                file_complaint(
                    conn,
                    key=key,
                    borrower_id="B-L1",
                    at=AT,
                    against="collector",
                    text="rude",
                    collector_id=who,
                    rule=rule,
                )
            )
        succeeded(
            file_complaint(conn, key="e", borrower_id="B-L1", at=AT, against="amount", text="?")
        )
        first = list_complaints(conn)[0].complaint_id
        succeeded(decide_complaint(conn, first, outcome="upheld", note="ok", by="s", at=AT))
        counts = complaint_counts(conn)
    assert [(c.name, c.complaints, c.open, c.upheld) for c in counts.by_collector] == [
        ("c1", 2, 1, 1),
        ("c2", 1, 1, 0),
        ("own", 1, 1, 0),
    ]
    assert [(c.name, c.complaints) for c in counts.by_agency] == [("Agency A", 3), ("", 1)]
    assert [(c.name, c.complaints) for c in counts.by_rule] == [
        ("cn.hours", 2),
        ("cn.content.insults", 1),
    ]


def test_cli(book: Engine, db_url: str) -> None:
    runner = CliRunner()
    base = ["complaints", "add", "B-L1", "--db", db_url, "--key", "cli1", "--against", "contact"]
    out = runner.invoke(app, [*base, "--text", "calls at night", "--at", AT.isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    filed = json.loads(out.output)
    assert filed["due_on"] == "2024-03-19"
    bad = runner.invoke(app, [*base, "--text", "x", "--evidence", "one"])
    assert bad.exit_code == 2 and "evidence" in bad.output
    listed = runner.invoke(app, ["complaints", "list", "--db", db_url, "--overdue", "2024-03-20"])
    assert f"{filed['complaint_id']}\tB-L1\tcontact" in listed.output
    cid = str(filed["complaint_id"])
    decide = ["complaints", "decide", cid, "--db", db_url, "--outcome", "rejected", "--by", "sup"]
    now = datetime.now(UTC).isoformat()
    decided = runner.invoke(app, [*decide, "--note", "calls were at 10:00", "--at", now])
    assert decided.exit_code == 0, decided.output
    assert "rejected" in decided.output
    counts = runner.invoke(app, ["complaints", "counts", "--db", db_url, "--json"])
    assert json.loads(counts.output)["by_rule"] == []
