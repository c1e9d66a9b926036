"""How long negative items stay: the pack's period after the negative conduct ends.

A negative item's conduct ends on the reporting date of the first month from it onwards that
reads ``N``, ``*``, ``C``, ``D`` or ``Z`` (the arrears were cleared; a ``D`` or ``Z`` item ends
its own conduct, the debt being settled). An item in a run that has not ended, and a written-off
``G`` (the debt is still unpaid), has no drop-off date yet. The item drops off on the same
calendar date ``years`` later (29 Feb to 1 Mar: a retention period never ends early) and is left
out of read-outs and exports from that date on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from arrears.core.credit.codes import CONDUCT_ENDS, NEGATIVE
from arrears.core.credit.history import CreditHistory, MonthStatus


@dataclass(frozen=True, slots=True)
class NegativeItem:
    month: str
    status: str
    reporting_date: date
    conduct_ended: date | None
    drops_off: date | None


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 Feb in a year without one
        return date(d.year + years, 3, 1)


def negative_items(months: Sequence[MonthStatus], years: int) -> list[NegativeItem]:
    out: list[NegativeItem] = []
    for k, m in enumerate(months):
        if m.status not in NEGATIVE:
            continue
        ended: date | None = None
        if m.status in CONDUCT_ENDS:
            ended = m.reporting_date
        elif m.status != "G":
            ended = next(
                (n.reporting_date for n in months[k + 1 :] if n.status in CONDUCT_ENDS), None
            )
        out.append(
            NegativeItem(
                m.month,
                m.status,
                m.reporting_date,
                ended,
                None if ended is None else add_years(ended, years),
            )
        )
    return out


def retained(history: CreditHistory, years: int, on: date | None = None) -> CreditHistory:
    """The history without the negative items that dropped off by ``on`` (default: as-of)."""
    today = history.as_of if on is None else on
    gone = {
        i.month
        for i in negative_items(history.months, years)
        if i.drops_off is not None and i.drops_off <= today
    }
    if not gone:
        return history
    return replace(history, months=tuple(m for m in history.months if m.month not in gone))
