"""The times in a borrower's chain read as the day went: a case opened or closed by a close is
stamped with that close's instant, so nothing that happened after it in the chain carries an
earlier time. (Stamped at the end of the business date, a case opened at 23:59:59 stood in
front of the same day's 08:30 calls: an auditor reading the chain saw the case opened after
the calls it caused.)"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import Engine, select

from arrears.services.close.day import CloseConfig
from arrears.services.policy_files import default_policy_set
from arrears.services.simulation import scenario
from arrears.services.simulation.operation import simulate
from arrears.store.evidence_tables import evidence_records

START = date(2026, 1, 5)
DAYS = 12


def test_nothing_after_a_case_record_in_a_chain_is_earlier_than_it(engine: Engine) -> None:
    sc = scenario.build(engine, START, loans=80, seed=5, pack="cn", days=DAYS)
    simulate(
        engine,
        START,
        DAYS,
        CloseConfig(default_policy_set(), default_pack="cn"),
        sc.behaviours,
        sc.payments,
        seed=5,
    )
    r = evidence_records.c
    chains: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    with engine.connect() as conn:
        for b, at, kind in conn.execute(
            select(r.borrower_id, r.at, r.kind).order_by(r.borrower_id, r.seq)
        ):
            chains[b].append((datetime.fromisoformat(at), kind))
    case_records = 0
    for borrower, chain in chains.items():
        for k, (at, kind) in enumerate(chain):
            if not kind.startswith("case."):
                continue
            case_records += 1
            later = [(t, what) for t, what in chain[k + 1 :] if t < at]
            assert not later, f"{borrower}: {kind} at {at} is followed by {later[:3]}"
    assert case_records > 0, "the run opened no case: the test saw nothing"
