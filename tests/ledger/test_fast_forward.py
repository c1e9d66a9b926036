"""The replay's fast forward over quiet days equals the day-by-day close.

``replay`` closes an account from one event date to the next with ``close_through`` instead of
one ``accrue_loan_day`` per calendar day. The reference here is the day-by-day loop itself: a driver
that closes one day at a time with ``accrue_loan_day`` and applies events after each day's close (as
the daily close and the payment service do), and a copy of the replay as it was before the
fast forward. Both must give exactly the same account, the same entries (key, kind, date,
postings, memo, in the same order) and the same allocations or the same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.core.ledger.account import (
    ONE_DAY,
    Account,
    Allocation,
    Status,
    accrue_loan_day,
    close_through,
    open_account,
    payoff_amount,
)
from arrears.core.ledger.journal import Entry
from arrears.core.ledger.replay import (
    Event,
    Payment,
    Replayed,
    Waiver,
    WriteOff,
    apply_event,
    replay,
)
from arrears.core.loans.product import Component, Method, PenaltyBase, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.core.problem import Problem, Result, fail, ok
from factories import succeeded

rates = st.one_of(
    st.builds(lambda bp: Rate(Fraction(bp, 100_000), RateBasis.DAILY), st.integers(0, 100)),
    st.builds(lambda bp: Rate(Fraction(bp, 10_000), RateBasis.ANNUAL), st.integers(0, 3600)),
)

terms_st = st.builds(
    LoanTerms,
    loan_id=st.just("L1"),
    principal=st.integers(1, 5_000_000),
    rate=rates,
    months=st.sampled_from([1, 2, 3, 6, 12, 24, 36]),
    method=st.sampled_from(list(Method)),
    disbursed_on=st.dates(date(2023, 1, 1), date(2025, 12, 31)),
    due_day=st.one_of(st.none(), st.integers(1, 31)),
)

products_st = st.builds(
    Product,
    grace_days=st.integers(0, 10),
    penalty_base=st.sampled_from(list(PenaltyBase)),
    penalty_multiplier=st.sampled_from([Fraction(0), Fraction(1), Fraction(3, 2), Fraction(2)]),
    days_per_year=st.sampled_from([360, 365]),
    min_first_period_days=st.integers(0, 28),
    waterfall=st.sampled_from(
        [
            (Component.PENALTY, Component.INTEREST, Component.PRINCIPAL),
            (Component.INTEREST, Component.PRINCIPAL, Component.PENALTY),
            (Component.PRINCIPAL, Component.INTEREST, Component.PENALTY),
        ]
    ),
)

KINDS = ("pay", "pay", "pay", "prepay", "waive-penalty", "waive-interest", "write-off")
# (days after the previous event, what it is, a share in thousandths)
plan_st = st.lists(
    st.tuples(st.integers(0, 150), st.sampled_from(KINDS), st.integers(1, 1000)), max_size=10
)


def daily_replay(
    terms: LoanTerms, product: Product, events: list[Event], through: date
) -> Result[Replayed]:
    """``replay`` as it was written before the fast forward: one ``accrue_loan_day`` per day."""
    acct, entries = open_account(terms, product)
    allocations: dict[str, Allocation] = {}
    pending = sorted((ev for ev in events if ev.on <= through), key=lambda ev: ev.on)
    for ev in pending:
        if ev.on < terms.disbursed_on:
            return fail(
                Problem(
                    f"ref {ev.ref}", "on", f"{ev.on} is before disbursement {terms.disbursed_on}"
                )
            )
    k = 0
    day = terms.disbursed_on
    while True:
        while k < len(pending) and pending[k].on == day:
            res, problems = apply_event(acct, product, pending[k])
            if res is None:
                return None, problems
            acct, new, alloc = res
            entries.extend(new)
            if alloc is not None:
                allocations[pending[k].ref] = alloc
            k += 1
        if day >= through:
            break
        day += ONE_DAY
        acct, new = accrue_loan_day(acct, product, day)
        entries.extend(new)
    return ok(Replayed(acct, entries, allocations))


@dataclass
class Driven:
    account: Account
    entries: list[Entry]
    events: list[Event]
    allocations: dict[str, Allocation]
    states: list[Account]  # the account after each day's close, for close_through's own test


def drive(
    terms: LoanTerms, product: Product, plan: list[tuple[int, str, int]], through: date
) -> Driven:
    """Close day by day; on each planned day make an event sized from the account then."""
    acct, entries = open_account(terms, product)
    events: list[Event] = []
    allocations: dict[str, Allocation] = {}
    states = [acct]
    targets: list[tuple[date, str, int]] = []
    day = terms.disbursed_on
    for gap, kind, share in plan:
        day += timedelta(days=gap)
        targets.append((day, kind, share))
    k = 0
    while True:
        while k < len(targets) and targets[k][0] == acct.as_of:
            on, kind, share = targets[k]
            k += 1
            ref = f"e{k}"
            ev: Event
            if kind in ("pay", "prepay"):
                payoff = payoff_amount(acct, product, on)
                due = sum(i.unpaid for i in acct.installments if i.due_date <= on)
                owed = due + acct.penalty_owed + acct.penalty_unposted
                # "pay": part or all of what is due; "prepay": what is due plus part of the rest
                extra = (payoff - owed) * share // 1000 if kind == "prepay" else 0
                amount = owed + extra if kind == "prepay" else owed * share // 1000
                ev = Payment(ref, max(1, amount), on)
            elif kind == "waive-penalty":
                owed = acct.penalty_owed + acct.penalty_unposted
                ev = Waiver(ref, Component.PENALTY, max(1, owed * share // 1000), on)
            elif kind == "waive-interest":
                due = sum(i.unpaid_interest for i in acct.installments if i.due_date <= on)
                ev = Waiver(ref, Component.INTEREST, max(1, due * share // 1000), on)
            else:
                ev = WriteOff(ref, on)
            res, _ = apply_event(acct, product, ev)
            if res is None:
                continue  # e.g. nothing to waive, or the loan is settled: not an event then
            acct, new, alloc = res
            entries.extend(new)
            events.append(ev)
            if alloc is not None:
                allocations[ev.ref] = alloc
        if acct.as_of >= through:
            break
        acct, new = accrue_loan_day(acct, product, acct.as_of + ONE_DAY)
        entries.extend(new)
        states.append(acct)
    return Driven(acct, entries, events, allocations, states)


def same_journal(a: list[Entry], b: list[Entry]) -> bool:
    return a == b  # Entry is a frozen dataclass: key, loan, kind, date, postings and memo


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=terms_st, product=products_st, plan=plan_st, extra=st.integers(0, 500))
def test_replay_equals_the_day_by_day_close(
    terms: LoanTerms, product: Product, plan: list[tuple[int, str, int]], extra: int
) -> None:
    through = terms.disbursed_on + timedelta(days=sum(g for g, _, _ in plan) + extra)
    driven = drive(terms, product, plan, through)
    fast = succeeded(replay(terms, product, driven.events, through))
    assert fast.account == driven.account
    assert same_journal(fast.entries, driven.entries)
    assert fast.allocations == driven.allocations
    # The old replay, on the same events, agrees too (and so is still the reference).
    assert succeeded(daily_replay(terms, product, driven.events, through)) == fast


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=terms_st, product=products_st, plan=plan_st, data=st.data())
def test_close_through_equals_close_day_from_any_state(
    terms: LoanTerms, product: Product, plan: list[tuple[int, str, int]], data: st.DataObject
) -> None:
    """From any account the driver reached (paid, part paid, overdue, settled, written off),
    closing N days at once equals N closes of one day."""
    through = terms.disbursed_on + timedelta(days=sum(g for g, _, _ in plan) + 60)
    states = drive(terms, product, plan, through).states
    acct = data.draw(st.sampled_from(states))
    days = data.draw(st.integers(0, 800))
    expected, entries = acct, []
    for _ in range(days):
        expected, new = accrue_loan_day(expected, product, expected.as_of + ONE_DAY)
        entries += new
    got, got_entries = close_through(acct, product, acct.as_of + timedelta(days=days))
    assert got == expected
    assert same_journal(got_entries, entries)


events_st = st.lists(
    st.one_of(
        st.builds(lambda d, a: ("pay", d, a), st.integers(-3, 500), st.integers(-5, 2_000_000)),
        st.builds(
            lambda d, a, c: ("waive", d, a, c),
            st.integers(0, 500),
            st.integers(-5, 50_000),
            st.sampled_from(list(Component)),
        ),
        st.builds(lambda d: ("write-off", d), st.integers(0, 500)),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=terms_st, product=products_st, raw=events_st, span=st.integers(0, 700))
def test_replay_equals_daily_replay_on_arbitrary_events(
    terms: LoanTerms, product: Product, raw: list[tuple[object, ...]], span: int
) -> None:
    """Events with any amounts and dates: refusals (too much, before disbursement, settled or
    written-off loans, principal waivers) come out the same as well as the accepted ones."""
    events: list[Event] = []
    for k, r in enumerate(raw):
        on = terms.disbursed_on + timedelta(days=int(str(r[1])))
        if r[0] == "pay":
            events.append(Payment(f"p{k}", int(str(r[2])), on))
        elif r[0] == "waive":
            assert isinstance(r[3], Component)
            events.append(Waiver(f"w{k}", r[3], int(str(r[2])), on))
        else:
            events.append(WriteOff(f"x{k}", on))
    through = terms.disbursed_on + timedelta(days=span)
    assert replay(terms, product, events, through) == daily_replay(terms, product, events, through)


def test_a_long_quiet_loan_gets_every_month_end_posting() -> None:
    """Never paid, 0.05% a day, closed at once over a year: one penalty entry per month end
    from the first overdue month, each the sum of that month's daily penalties."""
    terms = LoanTerms(
        "L1", 120_000, Rate.parse("0.05%", "daily"), 3, Method.EQUAL_PRINCIPAL, date(2025, 1, 10)
    )
    product = Product()
    res = succeeded(replay(terms, product, [], date(2025, 12, 31)))
    penalties = [e for e in res.entries if e.kind.value == "penalty"]
    assert [e.effective_on for e in penalties] == [
        date(2025, m + 1, 1) - ONE_DAY for m in range(2, 12)
    ] + [date(2025, 12, 31)]
    # February: installment 1 (400.00 + 18.60) overdue from 2025-02-11, 18 days of
    # round_half_up(418.60 x 0.0005 x 1.5 = 0.31395) = 0.31.
    assert penalties[0].postings[0].amount == 18 * 31
    assert res.account.status is Status.ACTIVE


@st.composite
def pauses_st(draw: st.DrawFn, start: date) -> tuple[tuple[date, date], ...]:
    """Up to three moratoria (possibly overlapping, one maybe open-ended) around ``start``."""
    out = []
    for _ in range(draw(st.integers(0, 3))):
        first = start + timedelta(days=draw(st.integers(-30, 400)))
        last = (
            date.max
            if draw(st.booleans()) and not out
            else first + timedelta(days=draw(st.integers(0, 120)))
        )
        out.append((first, last))
    return tuple(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(terms=terms_st, product=products_st, plan=plan_st, data=st.data())
def test_close_through_with_moratoria_equals_close_day_without_penalty_on_those_days(
    terms: LoanTerms, product: Product, plan: list[tuple[int, str, int]], data: st.DataObject
) -> None:
    """Breathing Space (Debt Respite Scheme Regulations 2020 reg. 7): no penalty on the days a
    moratorium is in force. The reference is the day-by-day close with those days not
    accruing; the fast forward must agree on the account and the journal."""
    through = terms.disbursed_on + timedelta(days=sum(g for g, _, _ in plan) + 60)
    acct = data.draw(st.sampled_from(drive(terms, product, plan, through).states))
    pauses = data.draw(pauses_st(acct.as_of))
    days = data.draw(st.integers(0, 500))
    expected, entries = acct, []
    for _ in range(days):
        day = expected.as_of + ONE_DAY
        paused = any(first <= day <= last for first, last in pauses)
        expected, new = accrue_loan_day(expected, product, day, accrues=not paused)
        entries += new
    got, got_entries = close_through(acct, product, acct.as_of + timedelta(days=days), pauses)
    assert got == expected
    assert same_journal(got_entries, entries)
    # A pause never adds penalty: at most what the same days add without it.
    free, _ = close_through(acct, product, acct.as_of + timedelta(days=days))
    assert got.penalty_owed + got.penalty_unposted <= free.penalty_owed + free.penalty_unposted
