"""The credit walk's shortcuts equal the ledger they stand in for, and the batched, resumable
outlooks equal one forecast per loan.

* ``open_fast`` (the schedule in integers) equals ``ledger.account.open_account``;
* ``pay_within_due`` equals ``ledger.account.apply_payment`` whenever it takes a payment, and
  declines exactly the payments larger than what is due (those go to the ledger);
* ``month_statuses`` (prefix sums per set of installments) equals the rules of docs/credit.md
  written out installment by installment (``reference_statuses`` below);
* a forecast resumed from a checkpoint equals one from disbursement;
* ``service.outlooks`` equals ``history.forecast`` per loan, with and without checkpoints, after
  a back-dated payment, a reversal, a waiver and a write-off, and reads the same live events as
  ``services.accounts.load_events``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_credit_export import load_sample
from test_credit_walk import portfolio

from arrears.core.credit import checkpoint
from arrears.core.credit.history import (
    MonthStatus,
    forecast,
    month_key,
    month_statuses,
    reporting_date,
    reporting_dates,
    wanted_dates,
)
from arrears.core.credit.walk import Reading, Snapshot, open_fast, pay_within_due, walk
from arrears.core.ledger.account import (
    ONE_DAY,
    Account,
    Inst,
    Status,
    accrue_loan_day,
    apply_payment,
    open_account,
)
from arrears.core.loans.product import (
    DEFAULT_PRODUCT,
    DEFAULT_WATERFALL,
    Component,
    Method,
    PenaltyBase,
    Product,
)
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.services import accounts
from arrears.services import credit as svc
from arrears.services import events as ev
from factories import succeeded

rates = st.one_of(
    st.builds(
        lambda k, d: Rate(Fraction(k, d), RateBasis.ANNUAL),
        st.integers(0, 360),
        st.sampled_from([100, 1000, 10000, 7]),
    ),
    st.builds(
        lambda k, d: Rate(Fraction(k, d), RateBasis.DAILY),
        st.integers(0, 50),
        st.sampled_from([10000, 100000, 3]),
    ),
)
loan_terms = st.builds(
    LoanTerms,
    st.just("L1"),
    st.one_of(st.integers(1, 2000), st.integers(1, 10**9)),  # small: exact halves are common
    rates,
    st.integers(1, 60),
    st.sampled_from(list(Method)),
    st.dates(date(2000, 1, 1), date(2035, 12, 31)),
    st.one_of(st.none(), st.integers(1, 31)),
)
products = st.builds(
    Product,
    product_id=st.just("p"),
    grace_days=st.integers(0, 5),
    penalty_base=st.sampled_from(list(PenaltyBase)),
    waterfall=st.sampled_from(list(itertools.permutations(DEFAULT_WATERFALL))),
    days_per_year=st.sampled_from([360, 365]),
    min_first_period_days=st.integers(0, 28),
)


@settings(max_examples=400, deadline=None)
@given(loan_terms, products)
def test_the_integer_schedule_equals_the_ledgers(terms: LoanTerms, product: Product) -> None:
    assert open_fast(terms, product) == open_account(terms, product)[0]


def _due_and_penalty(acct: Account, on: date) -> int:
    """Independently: the installments due by ``on`` unpaid, and all penalty."""
    due = sum(i.unpaid for i in acct.installments if i.due_date <= on)
    return due + acct.penalty_owed + acct.penalty_unposted


@settings(max_examples=150, deadline=None)
@given(
    loan_terms.filter(lambda t: t.months <= 12),
    products,
    st.lists(st.tuples(st.integers(1, 70), st.integers(-5, 400_000)), min_size=1, max_size=6),
)
def test_payments_within_what_is_due_equal_the_ledgers(
    terms: LoanTerms, product: Product, payments: list[tuple[int, int]]
) -> None:
    acct, _ = open_account(terms, product)
    taken = 0
    for gap, amount in payments:
        for _ in range(gap):
            acct, _ = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
        on = acct.as_of
        # Around the boundary too: exactly what is due, one fen more, and the amount drawn.
        limit = _due_and_penalty(acct, on)
        for pay in (amount, limit, limit + 1):
            fast = pay_within_due(acct, product, pay, on)
            ledger, _ = apply_payment(acct, product, "R", pay, on)
            if fast is None:
                assert pay <= 0 or pay > limit or acct.status is not Status.ACTIVE
            else:
                assert 0 < pay <= limit
                assert ledger is not None
                assert fast == ledger[0]
                taken += 1
        ledger, _ = apply_payment(acct, product, "R", amount, on)
        if ledger is not None:
            acct = ledger[0]


def reference_statuses(
    terms: LoanTerms,
    readings: Mapping[date, Reading],
    reps: Sequence[date],
    settlements: Mapping[str, str],
) -> list[MonthStatus]:
    """docs/credit.md's monthly status, read installment by installment (from disbursement)."""
    out: list[MonthStatus] = []
    prev = date.min
    for r in reps:
        reading = readings[r]
        if not isinstance(reading, Snapshot):
            out.append(MonthStatus(month_key(r), r, "#", 0, 0, 0, 0, 0, None, None, None))
            prev = r
            continue
        a = reading.account
        due = [i for i in a.installments if i.due_date <= r and i.unpaid > 0]
        in_month = [i for i in a.installments if prev < i.due_date <= r]
        dpd = (r - due[0].due_date).days if due else 0

        def missed(i: Inst) -> bool:
            then = readings[i.due_date]
            assert isinstance(then, Snapshot)
            return any(j.n == i.n and j.unpaid > 0 for j in then.account.installments)

        status: str
        if a.status is Status.WRITTEN_OFF:
            status = "G"
        elif a.status is Status.SETTLED:
            status = {"guarantor": "D", "assets": "Z"}.get(
                settlements.get(reading.closed_by or "", ""), "C"
            )
        elif due:
            status = "1234567"[max(1, min(7, (dpd + 29) // 30)) - 1]
        elif any(missed(i) for i in in_month):
            status = "1"
        else:
            status = "N" if in_month else "*"
        balance = (
            sum(i.unpaid_principal for i in a.installments)
            + sum(i.unpaid_interest for i in a.installments if i.due_date <= r)
            + a.penalty_owed
            + a.penalty_unposted
        )
        out.append(
            MonthStatus(
                month_key(r),
                r,
                status,  # type: ignore[arg-type]
                dpd,
                sum(i.unpaid for i in due),
                len(due),
                balance,
                sum(i.principal + i.interest for i in in_month),
                reading.last_payment_on,
                due[0].due_date if due else None,
                reading.closed_on,
            )
        )
        prev = r
        if a.status is not Status.ACTIVE:
            break
    return out


def test_month_statuses_equal_the_rules_read_installment_by_installment() -> None:
    seen: set[str] = set()
    for product in (DEFAULT_PRODUCT, Product(product_id="g3", grace_days=3)):
        for t, evs in portfolio(80, 33):
            reps = reporting_dates(t, t.disbursed_on, date(2026, 8, 31))
            marks = {e.ref: "guarantor" for e in evs[-1:]}  # the last payment may settle it
            for engine in ("fast", "daily"):
                readings = walk(t, product, evs, wanted_dates(t, product, reps), engine=engine)
                got = month_statuses(t, readings, reps, marks)
                assert got == reference_statuses(t, readings, reps, marks), t.loan_id
                seen.update(m.status for m in got)
    assert {"N", "1", "2", "7", "C", "G", "D"} <= seen  # the cases were exercised


def test_a_forecast_resumed_from_a_checkpoint_equals_one_from_disbursement() -> None:
    resumed = 0
    for t, evs in portfolio(60, 21):
        product = Product(product_id="g2", grace_days=2)
        through = reporting_date(t, 2026, 1)
        if through < t.disbursed_on:
            continue
        _, cp = checkpoint.history_with_checkpoint(t, product, evs, through, {}, None)
        late = [*evs, ev_payment(t.loan_id, through - timedelta(days=3))]
        for as_of in (through, through + timedelta(days=9), date(2026, 3, 31), date(2026, 6, 30)):
            for events in (evs, late):  # the back-dated payment makes the checkpoint unusable
                want = forecast(t, product, events, as_of, 2, {}, include_past=True)
                got = checkpoint.forecast_with_checkpoint(t, product, events, as_of, 2, {}, cp)
                assert got == want, (t.loan_id, as_of)
                if events is evs and cp is not None and cp.months:
                    assert checkpoint.usable(cp, product, events, {}, as_of)
                    resumed += 1
    assert resumed > 100  # the resumed path was taken, not only the fallback


def ev_payment(loan_id: str, on: date) -> svc.Payment:
    return svc.Payment(f"{loan_id}-LATE", 1000, on)


def _per_loan(engine: Engine, as_of: date) -> None:
    with engine.connect() as conn:
        facts = svc.load_facts(conn)
        looks = svc.outlooks(conn, as_of, loan_ids=sorted(facts))
        for lid in facts:
            assert facts[lid].events == tuple(accounts.load_events(conn, lid)), lid
    assert looks, as_of
    for o in looks:
        f = facts[o.loan_id]
        want = forecast(f.terms, f.product, f.events, as_of, 2, f.settlements, include_past=True)
        assert o.months == tuple(want), (o.loan_id, as_of)
        assert o.borrower_id == f.borrower_id
    assert {o.loan_id for o in looks} == {
        lid for lid, f in facts.items() if f.terms.disbursed_on <= as_of
    }


def test_outlooks_equal_the_forecast_of_each_loan(engine: Engine, tmp_path: Path) -> None:
    load_sample(engine, tmp_path, 30)
    days = (date(2026, 1, 15), date(2026, 2, 28), date(2026, 6, 30))
    for day in days:
        _per_loan(engine, day)
    # Checkpoints from an export: outlooks resume from them where they are still valid.
    succeeded(svc.export_month(engine, "2026-01", "jsonl", tmp_path / "jan.jsonl"))
    for day in days[1:]:
        _per_loan(engine, day)
    with engine.connect() as conn:
        facts = svc.load_facts(conn)
    paid = sorted((f.terms.disbursed_on, lid) for lid, f in facts.items() if f.events)
    a, b = (lid for _, lid in paid[:2])
    succeeded(ev.pay(engine, a, 500, date(2026, 1, 3), "BACK-1"))
    succeeded(ev.reverse(engine, facts[b].events[0].ref, "REV-1", date(2026, 2, 1)))
    # A write-off and a waiver on the first loans still active that take them.
    others = sorted(set(facts) - {a, b})
    got = [ev.write_off(engine, lid, date(2026, 2, 20), "WO-1") for lid in others]
    assert any(not problems for _, problems in got), got
    got = [ev.waive(engine, lid, Component.PENALTY, 1, date(2026, 2, 25), "WV-1") for lid in others]
    assert any(not problems for _, problems in got), got
    for day in days[1:]:
        _per_loan(engine, day)
