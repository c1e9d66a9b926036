"""The gate checks the number that will be called: an emergency-contact call goes to the first
emergency contact who has not refused (as the agent queue dials it), and a refusal by the
first one is no reason to block a call to the second (CN: stop contacting the one who refused,
REFERENCES.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

from sqlalchemy import Engine

from arrears.core.compliance import Contact
from arrears.core.contact.action import PlannedAction
from arrears.services.close.gate_phase import ChunkInput, GateConfig, plan_chunk
from arrears.services.collection.cases import sync_cases
from arrears.services.collection.history import Attempt, record_attempts
from contact.test_cases_support import overdue_loans

FIRST, SECOND = "13900000001", "13900000002"
DAY = date(2024, 3, 20)  # the case opened 03-01, nobody has spoken with the debtor since


def _call(party: str) -> PlannedAction:
    return PlannedAction("B-L1", "L1", DAY, "champion", "call_ec", "call", party, "ec", time(10))  # type: ignore[arg-type]


def _plan(engine: Engine, refused: list[str]) -> tuple[list[str], list[str]]:
    """(numbers queued, rules that blocked) for one emergency-contact call on DAY."""
    with engine.begin() as conn:
        sync_cases(conn, date(2024, 3, 1), datetime(2024, 3, 1, 0, 30, tzinfo=UTC))
        at = datetime(2024, 3, 2, 2, 0, tzinfo=UTC)
        record_attempts(
            conn,
            [
                Attempt(
                    f"refusal-{n}",
                    "B-L1",
                    Contact(
                        at=at,
                        debt_id="L1",
                        channel="call",
                        party="emergency_contact",
                        number=n,
                        connected=True,
                        conversation=True,
                        outcome="refused",
                    ),
                    at.date(),
                )
                for n in refused
            ],
        )
    now = datetime.combine(DAY, time(0), tzinfo=UTC)
    with engine.connect() as conn:
        plan = plan_chunk(
            conn, ChunkInput(DAY, [_call("emergency_contact")], [], {}, now), GateConfig()
        )
    numbers = [dict(zip(plan.queue.columns, v, strict=True))["number"] for v in plan.queue.values]
    return numbers, sorted(plan.tally.blocked)


def test_call_goes_to_the_first_contact_who_has_not_refused(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1"], emergency={"B-L1": [FIRST, SECOND]})
    assert _plan(engine, refused=[FIRST]) == ([SECOND], [])


def test_when_every_contact_refused_the_call_is_blocked_with_the_refusal(
    engine: Engine, tmp_path: Path
) -> None:
    overdue_loans(engine, tmp_path, ["L1"], emergency={"B-L1": [FIRST, SECOND]})
    numbers, blocked = _plan(engine, refused=[FIRST, SECOND])
    assert numbers == []
    assert "cn.third-party.refusal" in blocked
