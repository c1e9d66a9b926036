"""Collectors and their training records, pure.

A collector may work (and attend a visit) when registered and trained within the rule pack's
validity period (CN: at least yearly); the compliance gate applies that through
``Context.collectors``, which maps each *registered* collector to their latest training date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from arrears.core.problem import Problem

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Collector:
    collector_id: str
    name: str
    credential_no: str
    registered: bool = True
    agency: str | None = None  # None: the lender's own staff


@dataclass(frozen=True, slots=True)
class Training:
    collector_id: str
    trained_on: date
    course: str


def validate_collector(c: Collector) -> list[Problem]:
    record = f"collector {c.collector_id or '?'}"
    out: list[Problem] = []
    if not _ID.match(c.collector_id):
        out.append(Problem(record, "collector_id", "1-64 letters, digits, . _ -"))
    if not c.name.strip() or len(c.name) > 200:
        out.append(Problem(record, "name", "must be 1-200 characters"))
    if not c.credential_no.strip() or len(c.credential_no) > 64:
        out.append(Problem(record, "credential_no", "must be 1-64 characters"))
    if c.agency is not None and (not c.agency.strip() or len(c.agency) > 200):
        out.append(Problem(record, "agency", "must be 1-200 characters when given"))
    return out


def validate_training(t: Training, today: date) -> list[Problem]:
    record = f"training {t.collector_id} {t.trained_on}"
    out: list[Problem] = []
    if t.trained_on > today:
        out.append(Problem(record, "trained_on", f"is after today ({today})"))
    if not t.course.strip() or len(t.course) > 200:
        out.append(Problem(record, "course", "must be 1-200 characters"))
    return out


def latest_training(
    collectors: Iterable[Collector], trainings: Iterable[Training]
) -> dict[str, date]:
    """Registered collector id -> latest training date (untrained ones are left out: the gate
    then reports them as not trained/registered)."""
    registered = {c.collector_id for c in collectors if c.registered}
    out: dict[str, date] = {}
    for t in trainings:
        if t.collector_id in registered and (
            t.collector_id not in out or t.trained_on > out[t.collector_id]
        ):
            out[t.collector_id] = t.trained_on
    return out
