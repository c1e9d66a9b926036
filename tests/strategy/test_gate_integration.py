"""The default policy meets the compliance gate: a borrower who never pays and is never
reached, from D-3 to DPD 130, under each pack in a zone of that pack's country. Every action
the policy proposes is checked against the history so far (unanswered calls, delivered texts)
and added to it when allowed. None is blocked, except what the validator predicts: under
us-reg-f the emergency contact may be texted once (§1006.10), so its weekly repeats are.
The content stands in for the rendered template: the gate screens text, the policy names
templates."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from arrears.core.compliance import Contact, Context, check
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.action import PlannedAction
from arrears.core.strategy import explain
from arrears.services.policy_files import default_policy_set

from .helpers import case

ZONES = {"cn": "Asia/Shanghai", "us-reg-f": "America/New_York", "uk-conc": "Europe/London"}
CONTENT = {
    "debtor": "Your repayment is overdue. Pay in the app. Reply STOP to opt out.",
    "emergency_contact": "Please ask Zhang San to call us on 95188. Reply STOP to opt out.",
}


def contact(a: PlannedAction, zone: ZoneInfo) -> Contact:
    at = datetime.combine(a.business_date, a.local_time, tzinfo=zone)
    visit = a.channel == "visit"
    return Contact(
        at=at,
        debt_id=a.loan_id,
        channel=a.channel,
        party=a.party,
        number="EC-1" if a.party == "emergency_contact" else "+8613800000000",
        content="" if visit or a.channel == "call" else CONTENT[a.party],
        collectors=("C1", "C2") if visit else (),
        purpose=a.purpose,
    )


@pytest.mark.parametrize("pack_id", sorted(ZONES))
def test_default_policy_is_never_blocked_for_an_unreachable_borrower(pack_id: str) -> None:
    pack = get_pack(pack_id)
    assert pack is not None
    zone = ZoneInfo(ZONES[pack_id])
    start = date(2026, 3, 1)
    history: list[Contact] = []
    sent: dict[str, date] = {}
    blocked: list[tuple[int, str, tuple[str, ...]]] = []
    kinds: set[str] = set()
    for offset in range(-3, 131):
        day = start + timedelta(days=offset + 3)
        c = case(
            business_date=day,
            dpd=max(offset, 0),
            days_to_due=-offset if offset <= 0 else None,
            overdue_amount=400_000 if offset > 0 else 0,
            unreachable_days=max(offset, 0),
            visit_approved=True,
            last_sent=dict(sent),
        )
        ctx = Context(
            timezones=(zone,),
            reachable=offset < 1,
            collectors={"C1": day - timedelta(days=30), "C2": day - timedelta(days=30)},
            visit_approved=True,
            visit_notice_at=datetime.combine(day - timedelta(days=3), datetime.min.time(), zone),
        )
        for a in explain(c, default_policy_set()).choice.actions:
            proposed = contact(a, zone)
            decision = check(history, proposed, ctx, pack)
            if not decision.allowed:
                blocked.append((offset, a.step, tuple(v.rule for v in decision.violations)))
                continue
            history.append(proposed)
            sent[a.step] = day
            kinds.add(a.step)
    if pack_id == "us-reg-f":
        assert {(step, rules) for _, step, rules in blocked} == {
            ("sms_emergency_contact", ("us.third-party.once",))
        }
        assert sum(1 for h in history if h.party == "emergency_contact") == 1
    else:
        assert blocked == []
    assert kinds == {
        "sms_pre_due",
        "sms_overdue",
        "call_debtor",
        "sms_emergency_contact",
        "home_visit",
    }
