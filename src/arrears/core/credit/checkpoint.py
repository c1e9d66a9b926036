"""Where a loan's credit history stood at its last exported month, so the next export walks one
month forward instead of replaying the loan from disbursement.

A checkpoint holds the account read (fast engine) on a reporting date and the months derived up
to it. It is valid for a later export only if everything it was derived from is unchanged: the
product settings, the loan's live events dated on or before that date, and the settlement marks
(``key``). A back-dated payment, a reversal or a new mark changes the key and the loan is walked
from the start again. Tests hold an export from checkpoints byte-equal to one without.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from arrears.core.credit.history import CreditHistory, MonthStatus, forecast, history_and_reading
from arrears.core.credit.walk import Snapshot
from arrears.core.ledger.account import Account, Inst, Status
from arrears.core.ledger.plan import Reschedule
from arrears.core.ledger.replay import Event, Payment, Waiver
from arrears.core.loans.product import Product
from arrears.core.loans.schedule import LoanTerms


@dataclass(frozen=True, slots=True)
class Checkpoint:
    through: date
    key: str
    snapshot: Snapshot
    months: tuple[MonthStatus, ...]


@functools.lru_cache(maxsize=64)
def _product_json(product: Product) -> str:
    return product.to_json()  # products are few and frozen; their JSON is costly to build


def _event_key(e: Event) -> tuple[object, ...]:
    # Plain tuples: their repr is several times cheaper than the dataclasses' (dates above all).
    if isinstance(e, Payment):
        return ("payment", e.ref, e.amount, e.on.toordinal())
    if isinstance(e, Waiver):
        return ("waiver", e.ref, e.component.value, e.amount, e.on.toordinal())
    if isinstance(e, Reschedule):
        return (
            "reschedule",
            e.ref,
            e.months,
            e.first_due.toordinal(),
            e.waive_penalty,
            e.waive_interest,
            None if e.rate is None else str(e.rate.value),
            e.on.toordinal(),
        )
    return ("write_off", e.ref, e.on.toordinal())


def key_for(
    product: Product, events: Sequence[Event], settlements: Mapping[str, str], through: date
) -> str:
    """A digest of everything the history through ``through`` is derived from."""
    basis = repr(
        (
            2,  # the key's own layout: a new layout never matches an old checkpoint
            _product_json(product),
            [_event_key(e) for e in events if e.on <= through],
            sorted(settlements.items()),
        )
    )
    return hashlib.sha256(basis.encode()).hexdigest()


# Dates are stored as proleptic ordinals: several times cheaper to write and read than ISO text.
def _d(x: date | None) -> int | None:
    return None if x is None else x.toordinal()


def _p(x: int | None) -> date | None:
    return None if x is None else date.fromordinal(x)


def encode(cp: Checkpoint) -> str:
    a = cp.snapshot.account
    data: dict[str, Any] = {
        "through": cp.through.toordinal(),
        "key": cp.key,
        "as_of": a.as_of.toordinal(),
        "installments": [
            [
                i.n,
                i.start.toordinal(),
                i.due_date.toordinal(),
                i.principal,
                i.interest,
                i.paid_principal,
                i.paid_interest,
            ]
            for i in a.installments
        ],
        "penalty": [a.penalty_unposted, a.penalty_owed, a.prepaid_principal],
        "status": a.status.value,
        "extra": [
            _d(cp.snapshot.last_payment_on),
            _d(cp.snapshot.closed_on),
            cp.snapshot.closed_by,
        ],
        "months": [
            [
                m.month,
                m.reporting_date.toordinal(),
                m.status,
                m.dpd,
                m.overdue_amount,
                m.overdue_periods,
                m.balance,
                m.scheduled,
                _d(m.last_payment_on),
                _d(m.first_delinquency),
                _d(m.closed_on),
            ]
            for m in cp.months
        ],
    }
    return json.dumps(data, separators=(",", ":"))


def decode(terms: LoanTerms, text: str) -> Checkpoint:
    data = json.loads(text)
    day = date.fromordinal
    insts = tuple(
        Inst(n, day(s), day(d), p, i, pp, pi) for n, s, d, p, i, pp, pi in data["installments"]
    )
    unposted, owed, prepaid = data["penalty"]
    acct = Account(
        terms, day(data["as_of"]), insts, unposted, owed, prepaid, Status(data["status"])
    )
    paid, closed_on, closed_by = data["extra"]
    months = tuple(
        MonthStatus(m, day(r), st, dpd, amt, per, bal, sch, _p(lp), _p(fd), _p(co))
        for m, r, st, dpd, amt, per, bal, sch, lp, fd, co in data["months"]
    )
    snap = Snapshot(acct, _p(paid), _p(closed_on), closed_by)
    return Checkpoint(day(data["through"]), data["key"], snap, months)


def history_with_checkpoint(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    as_of: date,
    settlements: Mapping[str, str],
    cp: Checkpoint | None,
) -> tuple[CreditHistory, Checkpoint | None]:
    """The history as of ``as_of`` (fast engine), resumed from ``cp`` when it is still valid,
    and the checkpoint to keep for the next export (None when the account cannot be read)."""
    if cp is not None and usable(cp, product, events, settlements, as_of):
        history, now = history_and_reading(
            terms,
            product,
            events,
            as_of,
            settlements,
            engine="fast",
            start=cp.snapshot,
            months_before=cp.months,
        )
    else:
        history, now = history_and_reading(
            terms, product, events, as_of, settlements, engine="fast"
        )
    if not isinstance(now, Snapshot):
        return history, None
    key = key_for(product, events, settlements, as_of)
    return history, Checkpoint(as_of, key, now, history.months)


def usable(
    cp: Checkpoint | None,
    product: Product,
    events: Sequence[Event],
    settlements: Mapping[str, str],
    as_of: date,
) -> bool:
    """Was ``cp`` derived from the facts as they stand, through a date on or before ``as_of``?"""
    return (
        cp is not None
        and cp.through <= as_of
        and cp.key == key_for(product, events, settlements, cp.through)
    )


def forecast_with_checkpoint(
    terms: LoanTerms,
    product: Product,
    events: Sequence[Event],
    as_of: date,
    months: int,
    settlements: Mapping[str, str],
    cp: Checkpoint | None,
) -> list[MonthStatus]:
    """``history.forecast(..., include_past=True)``, resumed from ``cp`` when it is usable."""
    if cp is not None and cp.months and usable(cp, product, events, settlements, as_of):
        return forecast(
            terms,
            product,
            events,
            as_of,
            months,
            settlements,
            include_past=True,
            start=cp.snapshot,
            months_before=cp.months,
        )
    return forecast(terms, product, events, as_of, months, settlements, include_past=True)
