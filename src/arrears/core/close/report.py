"""The close report: what one business day's close did, as data. Pure; stored as JSON.

Roll rates compare each loan's bucket before the close with its bucket after it. A rate is the
share of the loans that started in a bucket and ended in another, as a decimal string rounded
half-up to four places (the exact counts are kept beside it, so nothing is lost to rounding).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from arrears.core.ageing.status import BUCKETS
from arrears.core.money import fmt, parse_amount


@dataclass(frozen=True, slots=True)
class BucketLine:
    bucket: str
    loans: int
    overdue: int  # fen
    outstanding: int  # fen


@dataclass(frozen=True, slots=True)
class Roll:
    from_bucket: str
    to_bucket: str
    loans: int
    of: int  # loans that started in from_bucket

    @property
    def rate(self) -> str:
        q = Decimal(self.loans) / Decimal(self.of)
        return str(q.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class PromiseCounts:
    due: int = 0
    kept: int = 0
    partly_kept: int = 0
    broken: int = 0


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """The agent call queue at the close: the day's call capacity (agents x calls each), the
    calls the policy chose, those left out over capacity, yesterday's calls that expired
    undialled, and the calls open (not done) once the day's are queued."""

    capacity: int = 0
    planned: int = 0
    over_capacity: int = 0
    expired: int = 0
    open: int = 0


@dataclass(frozen=True)
class CloseReport:
    business_date: date
    engine: str
    loans_aged: int
    loan_days: int
    entries_posted: int
    buckets: tuple[BucketLine, ...]
    rolls: tuple[Roll, ...]
    actions: Mapping[tuple[str, str], int]  # (channel, policy) -> enqueued
    routings: Mapping[tuple[str, str], int]  # (kind, policy) -> count
    blocked: Mapping[str, int]  # rule id -> contacts it blocked
    promises: PromiseCounts = PromiseCounts()
    cases_open: int = 0
    queue: QueueCounts = QueueCounts()
    phases: Mapping[str, float] = field(default_factory=dict)  # seconds per phase
    already_closed: bool = False  # a rerun of a finished close: this is the stored report

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date.isoformat(),
            "engine": self.engine,
            "loans_aged": self.loans_aged,
            "loan_days": self.loan_days,
            "entries_posted": self.entries_posted,
            "buckets": [
                {
                    "bucket": b.bucket,
                    "loans": b.loans,
                    "overdue": fmt(b.overdue),
                    "outstanding": fmt(b.outstanding),
                }
                for b in self.buckets
            ],
            "roll_rates": [
                {
                    "from": r.from_bucket,
                    "to": r.to_bucket,
                    "loans": r.loans,
                    "of": r.of,
                    "rate": r.rate,
                }
                for r in self.rolls
            ],
            "actions": [
                {"channel": c, "policy": p, "count": n}
                for (c, p), n in sorted(self.actions.items())
            ],
            "routings": [
                {"kind": k, "policy": p, "count": n} for (k, p), n in sorted(self.routings.items())
            ],
            "blocked": [{"rule": r, "count": n} for r, n in sorted(self.blocked.items())],
            "promises": {
                "due": self.promises.due,
                "kept": self.promises.kept,
                "partly_kept": self.promises.partly_kept,
                "broken": self.promises.broken,
            },
            "cases_open": self.cases_open,
            "queue": {
                "capacity": self.queue.capacity,
                "planned": self.queue.planned,
                "over_capacity": self.queue.over_capacity,
                "expired": self.queue.expired,
                "open": self.queue.open,
            },
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "already_closed": self.already_closed,
        }


def bucket_lines(rows: Iterable[tuple[str, int, int, int]]) -> tuple[BucketLine, ...]:
    """Sum (bucket, loans, overdue, outstanding) rows into one line per bucket, in bucket order.

    Rows may be single loans (loans = 1) or partial sums from a group-by: addition is all there
    is, so the result is the same either way.
    """
    loans: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    outstanding: Counter[str] = Counter()
    for b, n, o, s in rows:
        loans[b] += n
        overdue[b] += o
        outstanding[b] += s
    return tuple(BucketLine(b, loans[b], overdue[b], outstanding[b]) for b in BUCKETS if loans[b])


def roll_rates(moves_in: Iterable[tuple[str, str, int]]) -> tuple[Roll, ...]:
    """(bucket before, bucket after, loans) rows -> every observed transition with its share."""
    moves: Counter[tuple[str, str]] = Counter()
    for a, b, n in moves_in:
        moves[(a, b)] += n
    starts: Counter[str] = Counter()
    for (a, _), n in moves.items():
        starts[a] += n
    order = {b: k for k, b in enumerate(BUCKETS)}
    return tuple(
        Roll(a, b, n, starts[a])
        for (a, b), n in sorted(moves.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]]))
    )


def report_from_json(d: Mapping[str, Any]) -> CloseReport:
    """A stored report back as data (money strings back to fen)."""
    return CloseReport(
        business_date=date.fromisoformat(d["business_date"]),
        engine=d["engine"],
        loans_aged=d["loans_aged"],
        loan_days=d["loan_days"],
        entries_posted=d["entries_posted"],
        buckets=tuple(
            BucketLine(
                b["bucket"], b["loans"], parse_amount(b["overdue"]), parse_amount(b["outstanding"])
            )
            for b in d["buckets"]
        ),
        rolls=tuple(Roll(r["from"], r["to"], r["loans"], r["of"]) for r in d["roll_rates"]),
        actions={(a["channel"], a["policy"]): a["count"] for a in d["actions"]},
        routings={(a["kind"], a["policy"]): a["count"] for a in d["routings"]},
        blocked={b["rule"]: b["count"] for b in d["blocked"]},
        promises=PromiseCounts(**d["promises"]),
        cases_open=d["cases_open"],
        queue=QueueCounts(**d.get("queue", {})),  # reports stored before it had a queue line
        phases=d["phases"],
    )
