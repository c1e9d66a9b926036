"""The portfolio over time, from the stored close reports and the cases: what a supervisor's
dashboard shows. Pure; the shell reads the reports and case rows.

* **Buckets over time**: loans and overdue amount per bucket after each day's close.
* **Roll rates over time**: each day's share of loans that moved from one bucket to the next
  worse one (C to M1, M1 to M2, ...), as the close report counts them.
* **Promise-kept rate**: promises kept in full over those settled, per day.
* **Blocked by rule**: contacts the gate blocked, per rule, over the period.
* **Contacts by policy**: contacts enqueued per policy (champion and challengers), per day.
* **Cure curves by vintage**: for the cases opened in each month, the share cured (closed as
  cured or settled) within ``d`` days of opening, for ``d`` = 0..horizon. A case still open, or
  opened too recently to have been watched ``d`` days, is counted only where it was watched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from arrears.core.ageing.status import BUCKETS
from arrears.core.close.report import CloseReport

# A case that ends with the debt paid (cured: no longer overdue; settled: paid off by
# agreement), not one written off or sent elsewhere (core.contact.cases.CLOSE_REASONS).
CURED_REASONS = frozenset({"cured", "settled"})


@dataclass(frozen=True, slots=True)
class Trends:
    dates: tuple[date, ...]
    loans: dict[str, tuple[int, ...]]  # bucket -> loans per day
    overdue: dict[str, tuple[int, ...]]  # bucket -> fen per day
    rolls: dict[str, tuple[Fraction, ...]]  # "C→M1" -> rate per day
    promise_kept: tuple[Fraction | None, ...]  # None on days with no promise due
    blocked: dict[str, int]  # rule -> contacts blocked in the period
    contacts_by_policy: dict[str, tuple[int, ...]]  # policy -> contacts enqueued per day
    phases: dict[str, tuple[float, ...]]  # phase -> seconds per day
    cases_open: tuple[int, ...]


def trends(reports: Sequence[CloseReport]) -> Trends:
    """The series of ``reports`` (in date order)."""
    reports = sorted(reports, key=lambda r: r.business_date)
    loans = {b: tuple(_line(r, b)[0] for r in reports) for b in BUCKETS}
    overdue = {b: tuple(_line(r, b)[1] for r in reports) for b in BUCKETS}
    rolls: dict[str, tuple[Fraction, ...]] = {}
    for worse in range(1, len(BUCKETS)):
        a, b = BUCKETS[worse - 1], BUCKETS[worse]
        rolls[f"{a}→{b}"] = tuple(_roll(r, a, b) for r in reports)
    blocked: Counter[str] = Counter()
    policies: set[str] = set()
    phases: set[str] = set()
    for r in reports:
        blocked.update(r.blocked)
        policies.update(p for _, p in r.actions)
        phases.update(r.phases)
    by_policy = {
        p: tuple(sum(n for (_, q), n in r.actions.items() if q == p) for r in reports)
        for p in sorted(policies)
    }
    return Trends(
        tuple(r.business_date for r in reports),
        loans,
        overdue,
        rolls,
        tuple(_kept(r) for r in reports),
        dict(blocked.most_common()),
        by_policy,
        {p: tuple(float(r.phases.get(p, 0.0)) for r in reports) for p in sorted(phases)},
        tuple(r.cases_open for r in reports),
    )


def _line(r: CloseReport, bucket: str) -> tuple[int, int]:
    for b in r.buckets:
        if b.bucket == bucket:
            return b.loans, b.overdue
    return 0, 0


def _roll(r: CloseReport, a: str, b: str) -> Fraction:
    for roll in r.rolls:
        if roll.from_bucket == a and roll.to_bucket == b and roll.of:
            return Fraction(roll.loans, roll.of)
    return Fraction(0)


def _kept(r: CloseReport) -> Fraction | None:
    # Of the promises settled that day (kept early or on their date, partly kept, broken once
    # their grace ended), not of those that fell due that day: those are other promises.
    p = r.promises
    settled = p.kept + p.partly_kept + p.broken
    return Fraction(p.kept, settled) if settled else None


@dataclass(frozen=True, slots=True)
class CaseSpan:
    opened_on: date
    closed_on: date | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class CureCurve:
    vintage: str  # "2026-11": the month the cases opened
    cases: int
    cured_by_day: tuple[
        Fraction | None, ...
    ]  # index d: share cured within d days (None: none watched)


def cure_curves(spans: Iterable[CaseSpan], as_of: date, horizon: int = 90) -> list[CureCurve]:
    """Per month of opening, the share of cases cured within each number of days.

    A Kaplan-Meier estimate, so that cases not yet watched for ``d`` days (opened late in the
    month, or still open) neither count as uncured nor drop out and bend the curve down: a
    case still open, or closed for another reason (written off, transferred), is censored on
    its last watched day. The curve is the share cured, ``1 - S(d)``; None past the last day
    any case of the vintage was still watched.
    """
    by_vintage: dict[str, list[CaseSpan]] = {}
    for s in spans:
        by_vintage.setdefault(s.opened_on.strftime("%Y-%m"), []).append(s)
    out = []
    for vintage in sorted(by_vintage):
        cases = by_vintage[vintage]
        watched = Counter[int]()  # days watched -> cases (cured or censored on that day)
        cured_on = Counter[int]()  # days to cure -> cases cured on that day
        for s in cases:
            cured = s.closed_on is not None and s.reason in CURED_REASONS
            end = s.closed_on if s.closed_on is not None else as_of
            days = max((end - s.opened_on).days, 0)
            watched[days] += 1
            if cured:
                cured_on[days] += 1
        at_risk = len(cases)
        uncured = Fraction(1)
        curve: list[Fraction | None] = []
        for d in range(horizon + 1):
            if at_risk == 0:
                curve.append(None)
                continue
            uncured *= 1 - Fraction(cured_on[d], at_risk)
            curve.append(1 - uncured)
            at_risk -= watched[d]
        out.append(CureCurve(vintage, len(cases), tuple(curve)))
    return out
