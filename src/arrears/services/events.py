"""Payments, reversals, waivers and write-offs: validated, idempotent by ref, re-aged.

Every event goes through one path: lock the loan, replay its terms and events (the new one
included) with the pure ledger, post the replay's new entries and, where history changed (a
reversal, a back-dated payment), one adjustment entry that brings every account to the
replay's balance. A refused event writes nothing; the same ref twice applies once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, insert, select

from arrears.ageing.status import Aged, age
from arrears.ledger.account import Allocation
from arrears.ledger.journal import Entry, EntryKind, balances, difference, entry
from arrears.ledger.replay import (
    Event,
    EventRefused,
    Payment,
    Replayed,
    Waiver,
    WriteOff,
    replay,
)
from arrears.loans.product import Component
from arrears.services.accounts import (
    NotFound,
    existing_keys,
    load_accounts,
    load_events,
    load_loan,
    loan_balances,
    post_entries,
    save_accounts,
)
from arrears.store import tables as t


@dataclass(frozen=True, slots=True)
class Problem:
    """Bad input: which record, which field, why. Nothing was written."""

    record: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.field}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Applied:
    loan_id: str
    ref: str
    kind: str
    already_applied: bool
    allocation: Allocation | None
    aged: Aged


def _event(want: dict[str, object]) -> Event | None:
    """The ledger event a new row stands for (None for a reversal, which removes one)."""
    on = want["effective_on"]
    ref = str(want["ref"])
    assert isinstance(on, date)
    kind = want["kind"]
    if kind == "payment":
        return Payment(ref, int(str(want["amount"])), on)
    if kind == "waiver":
        return Waiver(ref, Component(str(want["component"])), int(str(want["amount"])), on)
    if kind == "write_off":
        return WriteOff(ref, on)
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _same(row: object, want: dict[str, object]) -> bool:
    return all(getattr(row, k) == v for k, v in want.items())


def _record(
    engine: Engine,
    loan_id: str,
    want: dict[str, object],
    reversal_of: str | None = None,
    recorded_at: datetime | None = None,
) -> Applied | Problem:
    ref = str(want["ref"])
    kind = str(want["kind"])
    on = want["effective_on"]
    assert isinstance(on, date)
    with engine.begin() as conn:
        try:
            rec = load_loan(conn, loan_id, lock=True)
        except NotFound as exc:
            return Problem(f"loan {loan_id}", "loan_id", str(exc))
        prior = conn.execute(select(t.loan_events).where(t.loan_events.c.ref == ref)).one_or_none()
        if prior is not None:
            if prior.loan_id == loan_id and _same(prior, want):
                stored = load_accounts(conn, [loan_id])[loan_id][1]
                return Applied(loan_id, ref, kind, True, None, age(stored, rec.product))
            return Problem(
                f"ref {ref}",
                "ref",
                f"already used for a {prior.kind} of {prior.amount} fen to loan {prior.loan_id}"
                f" on {prior.effective_on}",
            )
        if on < rec.terms.disbursed_on:
            return Problem(
                f"loan {loan_id}", "on", f"{on} is before disbursement {rec.terms.disbursed_on}"
            )
        extra: list[Entry] = []
        if reversal_of is not None:
            problem = _check_reversal(conn, loan_id, reversal_of)
            if problem:
                return problem
            extra = _reversal_entries(conn, loan_id, reversal_of, ref, on)
        events = [ev for ev in load_events(conn, loan_id) if ev.ref != reversal_of]
        new = _event(want)
        if new is not None:
            events.append(new)
        stored = load_accounts(conn, [loan_id])[loan_id][1]
        result = replay(rec.terms, rec.product, events, max(stored.as_of, on))
        if isinstance(result, EventRefused):
            return Problem(f"ref {result.ref}", result.field, result.reason)
        row = {**want, "loan_id": loan_id, "recorded_at": recorded_at or _now()}
        conn.execute(insert(t.loan_events), [row])
        reconcile(conn, loan_id, result, f"{kind}:{ref}", extra)
        save_accounts(conn, [(result.account, rec.product)])
        return Applied(
            loan_id,
            ref,
            kind,
            False,
            result.allocations.get(ref),
            age(result.account, rec.product),
        )


def reconcile(
    conn: Connection, loan_id: str, result: Replayed, trigger: str, extra: list[Entry]
) -> None:
    """Post what the replay has that the journal lacks, then adjust any remaining difference."""
    keys = existing_keys(conn, loan_id)
    new = [e for e in result.entries if e.key not in keys] + extra
    post_entries(conn, new)
    diff = difference(balances(result.entries), loan_balances(conn, loan_id))
    if diff:
        on = result.account.as_of
        adj = entry(
            f"{loan_id}:adjust:{trigger}", loan_id, EntryKind.ADJUSTMENT, on, diff, "re-aged"
        )
        assert adj is not None
        post_entries(conn, [adj])


def _check_reversal(conn: Connection, loan_id: str, target: str) -> Problem | None:
    row = conn.execute(select(t.loan_events).where(t.loan_events.c.ref == target)).one_or_none()
    if row is None or row.loan_id != loan_id or row.kind != "payment":
        return Problem(f"ref {target}", "reverses", f"no payment {target!r} on loan {loan_id}")
    done = conn.execute(
        select(t.loan_events.c.ref).where(t.loan_events.c.reverses == target)
    ).first()
    if done is not None:
        return Problem(f"ref {target}", "reverses", f"payment {target!r} is already reversed")
    return None


def _reversal_entries(
    conn: Connection, loan_id: str, target: str, ref: str, on: date
) -> list[Entry]:
    """The negation of the payment's own journal entry, as a new entry."""
    key = f"{loan_id}:payment:{target}"
    rows = conn.execute(
        select(t.postings.c.account, t.postings.c.amount)
        .join(t.journal_entries, t.journal_entries.c.entry_id == t.postings.c.entry_id)
        .where(t.journal_entries.c.key == key)
    ).all()
    legs: dict[str, int] = {}
    for account, amount in rows:
        legs[account] = legs.get(account, 0) - int(amount)
    e = entry(
        f"{loan_id}:reversal:{ref}", loan_id, EntryKind.REVERSAL, on, legs, f"reverses {target}"
    )
    return [e] if e else []


def pay(engine: Engine, loan_id: str, amount: int, on: date, ref: str) -> Applied | Problem:
    if amount <= 0:
        return Problem(f"loan {loan_id}", "amount", f"must be positive, got {amount} fen")
    want = {"kind": "payment", "ref": ref, "amount": amount, "effective_on": on}
    return _record(engine, loan_id, want)


def reverse(engine: Engine, payment_ref: str, ref: str, on: date) -> Applied | Problem:
    with engine.connect() as conn:
        row = conn.execute(
            select(t.loan_events.c.loan_id).where(t.loan_events.c.ref == payment_ref)
        ).one_or_none()
    if row is None:
        return Problem(f"ref {payment_ref}", "reverses", f"no payment {payment_ref!r}")
    want = {
        "kind": "reversal",
        "ref": ref,
        "amount": 0,
        "effective_on": on,
        "reverses": payment_ref,
    }
    return _record(engine, row.loan_id, want, reversal_of=payment_ref)


def waive(
    engine: Engine, loan_id: str, component: Component, amount: int, on: date, ref: str
) -> Applied | Problem:
    if amount <= 0:
        return Problem(f"loan {loan_id}", "amount", f"must be positive, got {amount} fen")
    want = {
        "kind": "waiver",
        "ref": ref,
        "amount": amount,
        "component": component.value,
        "effective_on": on,
    }
    return _record(engine, loan_id, want)


def write_off(engine: Engine, loan_id: str, on: date, ref: str) -> Applied | Problem:
    want = {"kind": "write_off", "ref": ref, "amount": 0, "effective_on": on}
    return _record(engine, loan_id, want)
