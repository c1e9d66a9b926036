"""120 days of collection over a generated portfolio, under each rule pack.

Done-when of the collection engine and the compliance gate: the seed's escalation order for a
borrower who never pays; a borrower who promises and pays leaves collection; and the whole
contact history, checked again from scratch by the gate, has no violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.core.evidence.chain import Kind
from arrears.services import evidence as log
from arrears.services.close.day import CloseConfig
from arrears.services.collection.audit import audit
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.services.simulation.operation import SimResult, simulate
from arrears.store.case_tables import cases, contact_attempts, promises
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade
from arrears.store.outbox_tables import outbox

START = date(2026, 1, 5)
DAYS = 120

pytestmark = pytest.mark.slow


@dataclass
class Run:
    engine: Engine
    scenario: scenario.Scenario
    result: SimResult


def run_pack(url: str, pack: str, days: int = DAYS) -> Run:
    engine = make_engine(url)
    upgrade(engine)
    sc = scenario.build(engine, START, loans=24, seed=5, pack=pack, days=days)
    config = CloseConfig(default_policy_set(), default_pack=pack)
    result = simulate(engine, START, days, config, sc.behaviours, sc.payments, seed=5)
    return Run(engine, sc, result)


@pytest.fixture(scope="module", params=["cn", "us-reg-f", "uk-conc"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    path: Path = tmp_path_factory.mktemp(request.param) / "sim.db"
    r = run_pack(f"sqlite:///{path}", request.param)
    yield r
    r.engine.dispose()


def steps(engine: Engine, borrower: str) -> list[tuple[date, str | None, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                contact_attempts.c.on_date,
                contact_attempts.c.step,
                contact_attempts.c.party,
                contact_attempts.c.channel,
            )
            .where(contact_attempts.c.borrower_id == borrower)
            .order_by(contact_attempts.c.at, contact_attempts.c.attempt_id)
        ).all()
    return [(d, s, p, c) for d, s, p, c in rows]


def first(seq: list[tuple[date, str | None, str, str | None]], pred: object) -> int:
    for k, item in enumerate(seq):
        if pred(item):  # type: ignore[operator]
            return k
    raise AssertionError(f"not found in {seq[:40]}")


def test_the_whole_history_passes_the_gate_again_from_scratch(run: Run) -> None:
    with run.engine.connect() as conn:
        found = audit(conn)
    assert found.contacts > 100, found.contacts  # the run did contact people
    assert found.findings == (), [f.as_dict() for f in found.findings[:5]]
    assert not run.result.refused_payments


def test_a_never_paying_borrower_sees_the_seeds_escalation_order(run: Run) -> None:
    seq = steps(run.engine, scenario.NEVER)
    due = START + timedelta(days=10)
    reminders = [d for d, s, _, _ in seq if s == "sms_pre_due"]
    assert reminders[:2] == [due - timedelta(days=3), due - timedelta(days=1)]
    sms = first(seq, lambda x: x[1] == "sms_overdue")
    call = first(seq, lambda x: x[3] == "call" and x[2] == "debtor")
    emergency = first(seq, lambda x: x[2] == "emergency_contact")
    visit = first(seq, lambda x: x[3] == "visit")
    assert seq[sms][0] == due + timedelta(days=1)  # SMS from day 1
    assert sms < call < emergency < visit
    # Emergency contacts only once the borrower had been unreachable for a while.
    assert (seq[emergency][0] - seq[call][0]).days >= 7
    # The visit came after a supervisor's approval, with a notice and two collectors.
    with run.engine.connect() as conn:
        records = log.load_chain(conn, scenario.NEVER)
    events = [(r.kind, r.payload.get("event")) for r in records]
    approved = events.index((Kind.VISIT, "approved"))
    assigned = events.index((Kind.VISIT, "assigned"))
    noticed = events.index((Kind.VISIT, "notice_sent"))
    reported = events.index((Kind.VISIT, "reported"))
    assert approved < assigned < noticed < reported
    visited = next(
        r for r in records if r.kind == Kind.VISIT and r.payload.get("event") == "reported"
    )
    assert len(visited.payload["collectors"]) >= 2
    # The chain the borrower can export verifies.
    with run.engine.connect() as conn:
        assert log.verify_db(conn, borrower_id=scenario.NEVER) == []


def test_a_borrower_who_promises_and_pays_leaves_collection(run: Run) -> None:
    with run.engine.connect() as conn:
        kept = conn.execute(
            select(promises.c.due_on, promises.c.status).where(
                promises.c.borrower_id == scenario.PROMISER
            )
        ).all()
        case_rows = conn.execute(
            select(cases.c.opened_on, cases.c.closed_on).where(
                cases.c.borrower_id == scenario.PROMISER
            )
        ).all()
    assert [s for _, s in kept] == ["kept"]
    paid_on = kept[0][0]
    assert len(case_rows) == 1 and case_rows[0][1] is not None  # opened once, closed
    after = [x for x in steps(run.engine, scenario.PROMISER) if x[0] > paid_on]
    # Nothing but reminders before later due dates: no collection contact after paying.
    assert all(s == "sms_pre_due" for _, s, _, _ in after), after


def test_the_close_report_counts_what_happened(run: Run) -> None:
    total_actions = sum(sum(r.actions.values()) for r in run.result.reports)
    with run.engine.connect() as conn:
        attempts = conn.execute(select(contact_attempts.c.key)).all()
    assert total_actions > 0 and len(attempts) > 0
    last = run.result.reports[-1]
    assert sum(b.loans for b in last.buckets) > 0
    assert all(r.loans <= r.of for r in last.rolls)
    promised_due = sum(r.promises.due for r in run.result.reports)
    assert promised_due >= 1


def test_every_message_was_delivered_inside_its_window(run: Run) -> None:
    o, a = outbox, contact_attempts
    with run.engine.connect() as conn:
        rows = conn.execute(
            select(o.c.status, o.c.sent_at, o.c.expires_at, a.c.at).select_from(
                o.outerjoin(a, a.c.key == o.c.message_key)
            )
        ).all()
    assert rows and run.result.dispatched == len(rows)

    def aware(x: datetime) -> datetime:
        return x if x.tzinfo else x.replace(tzinfo=UTC)

    for status, sent, expires, gated_at in rows:
        assert status == "sent"
        assert aware(sent) < aware(expires)
        if gated_at is not None:  # visit notices have no contact attempt of their own
            assert aware(gated_at) <= aware(sent)
