"""Paying on the portal: the form, and the result of one attempt.

The page talks to the payment adapter (``adapters.payments``) and nothing else: the adapter
applies the payment through the ledger (``services.events``, as the API's payment route
does). Each form carries a fresh attempt key; the payment's ref is made of it, so the same
form sent twice applies once. Post, then redirect to the attempt's page (reloading it pays
nothing more).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.adapters.payments import PaymentStart
from arrears.core.money import fmt
from arrears.services.close.forecast import owed_today
from arrears.web.pages import Borrower, PageRefused, Visitor, checked_form, config_of, page
from arrears.web.portal import (
    FieldError,
    amount,
    attempt_key,
    chosen_loan,
    form_value,
    from_problems,
    mine,
    own_loan,
    subject,
)

router = APIRouter(include_in_schema=False)


def _form(
    request: Request,
    me: Visitor,
    wanted: str | None,
    typed: str | None = None,
    errors: list[FieldError] | None = None,
    attempt: str | None = None,
    status: int = 200,
) -> Response:
    config = config_of(request)
    with config.engine.connect() as db:
        ids, day = mine(db, me)
        loans = owed_today(db, ids, day) if day else ()
    loan_id = chosen_loan(ids, wanted)
    loan = next((x for x in loans if x.loan_id == loan_id), None)
    if typed is None:
        typed = fmt(loan.overdue) if loan is not None and loan.overdue else ""
    context = {
        "loans": loans,
        "loan": loan,
        "as_of": day,
        "amount": typed,
        "attempt": attempt or attempt_key(),
        "errors": errors or [],
        "adapter": config.payments,
    }
    return page(request, me, "my_pay", context, status=status)


@router.get("/my/pay")
def pay_form(request: Request, me: Borrower, loan: str | None = None) -> Response:
    return _form(request, me, loan)


@router.post("/my/pay")
async def pay(request: Request, me: Borrower) -> Response:
    form = await checked_form(request, me)
    config = config_of(request)
    adapter = config.payments
    if adapter is None:
        raise PageRefused(404, "not_found")
    attempt = form_value(form, "attempt", 64)
    typed = form_value(form, "amount", 40)
    # Render only after the transaction ends: on SQLite it holds the write lock.
    done = None
    with config.engine.begin() as db:
        loan_id = own_loan(db, me, form.get("loan"))
        fen, error = amount(typed, "amount")
        _, day = mine(db, me)
        if error is None and day is None:
            error = FieldError("loan", "not_closed")
        if error is None and fen is not None and day is not None:
            done = adapter.start(db, PaymentStart(attempt, subject(me), loan_id, fen, day))
    if done is None:
        errors = [error or FieldError("amount", "required")]
        return _form(request, me, loan_id, typed, errors, attempt, status=422)
    if done.status == "failed":
        with config.engine.connect() as db:  # a double submit that lost the race: it is paid
            earlier = adapter.result(db, subject(me), attempt)
        if earlier is None:
            errors = from_problems(done.problems, {"amount": "amount", "loan_id": "loan"})
            return _form(request, me, loan_id, typed, errors, attempt, status=422)
    return RedirectResponse(f"/my/pay/{attempt}", status_code=303)


@router.get("/my/pay/{attempt}")
def paid(request: Request, me: Borrower, attempt: str) -> Response:
    config = config_of(request)
    adapter = config.payments
    if adapter is None:
        raise PageRefused(404, "not_found")
    with config.engine.connect() as db:
        done = adapter.result(db, subject(me), attempt[:64])
        if done is None:
            raise PageRefused(404, "not_found")
        own_loan(db, me, done.loan_id)
        _, day = mine(db, me)
        after = owed_today(db, [done.loan_id], day)[0] if day else None
    context = {"done": done, "loan": after, "adapter": adapter, "as_of": day}
    return page(request, me, "my_paid", context)
