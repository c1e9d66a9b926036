"""The installment-plan wizard: what I can afford (``services.affordability``), the plan it
makes (``services.collection.plans.preview_plan``), the proposal and the lender's decision
(``request_plan``: the policy approves it, refers it to a supervisor, or refuses it), and a
supervisor's counter-offer to accept (``accept_offer``).

The first two steps change nothing: their forms post back to a page that shows the answer.
The proposal is a change: it carries an attempt key (the same form twice is one request) and
redirects to the plan's own page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.api.deps import now
from arrears.core.borrower.affordability import Household
from arrears.core.money import fmt
from arrears.core.problem import Problem
from arrears.services.affordability import check_affordability, default_rules
from arrears.services.close.forecast import owed_today
from arrears.services.collection.plans import (
    OPEN,
    accept_offer,
    default_policy,
    list_plans,
    preview_plan,
    request_plan,
)
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
    whole,
)

router = APIRouter(include_in_schema=False)

PLAN_FIELDS = {"months": "months", "monthly": "monthly", "loan_id": "loan", "reason": "reason"}


def _categories(language: str) -> list[dict[str, str]]:
    return [
        {"id": c.id, "label": c.labels.get(language, c.labels["en"])}
        for c in default_rules().categories
    ]


def _wizard(
    request: Request,
    me: Visitor,
    step: str,
    wanted: str | None,
    extra: Mapping[str, Any] | None = None,
    status: int = 200,
) -> Response:
    with config_of(request).engine.connect() as db:
        ids, day = mine(db, me)
        loans = owed_today(db, ids, day) if day else ()
        plans = list_plans(db, borrower_id=subject(me))
    loan_id = chosen_loan(ids, wanted)
    open_plan = next((p for p in plans if p.loan_id == loan_id and p.status in OPEN), None)
    policy = default_policy()
    context = {
        "step": step,
        "loans": loans,
        "loan": next((x for x in loans if x.loan_id == loan_id), None),
        "plans": plans,
        "open_plan": open_plan,
        "categories": _categories(me.language),
        "policy": policy,
        "reasons": policy.reasons,
        "typed": {},
        "errors": [],
        "assessed": None,
        "preview": None,
        "attempt": "",
        **(extra or {}),
    }
    return page(request, me, "my_plan", context, status=status)


@router.get("/my/plan")
def plan_start(request: Request, me: Borrower, loan: str | None = None) -> Response:
    """Step 1: what can I afford each month?"""
    return _wizard(request, me, "afford", loan)


@router.get("/my/plan/propose")
def plan_propose(request: Request, me: Borrower, loan: str | None = None) -> Response:
    """Step 2 without step 1: I know what I can pay."""
    return _wizard(request, me, "propose", loan)


@router.post("/my/plan/afford")
async def plan_afford(request: Request, me: Borrower) -> Response:
    form = await checked_form(request, me)
    with config_of(request).engine.connect() as db:
        loan_id = own_loan(db, me, form.get("loan"))
    errors: list[FieldError] = []
    income, error = amount(form_value(form, "income", 40) or "", "income")
    if error is not None and error.why == "not_positive":
        income, error = 0, None  # no income at all is an answer, not a mistake
    errors += [error] if error else []
    dependants, error = whole(form_value(form, "dependants", 4) or "0", "dependants", 0, 20)
    errors += [error] if error else []
    other, error = _optional_amount(form_value(form, "other_debts", 40), "other_debts")
    errors += [error] if error else []
    spent: dict[str, int] = {}
    for c in default_rules().categories:
        fen, error = _optional_amount(form_value(form, f"expense_{c.id}", 40), f"expense_{c.id}")
        if error is not None:
            errors.append(error)
        elif fen:
            spent[c.id] = fen
    typed = {k: v for k, v in form.items() if k != "csrf"}
    if errors or income is None or dependants is None or other is None:
        return _wizard(request, me, "afford", loan_id, {"errors": errors, "typed": typed}, 422)
    household = Household(income, spent, dependants, other)
    assessed, problems = check_affordability(
        household, me.language, lender=config_of(request).lender
    )
    if assessed is None:
        refused = {"errors": from_problems(problems, {}), "typed": typed}
        return _wizard(request, me, "afford", loan_id, refused, 422)
    result = assessed.result
    extra: dict[str, object] = {
        "assessed": assessed,
        "typed": {"monthly": _yuan(result.affordable) if result.affordable else ""},
    }
    return _wizard(request, me, "propose", loan_id, extra)


def _optional_amount(text: str, field: str) -> tuple[int | None, FieldError | None]:
    if not text.strip():
        return 0, None
    fen, error = amount(text, field)
    if error is not None and error.why == "not_positive":
        return 0, None
    return fen, error


def _yuan(fen: int) -> str:
    return fmt(fen)


def _plan_errors(problems: Sequence[Problem]) -> list[FieldError]:
    """The plan service's problems as form errors; an amount each month too small for the
    policy's longest plan is said in the visitor's words."""
    longest = str(default_policy().max_months)
    return [
        FieldError("monthly", "plan_too_long", longest)
        if p.field == "monthly"
        else from_problems([p], PLAN_FIELDS)[0]
        for p in problems
    ]


def _terms(form: Mapping[str, str]) -> tuple[int | None, int | None, list[FieldError]]:
    """The plan asked for: a number of months, or an amount each month (exactly one)."""
    months_text = form_value(form, "months", 10).strip()
    monthly_text = form_value(form, "monthly", 40).strip()
    if bool(months_text) == bool(monthly_text):
        return None, None, [FieldError("months", "months_or_monthly")]
    if months_text:  # the policy's limit, named on the page in the visitor's language
        months, error = whole(months_text, "months", 1, default_policy().max_months)
        return months, None, [error] if error else []
    monthly, error = amount(monthly_text, "monthly")
    return None, monthly, [error] if error else []


@router.post("/my/plan/preview")
async def plan_preview(request: Request, me: Borrower) -> Response:
    """Step 3: the plan these terms make, as the ledger would post it."""
    form = await checked_form(request, me)
    typed = {k: v for k, v in form.items() if k != "csrf"}
    with config_of(request).engine.connect() as db:
        loan_id = own_loan(db, me, form.get("loan"))
        months, monthly, errors = _terms(form)
        shown = None
        if not errors:
            shown, problems = preview_plan(db, loan_id, months=months, monthly=monthly)
            errors = _plan_errors(problems)
    if shown is None:
        return _wizard(request, me, "propose", loan_id, {"errors": errors, "typed": typed}, 422)
    extra = {"preview": shown, "attempt": attempt_key(), "typed": typed}
    return _wizard(request, me, "confirm", loan_id, extra)


@router.post("/my/plan")
async def plan_request(request: Request, me: Borrower) -> Response:
    """Step 4: propose the plan; the lender's policy decides at once or refers it."""
    form = await checked_form(request, me)
    config = config_of(request)
    typed = {k: v for k, v in form.items() if k != "csrf"}
    attempt = form_value(form, "attempt", 64)
    with config.engine.begin() as db:
        loan_id = own_loan(db, me, form.get("loan"))
        months, _, errors = _terms({"months": form_value(form, "months", 10)})
        plan = None
        if not errors:
            plan, problems = request_plan(
                db,
                key=f"web:{subject(me)}:{attempt}",
                borrower_id=subject(me),
                loan_id=loan_id,
                at=now(),
                reason=form_value(form, "reason", 40),
                months=months,
                note=form_value(form, "note", 2000),
            )
            errors = _plan_errors(problems)
    if plan is None:
        extra = {"errors": errors, "typed": typed, "refused": True}
        return _wizard(request, me, "propose", loan_id, extra, 422)
    return RedirectResponse(f"/my/plan/{plan.plan_id}", status_code=303)


def _own_plan(request: Request, me: Visitor, plan_id: int) -> Any:
    with config_of(request).engine.connect() as db:
        plan = next(
            (p for p in list_plans(db, borrower_id=subject(me)) if p.plan_id == plan_id), None
        )
    if plan is None:
        raise PageRefused(404, "not_found")
    return plan


@router.get("/my/plan/{plan_id}")
def plan_decision(request: Request, me: Borrower, plan_id: int) -> Response:
    """The plan and the lender's decision on it."""
    plan = _own_plan(request, me, plan_id)
    return page(request, me, "my_plan_decision", {"plan": plan, "errors": []})


@router.post("/my/plan/{plan_id}/accept")
async def plan_accept(request: Request, me: Borrower, plan_id: int) -> Response:
    """Accept a supervisor's counter-offer: the plan comes into force."""
    await checked_form(request, me)
    _own_plan(request, me, plan_id)
    with config_of(request).engine.begin() as db:
        plan, problems = accept_offer(db, plan_id, borrower_id=subject(me), at=now())
    if plan is None:
        shown = _own_plan(request, me, plan_id)
        context = {"plan": shown, "errors": from_problems(problems, {})}
        return page(request, me, "my_plan_decision", context, status=409)
    return RedirectResponse(f"/my/plan/{plan_id}", status_code=303)
