"""A home visit the policy asked for counts as its step's contact: the step's cadence (thirty
days in the default policy) runs from the request, so a borrower visited and reported is not
asked for again four days later (seen running the 90-day demo: 19 visits for one borrower)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine

from arrears.core.strategy.choose import cadence_allows, visit_reason
from arrears.services.collection.case_frames import case_frames
from arrears.services.collection.visits import VisitRequest, request_visits
from arrears.services.policy_files import default_policy_set
from contact.test_cases_support import overdue_loans


def test_a_requested_visit_is_the_steps_last_contact(engine: Engine, tmp_path: Path) -> None:
    overdue_loans(engine, tmp_path, ["L1", "L2"])
    policy = default_policy_set().members[0].policy
    step = next(s for s in policy.steps if s.channel == "visit")
    asked = date(2024, 2, 20)
    with engine.begin() as conn:
        [(visit, problems)] = request_visits(
            conn,
            [
                VisitRequest(
                    f"{asked.isoformat()}:B-L1:visit_request",
                    "L1",
                    f"policy:{policy.name}",
                    datetime(2024, 2, 20, 0, 30, tzinfo=UTC),
                    visit_reason(step),
                )
            ],
        )
        assert visit is not None, problems
        # Asked for by a person, not the policy: not the policy step's contact.
        [(other, problems)] = request_visits(
            conn,
            [VisitRequest("manual-1", "L2", "supervisor-1", datetime(2024, 2, 21, tzinfo=UTC))],
        )
        assert other is not None, problems
    with engine.connect() as conn:
        sent = case_frames(conn, date(2024, 3, 1)).last_sent
    rows = {(r["borrower_id"], r["step"]): r["last_date"] for r in sent.iter_rows(named=True)}
    assert rows[("B-L1", step.name)] == asked
    assert ("B-L2", step.name) not in rows
    assert not cadence_allows(asked, date(2024, 3, 1), step.cadence_days)
