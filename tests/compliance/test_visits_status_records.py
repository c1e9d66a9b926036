"""Visits, pauses and data actions.

Visits: CN "home visits: at least two collectors"; "collectors trained before starting and at
least yearly"; UK "no visits to customers known to be vulnerable", CONC 7.9 notice before a
visit; approval on record is a baseline control of issue 4 in every pack.
Pauses: credit-card Measures Art. 70 (collection stops while a plan is kept, resumes if
broken); FDCPA §809(b) (collection stops on a dispute until verification); CONC 7.14.
Data: 征信业管理条例 Art. 15 (notice before negative reporting); Reg F §1006.30(a);
PIPL Art. 21 (entrustment agreement); recordings kept 2 years (Measures Art. 68);
Reg F §1006.100 (records kept 3 years after the last collection activity).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from arrears.core.compliance import Contact

from .helpers import LONDON, NEW_YORK, SHANGHAI, at, call, context, decide, rule_ids

ZONE = {"cn": SHANGHAI, "us-reg-f": NEW_YORK, "uk-conc": LONDON}
PREFIX = {"cn": "cn", "us-reg-f": "us", "uk-conc": "uk"}
REGISTRY = {"c1": date(2025, 3, 10), "c2": date(2025, 6, 1), "old": date(2024, 1, 1)}


def visit(
    pack: str, day: str = "2026-03-10", collectors: tuple[str, ...] = ("c1", "c2")
) -> Contact:
    return call(
        at(f"{day} 10:00", ZONE[pack]), channel="visit", number="home", collectors=collectors
    )


def visit_context(pack: str, **fields: Any):  # type: ignore[no-untyped-def]
    base: dict[str, Any] = {
        "collectors": REGISTRY,
        "visit_approved": True,
        "visit_notice_at": at("2026-03-01 10:00", ZONE[pack]),
    }
    return context(ZONE[pack], **{**base, **fields})


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_a_compliant_visit_is_allowed(pack: str) -> None:
    assert decide(pack, visit(pack), ctx=visit_context(pack)).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
@pytest.mark.parametrize(
    ("collectors", "day", "allowed"),
    [
        (("c1",), "2026-03-10", False),  # one collector
        (("c1", "c1"), "2026-03-10", False),  # the same collector twice is one
        (("c1", "stranger"), "2026-03-10", False),  # not registered
        (("c1", "old"), "2026-03-10", False),  # trained more than 12 months ago
        # c1 trained 2025-03-10: within 12 months on 2026-03-10, not on 2026-03-11.
        (("c1", "c2"), "2026-03-10", True),
        (("c1", "c2"), "2026-03-11", False),
        # Every collector who goes must be trained ("trained before starting"), even when two
        # others qualify.
        (("c1", "c2", "old"), "2026-03-10", False),
    ],
)
def test_visit_collectors(pack: str, collectors: tuple[str, ...], day: str, allowed: bool) -> None:
    notice = at("2026-03-01 10:00", ZONE[pack])
    decision = decide(
        pack, visit(pack, day, collectors), ctx=visit_context(pack, visit_notice_at=notice)
    )
    assert (f"{PREFIX[pack]}.visit.collectors" not in rule_ids(decision)) is allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_visit_needs_approval_notice_and_no_vulnerability(pack: str) -> None:
    p = PREFIX[pack]
    proposed = visit(pack)
    assert f"{p}.visit.approval" in rule_ids(
        decide(pack, proposed, ctx=visit_context(pack, visit_approved=False))
    )
    assert f"{p}.visit.notice" in rule_ids(
        decide(pack, proposed, ctx=visit_context(pack, visit_notice_at=None))
    )
    # Notice at the visit's own moment is not prior notice; a minute before is.
    assert f"{p}.visit.notice" in rule_ids(
        decide(pack, proposed, ctx=visit_context(pack, visit_notice_at=proposed.at))
    )
    minute_before = at("2026-03-10 09:59", ZONE[pack])
    assert decide(pack, proposed, ctx=visit_context(pack, visit_notice_at=minute_before)).allowed
    assert f"{p}.visit.vulnerable" in rule_ids(
        decide(pack, proposed, ctx=visit_context(pack, vulnerable=True))
    )


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_vulnerability_blocks_visits_not_calls(pack: str) -> None:
    proposed = call(at("2026-03-10 10:00", ZONE[pack]))
    assert decide(pack, proposed, ctx=context(ZONE[pack], vulnerable=True)).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_plan_in_force_pauses_collection_but_not_plan_reminders(pack: str) -> None:
    zone, rule = ZONE[pack], f"{PREFIX[pack]}.pause.plan"
    collect = call(at("2026-03-02 10:00", zone))
    reminder = call(at("2026-03-02 10:00", zone), purpose="plan_reminder")
    in_force = context(zone, plan_in_force=True)
    assert rule in rule_ids(decide(pack, collect, ctx=in_force))
    assert decide(pack, reminder, ctx=in_force).allowed
    # A broken plan is no longer in force: collection resumes.
    assert decide(pack, collect, ctx=context(zone, plan_in_force=False)).allowed


@pytest.mark.parametrize("pack", ["cn", "us-reg-f", "uk-conc"])
def test_open_dispute_pauses_collection(pack: str) -> None:
    zone = ZONE[pack]
    decision = decide(
        pack, call(at("2026-03-02 10:00", zone)), ctx=context(zone, dispute_open=True)
    )
    assert f"{PREFIX[pack]}.pause.dispute" in rule_ids(decision)


def report(pack: str, when: str = "2026-03-10 10:00") -> Contact:
    return Contact(at=at(when, ZONE[pack]), debt_id="L1", purpose="credit_report")


@pytest.mark.parametrize("pack", ["cn", "us-reg-f"])
def test_negative_reporting_only_after_notice(pack: str) -> None:
    rule = f"{PREFIX[pack]}.credit-report.notice"
    zone = ZONE[pack]
    assert rule in rule_ids(decide(pack, report(pack), ctx=context(zone)))
    other_debt = context(zone, credit_notices={"L2": at("2026-03-01 10:00", zone)})
    assert rule in rule_ids(decide(pack, report(pack), ctx=other_debt))
    same_time = context(zone, credit_notices={"L1": at("2026-03-10 10:00", zone)})
    assert rule in rule_ids(decide(pack, report(pack), ctx=same_time))
    earlier = context(zone, credit_notices={"L1": at("2026-03-01 10:00", zone)})
    assert decide(pack, report(pack), ctx=earlier).allowed


def test_credit_reports_are_not_contacts() -> None:
    # 23:00 and a plan in force: neither the hours nor the pause apply to a bureau file.
    late = report("cn", "2026-03-10 23:00")
    ctx = context(SHANGHAI, plan_in_force=True, credit_notices={"L1": at("2026-03-01 10:00")})
    assert decide("cn", late, ctx=ctx).allowed


def test_personal_data_to_agency_only_under_entrustment() -> None:
    transfer = Contact(
        at=at("2026-03-10 10:00"), debt_id="L1", purpose="data_transfer", recipient="agency-a"
    )
    assert "cn.data.entrustment" in rule_ids(decide("cn", transfer))
    other = context(SHANGHAI, entrustments=frozenset({"agency-b"}))
    assert "cn.data.entrustment" in rule_ids(decide("cn", transfer, ctx=other))
    ok = context(SHANGHAI, entrustments=frozenset({"agency-a"}))
    assert decide("cn", transfer, ctx=ok).allowed


def purge(when: datetime, until: datetime, kind: str = "recording") -> Contact:
    return Contact(
        at=when,
        debt_id="L1",
        purpose="purge",
        record_kind=kind,  # type: ignore[arg-type]
        records_until=until,
    )


@pytest.mark.parametrize(
    ("when", "allowed"),
    # Recordings up to 2024-03-10 10:00 may go 2 years later, not a minute earlier.
    [("2026-03-10 09:59", False), ("2026-03-10 10:00", True)],
)
def test_cn_recordings_kept_two_years(when: str, allowed: bool) -> None:
    decision = decide("cn", purge(at(when), at("2024-03-10 10:00")))
    assert ("cn.retention.recordings" not in rule_ids(decision)) is allowed


def test_us_records_kept_three_years_after_last_activity() -> None:
    until = at("2023-01-10 10:00", NEW_YORK)
    ctx = context(NEW_YORK)
    assert "us.retention" in rule_ids(
        decide("us-reg-f", purge(at("2026-01-10 09:59", NEW_YORK), until, "record"), ctx=ctx)
    )
    assert decide(
        "us-reg-f", purge(at("2026-01-10 10:00", NEW_YORK), until, "record"), ctx=ctx
    ).allowed
    # A later call on the debt restarts the three years (§1006.100(a)).
    activity = (call(at("2024-05-01 10:00", NEW_YORK), connected=False),)
    assert "us.retention" in rule_ids(
        decide("us-reg-f", purge(at("2027-04-30 10:00", NEW_YORK), until), activity, ctx)
    )
    assert decide("us-reg-f", purge(at("2027-05-01 10:00", NEW_YORK), until), activity, ctx).allowed
