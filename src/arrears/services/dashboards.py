"""The supervisor's dashboard: the portfolio over time from the stored close reports and the
cases, as data (``core.close.trends``) and as an HTML page with charts. The web console shows
the same page; ``arrears dashboard`` writes it to a file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, select

from arrears.core.ageing.status import BUCKETS
from arrears.core.charts import Series, bar_chart, line_chart
from arrears.core.close.report import report_from_json
from arrears.core.close.trends import CaseSpan, CureCurve, Trends, cure_curves, trends
from arrears.core.money import fmt
from arrears.core.sim.strategy import rate_text
from arrears.core.texts import render_page
from arrears.services.texts import report_css, report_texts
from arrears.store import case_tables, tables

CURVE_DAYS = 90


@dataclass(frozen=True, slots=True)
class Dashboard:
    trends: Trends
    curves: tuple[CureCurve, ...]
    as_of: date | None  # the last closed day; None before the first close


def dashboard(conn: Connection, since: date | None = None, until: date | None = None) -> Dashboard:
    """The closed days from ``since`` through ``until`` (default: all of them)."""
    runs = tables.close_runs.c
    q = select(runs.summary).where(runs.status == "done").order_by(runs.business_date)
    if since is not None:
        q = q.where(runs.business_date >= since)
    if until is not None:
        q = q.where(runs.business_date <= until)
    reports = [report_from_json(json.loads(s)) for (s,) in conn.execute(q)]
    as_of = reports[-1].business_date if reports else None
    c = case_tables.cases.c
    spans = [
        CaseSpan(opened, closed, reason)
        for opened, closed, reason in conn.execute(select(c.opened_on, c.closed_on, c.close_reason))
        if as_of is not None and opened <= as_of
    ]
    curves = tuple(cure_curves(spans, as_of, CURVE_DAYS)) if as_of else ()
    return Dashboard(trends(reports), curves, as_of)


def dashboard_data(d: Dashboard) -> dict[str, Any]:
    """The dashboard as plain data (``--json``, the API)."""
    t = d.trends
    return {
        "as_of": d.as_of.isoformat() if d.as_of else None,
        "dates": [x.isoformat() for x in t.dates],
        "loans_by_bucket": {b: list(v) for b, v in t.loans.items()},
        "overdue_by_bucket": {b: [fmt(x) for x in v] for b, v in t.overdue.items()},
        "roll_rates": {k: [rate_text(x) for x in v] for k, v in t.rolls.items()},
        "promise_kept_rate": [None if x is None else rate_text(x) for x in t.promise_kept],
        "blocked_by_rule": t.blocked,
        "contacts_by_policy": {p: list(v) for p, v in t.contacts_by_policy.items()},
        "phase_seconds": {p: [round(x, 3) for x in v] for p, v in t.phases.items()},
        "cases_open": list(t.cases_open),
        "cure_curves": [
            {
                "vintage": c.vintage,
                "cases": c.cases,
                "cured_by_day": [None if x is None else rate_text(x) for x in c.cured_by_day],
            }
            for c in d.curves
        ],
    }


_WORDS = {
    "en": {
        "buckets": "Overdue loans by bucket after each close",
        "loans": "loans",
        "rolls": "Daily roll rates",
        "rate": "share",
        "kept": "Promises kept in full, of those settled that day",
        "cure": "Cure curves: cases cured within N days, by month opened",
        "policy": "Contacts enqueued by policy",
        "contacts": "contacts",
        "blocked": "Contacts blocked by the gate, by rule",
        "phases": "The close's phase times",
        "seconds": "seconds",
        "kept_name": "kept",
    },
    "zh-CN": {
        "buckets": "每日日终各逾期档位借款笔数",
        "loans": "笔数",
        "rolls": "每日迁徙率",
        "rate": "比例",
        "kept": "当日结清的承诺中全额兑现的比例",
        "cure": "治愈曲线：按立案月份，立案后N天内治愈的比例",
        "policy": "各策略每日触达笔数",
        "contacts": "次数",
        "blocked": "被合规闸门拦截的触达（按规则）",
        "phases": "日终各阶段耗时",
        "seconds": "秒",
        "kept_name": "兑现",
    },
}


def _watched(curve: tuple[Fraction | None, ...]) -> tuple[float, ...]:
    """The curve up to the last day any of its cases was watched."""
    return tuple(float(x) for x in curve if x is not None)


def dashboard_charts(d: Dashboard, language: str) -> dict[str, Markup]:
    """The dashboard's charts (inline SVG) in ``language``: the report's and the web page's."""
    w, t = _WORDS[language], d.trends
    days = [x.strftime("%m-%d") for x in t.dates]
    overdue = [b for b in BUCKETS[1:] if any(t.loans[b])]
    charts = {
        "buckets": line_chart(
            w["buckets"], [Series(b, tuple(map(float, t.loans[b]))) for b in overdue], days,
            w["loans"],
        ),
        "rolls": line_chart(
            w["rolls"],
            [Series(k, tuple(map(float, v))) for k, v in list(t.rolls.items())[:4]],
            days,
            w["rate"],
        ),
        "kept": line_chart(
            w["kept"],
            [Series(w["kept_name"], tuple(float(x or 0) for x in t.promise_kept))],
            days,
            w["rate"],
        ),
        "cure": line_chart(
            w["cure"],
            [
                Series(f"{c.vintage} ({c.cases})", _watched(c.cured_by_day))
                for c in d.curves
            ],
            [str(k) for k in range(CURVE_DAYS + 1)],
            w["rate"],
        ),
        "policy": line_chart(
            w["policy"],
            [Series(p, tuple(map(float, v))) for p, v in t.contacts_by_policy.items()],
            days,
            w["contacts"],
        ),
        "blocked": bar_chart(
            w["blocked"], list(t.blocked)[:8],
            [Series(w["contacts"], tuple(float(n) for n in list(t.blocked.values())[:8]))],
            w["contacts"],
        ),
        "phases": line_chart(
            w["phases"], [Series(p, v) for p, v in t.phases.items()], days, w["seconds"]
        ),
    }  # fmt: skip
    # core.charts escapes every text it is given; the SVG is safe to embed as it is.
    return {k: Markup(v) for k, v in charts.items()}


def render_dashboard(d: Dashboard, language: str, lender: str) -> str:
    """The dashboard page in ``language`` (zh-CN or en)."""
    return render_page(
        report_texts(),
        language,
        "dashboard",
        {
            "d": dashboard_data(d),
            "charts": dashboard_charts(d, language),
            "css": Markup(report_css()),
            "lender": lender,
        },
    )
