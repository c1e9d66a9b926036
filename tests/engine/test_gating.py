"""A planned action meets the gate as the contact it would be (CN pack rule texts)."""

from datetime import date, time
from zoneinfo import ZoneInfo

from arrears.core.compliance import Context
from arrears.core.compliance.packs import get_pack
from arrears.core.contact.action import PlannedAction
from arrears.core.contact.gating import action_key, blocked_payload, gate_action

SHANGHAI = ZoneInfo("Asia/Shanghai")
CN = get_pack("cn")
assert CN is not None


def sms(at: time, party: str = "debtor") -> PlannedAction:
    return PlannedAction(
        borrower_id="B1",
        loan_id="L1",
        business_date=date(2026, 11, 30),
        policy="champion",
        step="sms_overdue",
        channel="sms",
        party=party,  # type: ignore[arg-type]
        template="sms_overdue",
        local_time=at,
    )


def test_an_sms_at_ten_in_the_borrowers_zone_passes() -> None:
    g = gate_action(
        sms(time(10, 0)),
        [],
        Context(timezones=(SHANGHAI,)),
        CN,
        number="13800000000",
        content="您的借款已逾期，请尽快还款。",
    )
    assert g.decision.allowed
    assert g.contact.at.utcoffset() is not None and g.contact.at.hour == 10
    assert g.key == "2026-11-30:B1:sms_overdue" == action_key(g.action)


def test_the_last_minute_before_22_passes_and_22_is_blocked_by_the_hours_rule() -> None:
    ctx = Context(timezones=(SHANGHAI,))
    assert gate_action(sms(time(21, 59)), [], ctx, CN, number="1", content="x").decision.allowed
    g = gate_action(sms(time(22, 0)), [], ctx, CN, number="1", content="x")
    assert not g.decision.allowed
    payload = blocked_payload(g, CN)
    assert payload["rules"] == ["cn.hours"]
    assert payload["key"] == g.key and payload["pack"] == "cn"


def test_a_second_zone_where_it_is_night_blocks_the_contact() -> None:
    # 10:00 in Shanghai is 02:00 in London (winter): hours must suit every zone.
    ctx = Context(timezones=(SHANGHAI, ZoneInfo("Europe/London")))
    g = gate_action(sms(time(10, 0)), [], ctx, CN, number="1", content="x")
    assert "cn.hours" in [v.rule for v in g.decision.violations]


def test_an_emergency_contact_while_the_debtor_is_reachable_is_blocked() -> None:
    ctx = Context(timezones=(SHANGHAI,), reachable=True)
    g = gate_action(
        sms(time(10, 0), "emergency_contact"),
        [],
        ctx,
        CN,
        number="139",
        content="请转告机主尽快与我们联系。",
    )
    assert "cn.third-party.unreachable" in blocked_payload(g, CN)["rules"]
