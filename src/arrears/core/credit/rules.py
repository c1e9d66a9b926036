"""Credit-reporting rules per rule pack, as data with their sources.

``retention_years``: negative information is kept this long after the negative conduct ends,
then left out of exports and read-outs. ``dispute_days``: the outcome of a dispute is due this
many days after it was opened. ``notice_days``: the lead time of the notice before negative
reporting. The borrower is told at least this many days before the first negative item is
reported: a notice names a report date at least ``notice_days`` after the day it is sent, and
the export holds the item back until then (``notices.py``, ``report.gate_reasons``). A lender
may give more notice, never less. Where the law names no period (China: 《征信业管理条例》
Art. 15 asks for notice *before* reporting), the pack's default is a deliberate choice, said
in its source: long enough to pay or object before the record is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from arrears.core.compliance.model import Channel


@dataclass(frozen=True, slots=True)
class CreditRules:
    pack: str
    retention_years: int
    retention_source: str
    dispute_days: int
    dispute_source: str
    notice_days: int
    notice_source: str
    notice_channel: Channel = "sms"

    def with_settings(
        self,
        *,
        notice_days: int | None = None,
        dispute_days: int | None = None,
        notice_channel: Channel | None = None,
    ) -> CreditRules:
        """A lender may give more notice and answer disputes sooner, never less or later."""
        out = self
        if notice_days is not None:
            if notice_days < 1:
                raise ValueError(f"notice_days: must be at least 1, got {notice_days}")
            out = replace(out, notice_days=notice_days)
        if dispute_days is not None:
            if not 1 <= dispute_days <= self.dispute_days:
                raise ValueError(
                    f"dispute_days: must be 1..{self.dispute_days} under {self.pack}, "
                    f"got {dispute_days}"
                )
            out = replace(out, dispute_days=dispute_days)
        if notice_channel is not None:
            if notice_channel not in ("sms", "letter"):
                raise ValueError(f"notice_channel: sms or letter, got {notice_channel}")
            out = replace(out, notice_channel=notice_channel)
        return out

    def dispute_deadline(self, opened_on: date) -> date:
        return opened_on + timedelta(days=self.dispute_days)


CREDIT_RULES: dict[str, CreditRules] = {
    "cn": CreditRules(
        "cn",
        5,
        "《征信业管理条例》 Art. 16: negative information is kept 5 years from the day the "
        "negative conduct ends",
        20,
        "《征信业管理条例》 Art. 25: an objection is checked and answered within 20 days",
        7,
        "《征信业管理条例》 Art. 15: the information provider tells the person before reporting "
        "negative information; the regulation names no lead time: 7 days is this pack's "
        "default, a week to repay or object before the item is reported",
    ),
    "us-reg-f": CreditRules(
        "us-reg-f",
        7,
        "FCRA 15 U.S.C. §1681c(a): adverse items older than 7 years are not reported",
        30,
        "FCRA 15 U.S.C. §1681i(a)(1): a dispute is reinvestigated within 30 days",
        14,
        "12 CFR 1006.30(a)(1): communicate with the consumer before furnishing, then wait a "
        "reasonable time (the rule's safe harbor: 14 days) for notice of undeliverability",
    ),
    "uk-conc": CreditRules(
        "uk-conc",
        6,
        "UK credit reference agencies keep default and arrears data 6 years [secondary]",
        28,
        "UK credit reference agencies answer a notice of correction within 28 days [secondary]",
        28,
        "Consumer Credit Act 1974 default notice practice: 28 days before a default is filed "
        "[secondary]",
    ),
}


def rules_for(pack: str) -> CreditRules:
    try:
        return CREDIT_RULES[pack]
    except KeyError:
        raise ValueError(
            f"rule pack {pack!r}: no credit rules (know {sorted(CREDIT_RULES)})"
        ) from None
