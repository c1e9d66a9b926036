"""Work for the demo's desk after the simulated days: open cases assigned to the demo's
agents, and calls due now on the queue for the first agent's cases, so that signing in as an
agent shows a queue to work (the simulation's own calls were all made, or expired, on their
days). The web app's browser tests and ``arrears demo`` staff the desk with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from arrears.core.contact.action import PlannedAction
from arrears.core.problem import expect
from arrears.services.collection.console import assign_case, home_zone
from arrears.services.collection.queue import enqueue_calls
from arrears.services.simulation.operation import AGENT
from arrears.store import tables
from arrears.store.case_tables import cases

AGENTS = (AGENT, "agent-2")  # the simulation's own agent, and one more


@dataclass(frozen=True, slots=True)
class Desk:
    assigned: dict[str, tuple[str, ...]]  # agent -> borrower ids of their cases
    calls: int  # calls put on the queue, due now, for the first agent's cases


def staff_the_desk(
    conn: Connection,
    now: datetime,
    agents: Sequence[str] = AGENTS,
    cases_each: int = 12,
    leave_out: Sequence[str] = (),
    calls_each: int = 3,
) -> Desk:
    """Assign ``cases_each`` open cases to each agent in turn (by case id, the borrowers in
    ``leave_out`` skipped) and put ``calls_each`` calls to each borrower of the first agent's
    on the queue, due now."""
    c, ls, lo = cases.c, tables.loan_state.c, tables.loans.c
    rows = conn.execute(
        select(c.borrower_id).where(c.closed_on.is_(None)).order_by(c.case_id)
    ).scalars()
    ids = [b for b in rows if b not in set(leave_out)][: cases_each * len(agents)]
    assigned: dict[str, list[str]] = {a: [] for a in agents}
    for k, b in enumerate(ids):
        agent = agents[k % len(agents)]
        expect(assign_case(conn, b, agent))
        assigned[agent].append(b)
    actions = []
    for b in assigned[agents[0]] if agents else []:
        loan = conn.execute(
            select(lo.loan_id)
            .join(tables.loan_state, ls.loan_id == lo.loan_id)
            .where(lo.borrower_id == b)
            .order_by(ls.dpd.desc(), lo.loan_id)
            .limit(1)
        ).scalar()
        if loan is None:
            continue
        local = (now - timedelta(minutes=1)).astimezone(home_zone(conn, b))
        actions += [
            PlannedAction(
                b,
                loan,
                local.date(),
                "desk",
                f"desk_call_{k}",
                "call",
                "debtor",
                "collection_call_script",
                local.time().replace(microsecond=0),
                priority=5,
            )
            for k in range(1, calls_each + 1)
        ]
    added, _ = enqueue_calls(conn, actions)
    return Desk({a: tuple(v) for a, v in assigned.items()}, added)
