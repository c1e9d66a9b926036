"""Payments, reversals, waivers and write-offs: validated, idempotent by ref, re-aged.

Every event goes through one path: lock the loan, replay its terms and events (the new one
included) with the pure ledger, post the replay's new entries and, where history changed (a
reversal, a back-dated payment), one adjustment entry that brings every account to the
replay's balance. A refused event writes nothing; the same ref twice applies once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from arrears.core.ageing.status import Aged, age
from arrears.core.ledger.account import Allocation
from arrears.core.ledger.journal import Entry, EntryKind, adjustment, balances, entry
from arrears.core.ledger.plan import reschedule_event
from arrears.core.ledger.replay import (
    Event,
    Payment,
    Replayed,
    Waiver,
    WriteOff,
    replay,
)
from arrears.core.loans.product import Component
from arrears.core.money import fmt
from arrears.core.problem import Problem, Result, fail, not_found, ok
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
from arrears.services.classification_floor import lift_restructured
from arrears.services.moratoria import loan_pauses
from arrears.store import tables


@dataclass(frozen=True, slots=True)
class Applied:
    loan_id: str
    ref: str
    kind: str
    already_applied: bool
    allocation: Allocation | None
    aged: Aged

    def as_dict(self) -> dict[str, object]:
        """What the command line prints as JSON and the API returns, amounts in yuan."""
        alloc = self.allocation
        return {
            "loan_id": self.loan_id,
            "ref": self.ref,
            "kind": self.kind,
            "already_applied": self.already_applied,
            "allocation": None
            if alloc is None
            else {
                "penalty": fmt(alloc.penalty),
                "interest": fmt(alloc.interest + alloc.prepaid_interest),
                "principal": fmt(alloc.principal + alloc.prepaid_principal),
                "early_principal": fmt(alloc.prepaid_principal),
            },
            "status": self.aged.status,
            "dpd": self.aged.dpd,
            "outstanding": fmt(self.aged.outstanding.total),
        }


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
    if kind == "reschedule":
        first_due = want["first_due"]
        assert isinstance(first_due, date)
        rate = want.get("rate")
        return reschedule_event(
            ref,
            on,
            int(str(want["months"])),
            first_due,
            int(str(want["amount"])),
            int(str(want.get("waive_interest") or 0)),
            None if rate is None else str(rate),
        )
    return None


def _now() -> datetime:
    return datetime.now(UTC)


def _same(row: object, want: dict[str, object]) -> bool:
    return all(getattr(row, k) == v for k, v in want.items())


def _record(engine: Engine, loan_id: str, want: dict[str, object]) -> Result[Applied]:
    return _committed(engine, lambda conn: _one(apply_to_loan(conn, loan_id, [want])))


def _one(result: Result[list[Applied]]) -> Result[Applied]:
    done, problems = result
    return (None, problems) if done is None else ok(done[0])


def _committed(engine: Engine, work: Callable[[Connection], Result[Applied]]) -> Result[Applied]:
    """``work`` in a transaction of its own, committed only when it answers a value."""
    with engine.connect() as conn:
        done, problems = work(conn)
        if done is None:
            return None, problems  # leaving without a commit rolls everything back
        conn.commit()
        return ok(done)


MAX_REF = 128  # the loan_events.ref column


def pay_many(engine: Engine, payments: list[tuple[str, int, date, str]]) -> Result[list[Applied]]:
    """Apply many (loan_id, amount, on, ref) payments in one transaction, all or nothing.

    Each loan is replayed once with all of its new payments, so a bulk load costs one
    replay per loan rather than one per payment.
    """
    by_loan: dict[str, list[dict[str, object]]] = {}
    problems: list[Problem] = []
    for loan_id, amount, on, ref in payments:
        if amount <= 0:
            problems.append(Problem(f"ref {ref}", "amount", f"must be positive, got {amount}"))
        want = {"kind": "payment", "ref": ref, "amount": amount, "effective_on": on}
        by_loan.setdefault(loan_id, []).append(want)
    if problems:
        return fail(*problems)
    applied: list[Applied] = []
    with engine.connect() as conn:
        for loan_id, wants in by_loan.items():
            done, refusal = apply_to_loan(conn, loan_id, wants)
            problems.extend(refusal)
            applied.extend(done or [])
        if problems:
            return fail(*problems)
        conn.commit()
    return ok(applied)


def apply_to_loan(
    conn: Connection,
    loan_id: str,
    wants: list[dict[str, object]],
    reversal_of: str | None = None,
) -> Result[list[Applied]]:
    """Record new events on one loan and re-age it; problems mean the caller must roll back."""
    try:
        rec = load_loan(conn, loan_id, lock=True)
    except NotFound as exc:
        return fail(not_found(f"loan {loan_id}", str(exc), field="loan_id"))
    stored = load_accounts(conn, [loan_id])[loan_id][1]
    done: list[Applied] = []
    fresh: list[dict[str, object]] = []
    for want in wants:
        ref = str(want["ref"])
        if not ref.strip() or len(ref) > MAX_REF:
            return fail(Problem(f"ref {ref[:20]}", "ref", f"must be 1..{MAX_REF} characters"))
        on = want["effective_on"]
        assert isinstance(on, date)
        prior = conn.execute(
            select(tables.loan_events).where(tables.loan_events.c.ref == ref)
        ).one_or_none()
        if prior is not None:
            if prior.loan_id == loan_id and _same(prior, want):
                done.append(
                    Applied(loan_id, ref, str(want["kind"]), True, None, age(stored, rec.product))
                )
                continue
            return fail(
                Problem(
                    f"ref {ref}",
                    "ref",
                    f"already used for a {prior.kind} of {prior.amount} fen to loan {prior.loan_id}"
                    f" on {prior.effective_on}",
                )
            )
        if any(f["ref"] == ref for f in fresh):
            return fail(Problem(f"ref {ref}", "ref", "appears twice in one request"))
        if on < rec.terms.disbursed_on:
            return fail(
                Problem(
                    f"loan {loan_id}", "on", f"{on} is before disbursement {rec.terms.disbursed_on}"
                )
            )
        fresh.append(want)
    if not fresh:
        return ok(done)
    extra: list[Entry] = []
    if reversal_of is not None:
        problem = _check_reversal(conn, loan_id, reversal_of)
        if problem:
            return fail(problem)
        on = fresh[0]["effective_on"]
        assert isinstance(on, date)
        extra = _reversal_entries(conn, loan_id, reversal_of, str(fresh[0]["ref"]), on)
    events = [ev for ev in load_events(conn, loan_id) if ev.ref != reversal_of]
    events += [e for e in map(_event, fresh) if e is not None]
    latest = max(d for d in (f["effective_on"] for f in fresh) if isinstance(d, date))
    pauses = loan_pauses(conn, [loan_id]).get(loan_id, ())  # the close's days without penalty
    result, refused = replay(
        rec.terms, rec.product, events, max(stored.as_of, latest), pauses=pauses
    )
    if result is None:
        return None, refused
    now = _now()
    rows = [{**f, "loan_id": loan_id, "recorded_at": now} for f in fresh]
    try:
        with conn.begin_nested():  # a savepoint: a clash fails this loan, not the session
            conn.execute(insert(tables.loan_events), rows)
    except IntegrityError:
        # Another transaction recorded the same ref (on another loan) since we looked.
        refs = ", ".join(str(f["ref"]) for f in fresh)
        return fail(
            Problem(f"ref {refs}", "ref", "already used by a payment recorded at the same time")
        )
    trigger = f"{fresh[0]['kind']}:{fresh[0]['ref']}"
    reconcile(conn, loan_id, result, trigger, extra)
    save_accounts(conn, [(result.account, rec.product)])
    lift_restructured(conn, [loan_id])  # a restructured loan stays at least special mention
    aged = age(result.account, rec.product)
    for f in fresh:
        ref = str(f["ref"])
        done.append(Applied(loan_id, ref, str(f["kind"]), False, result.allocations.get(ref), aged))
    return ok(done)


def reconcile(
    conn: Connection, loan_id: str, result: Replayed, trigger: str, extra: list[Entry]
) -> None:
    """Post what the replay has that the journal lacks, then adjust any remaining difference."""
    keys = existing_keys(conn, loan_id)
    new = [e for e in result.entries if e.key not in keys] + extra
    post_entries(conn, new)
    held = loan_balances(conn, loan_id)
    adj = adjustment(loan_id, trigger, result.account.as_of, balances(result.entries), held)
    if adj is not None:
        post_entries(conn, [adj])


def _check_reversal(conn: Connection, loan_id: str, target: str) -> Problem | None:
    row = conn.execute(
        select(tables.loan_events).where(tables.loan_events.c.ref == target)
    ).one_or_none()
    if row is None or row.loan_id != loan_id or row.kind not in ("payment", "reschedule"):
        return Problem(f"ref {target}", "reverses", f"no payment {target!r} on loan {loan_id}")
    done = conn.execute(
        select(tables.loan_events.c.ref).where(tables.loan_events.c.reverses == target)
    ).first()
    if done is not None:
        return Problem(f"ref {target}", "reverses", f"payment {target!r} is already reversed")
    return None


def _reversal_entries(
    conn: Connection, loan_id: str, target: str, ref: str, on: date
) -> list[Entry]:
    """The negation of the payment's own journal entry, as a new entry (a reschedule has none
    of its own to negate: the replay without it re-ages the loan back, by adjustment)."""
    key = f"{loan_id}:payment:{target}"
    rows = conn.execute(
        select(tables.postings.c.account, tables.postings.c.amount)
        .join(
            tables.journal_entries, tables.journal_entries.c.entry_id == tables.postings.c.entry_id
        )
        .where(tables.journal_entries.c.key == key)
    ).all()
    legs: dict[str, int] = {}
    for account, amount in rows:
        legs[account] = legs.get(account, 0) - int(amount)
    e = entry(
        f"{loan_id}:reversal:{ref}", loan_id, EntryKind.REVERSAL, on, legs, f"reverses {target}"
    )
    return [e] if e else []


def pay(engine: Engine, loan_id: str, amount: int, on: date, ref: str) -> Result[Applied]:
    return _committed(engine, lambda conn: pay_in(conn, loan_id, amount, on, ref))


def pay_in(conn: Connection, loan_id: str, amount: int, on: date, ref: str) -> Result[Applied]:
    """Apply a payment inside the caller's transaction (problems: the caller rolls back)."""
    if amount <= 0:
        return fail(Problem(f"loan {loan_id}", "amount", f"must be positive, got {amount} fen"))
    want = {"kind": "payment", "ref": ref, "amount": amount, "effective_on": on}
    return _one(apply_to_loan(conn, loan_id, [want]))


def reverse(engine: Engine, payment_ref: str, ref: str, on: date) -> Result[Applied]:
    return _committed(engine, lambda conn: reverse_in(conn, payment_ref, ref, on))


def reverse_in(conn: Connection, target_ref: str, ref: str, on: date) -> Result[Applied]:
    """Reverse the payment (or the plan's reschedule) ``target_ref`` inside the caller's
    transaction; the loan is re-aged as if it had never been."""
    row = conn.execute(
        select(tables.loan_events.c.loan_id).where(tables.loan_events.c.ref == target_ref)
    ).one_or_none()
    if row is None:
        return fail(not_found(f"ref {target_ref}", f"no payment {target_ref!r}", "reverses"))
    want = {
        "kind": "reversal",
        "ref": ref,
        "amount": 0,
        "effective_on": on,
        "reverses": target_ref,
    }
    done, problems = apply_to_loan(conn, row.loan_id, [want], target_ref)
    return (None, problems) if done is None else ok(done[0])


def waive(
    engine: Engine, loan_id: str, component: Component, amount: int, on: date, ref: str
) -> Result[Applied]:
    return _committed(engine, lambda conn: waive_in(conn, loan_id, component, amount, on, ref))


def waive_in(
    conn: Connection, loan_id: str, component: Component, amount: int, on: date, ref: str
) -> Result[Applied]:
    if amount <= 0:
        return fail(Problem(f"loan {loan_id}", "amount", f"must be positive, got {amount} fen"))
    want = {
        "kind": "waiver",
        "ref": ref,
        "amount": amount,
        "component": component.value,
        "effective_on": on,
    }
    return _one(apply_to_loan(conn, loan_id, [want]))


def write_off(engine: Engine, loan_id: str, on: date, ref: str) -> Result[Applied]:
    want = {"kind": "write_off", "ref": ref, "amount": 0, "effective_on": on}
    return _record(engine, loan_id, want)
