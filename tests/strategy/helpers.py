"""Shared builders for the strategy tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, time
from types import MappingProxyType
from typing import Any

from arrears.core.strategy import CaseView, Policy, PolicySet, Step, single

TODAY = date(2026, 3, 10)


def case(**kw: Any) -> CaseView:
    """An overdue first-time borrower, reachable, nothing special; override what a test needs."""
    last: Mapping[str, date] = MappingProxyType(kw.pop("last_sent", {}))
    base = CaseView(
        borrower_id="B1",
        loan_id="L1",
        business_date=TODAY,
        dpd=0,
        days_to_due=None,
        overdue_amount=0,
        outstanding_amount=1_000_000,
        risk_score=300,
        prior_cases=0,
        promise_until=None,
        promise_broken_on=None,
        hardship=False,
        dispute=False,
        plan_in_force=False,
        unreachable_days=0,
        visit_approved=False,
        emergency_contacts=1,
        last_sent=last,
    )
    return replace(base, **kw)


def step(name: str = "s", **kw: Any) -> Step:
    base: dict[str, Any] = {
        "name": name,
        "channel": "sms",
        "party": "debtor",
        "template": f"t_{name}",
        "at": time(10, 0),
        "dpd_from": 1,
    }
    base.update(kw)
    return Step(**base)


def one(*steps: Step, **kw: Any) -> PolicySet:
    return single(Policy(name=kw.pop("name", "p"), steps=steps, **kw))
