"""The borrower's portal: what I owe, what happens next, and what I can do about it.

Each page calls the same service functions as the borrower's API routes (``api.routes_me``)
and shows only the signed-in borrower's own records.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arrears.api.deps import business_date, own_loan_ids
from arrears.services.close.forecast import owed_today
from arrears.web.pages import Borrower, config_of, page

router = APIRouter(include_in_schema=False)


@router.get("/my")
def my_home(request: Request, me: Borrower) -> Response:
    """What each loan has overdue, by part, its days overdue and the payoff today."""
    assert me.session is not None
    with config_of(request).engine.connect() as db:
        ids = own_loan_ids(db, me.session.subject)
        day = business_date(db, ids)
        loans = owed_today(db, ids, day) if day else ()
    overdue = sum(x.overdue for x in loans)
    return page(request, me, "my", {"loans": loans, "as_of": day, "overdue": overdue})
