"""A restructured loan is classified at least special mention while its observation period
runs (data/borrower/restructuring.yaml; 《商业银行金融资产风险分类办法》 (2023): a restructured
asset is at least 关注 through an observation period of at least one year [secondary]).

The ageing (kernel and replay) classifies by days past due alone; this lifts ``normal`` to
``special_mention`` on the loans in observation, after the close ages them and after an event
re-ages one. It never lowers a classification: a restructured loan that falls further behind is
classified by its days past due as any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, and_, exists, select, update

from arrears.store import tables
from arrears.store.case_tables import restructures

FLOOR = "special_mention"


def lift_restructured(conn: Connection, loan_ids: Sequence[str] | None = None) -> int:
    """Apply the floor to ``loan_ids`` (None: every loan); the number of loans lifted."""
    s, r = tables.loan_state, restructures
    in_observation = exists(
        select(r.c.loan_id).where(
            and_(
                r.c.loan_id == s.c.loan_id, r.c.on_date <= s.c.as_of, r.c.observe_until >= s.c.as_of
            )
        )
    )
    q = update(s).where(s.c.classification == "normal", in_observation).values(classification=FLOOR)
    if loan_ids is not None:
        q = q.where(s.c.loan_id.in_(list(loan_ids)))
    return int(conn.execute(q).rowcount or 0)
