"""The champion-vs-challenger comparison as JSON data and as an HTML page with charts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from markupsafe import Markup

from arrears.core.charts import Series, bar_chart, line_chart
from arrears.core.money import fmt
from arrears.core.sim.strategy import CONTACT_KINDS, StrategyMetrics, rate_text
from arrears.core.texts import render_page
from arrears.services.simulation.strategy import Comparison, last_day
from arrears.services.texts import report_css, report_texts

REPORT = "strategy"
# The chart titles and axis labels, per language (the page's own words are in its template).
_CHART_WORDS = {
    "en": {
        "overdue": "Loans overdue after each day's close",
        "loans": "loans",
        "recovery": "Recovery rate by bucket on the first day",
        "rate": "recovered",
        "contacts": "Contacts made",
        "count": "contacts",
    },
    "zh-CN": {
        "overdue": "每日日终逾期借款笔数",
        "loans": "笔数",
        "recovery": "按首日逾期档位的回收率",
        "rate": "回收率",
        "contacts": "实际触达次数",
        "count": "次数",
    },
}
CONTACT_NAMES = {
    "en": {
        "sms": "SMS",
        "email": "email",
        "letter": "letter",
        "call": "call to the borrower",
        "emergency_contact": "call to an emergency contact",
        "visit": "home visit",
    },
    "zh-CN": {
        "sms": "短信",
        "email": "电子邮件",
        "letter": "信函",
        "call": "致电借款人",
        "emergency_contact": "致电紧急联系人",
        "visit": "上门拜访",
    },
}


def _run_data(m: StrategyMetrics) -> dict[str, Any]:
    cohort = m.cohort
    return {
        "policy": m.policy,
        "overdue_loans_first_day": cohort.loans,
        "overdue_first_day": fmt(cohort.overdue),
        "recovered": fmt(cohort.recovered),
        "recovery_rate": rate_text(cohort.recovery_rate),
        "cure_rate": rate_text(cohort.cure_rate),
        "roll_rate": rate_text(cohort.roll_rate),
        "buckets": [
            {
                "bucket": b.bucket,
                "loans": b.loans,
                "overdue": fmt(b.overdue),
                "recovered": fmt(b.recovered),
                "recovery_rate": rate_text(b.recovery_rate),
                "cure_rate": rate_text(b.cure_rate),
                "roll_rate": rate_text(b.roll_rate),
            }
            for b in m.buckets
        ],
        "contacts": {k: m.contacts.get(k, 0) for k in CONTACT_KINDS},
        "contact_cost": str(m.cost.quantize(m.cost.__class__("0.01"))),
        "unpriced_contacts": list(m.unpriced),
        "cost_per_yuan_recovered": None if m.cost_per_yuan is None else str(m.cost_per_yuan),
        "blocked": dict(sorted(m.blocked.items())),
        "blocked_total": sum(m.blocked.values()),
        "promises_kept": m.promises_kept,
        "promises_not_kept": m.promises_broken,
        "promise_kept_rate": rate_text(m.promise_kept_rate),
        "complaints": m.complaints,
        "plans_kept": m.plans_kept,
        "plans_broken": m.plans_broken,
        "overdue_loan_days": m.overdue_loan_days,
        "overdue_by_day": list(m.overdue_by_day),
    }


def comparison_data(c: Comparison) -> dict[str, Any]:
    """The comparison as plain data (``--json``; the page renders the same)."""
    return {
        "loans": c.loans,
        "days": c.days,
        "seed": c.seed,
        "rules": c.rules,
        "start": c.start.isoformat(),
        "through": last_day(c).isoformat(),
        "runs": [_run_data(m) for m in c.runs],
    }


def _charts(c: Comparison, language: str) -> dict[str, Markup]:
    words = _CHART_WORDS[language]
    days = [(c.start + timedelta(days=k)).strftime("%m-%d") for k in range(c.days)]
    overdue = line_chart(
        words["overdue"],
        [Series(m.policy, tuple(float(v) for v in m.overdue_by_day)) for m in c.runs],
        days,
        words["loans"],
    )
    buckets = [b for b in ("M1", "M2", "M3", "M4", "M5", "M6", "M7")
               if any(x.bucket == b for m in c.runs for x in m.buckets)]  # fmt: skip
    recovery = bar_chart(
        words["recovery"],
        buckets,
        [
            Series(
                m.policy,
                tuple(
                    next((float(x.recovery_rate) for x in m.buckets if x.bucket == b), 0.0)
                    for b in buckets
                ),
            )
            for m in c.runs
        ],
        words["rate"],
        percent=True,
    )
    kinds = [k for k in CONTACT_KINDS if any(m.contacts.get(k) for m in c.runs)]
    contacts = bar_chart(
        words["contacts"],
        [CONTACT_NAMES[language][k] for k in kinds],
        [Series(m.policy, tuple(float(m.contacts.get(k, 0)) for k in kinds)) for m in c.runs],
        words["count"],
    )
    # The SVG is built from escaped text by core.charts; it is safe to embed as it is.
    return {"overdue": Markup(overdue), "recovery": Markup(recovery), "contacts": Markup(contacts)}


def render_report(c: Comparison, language: str) -> str:
    """The HTML page in ``language`` (zh-CN or en): one self-contained file, no script."""
    data = comparison_data(c)
    rules = sorted({rule for m in c.runs for rule in m.blocked})
    return render_page(
        report_texts(),
        language,
        REPORT,
        {
            "c": data,
            "charts": _charts(c, language),
            "contact_names": CONTACT_NAMES[language],
            "kinds": list(CONTACT_KINDS),
            "blocked_rules": rules,
            "css": Markup(report_css()),
        },
    )
