"""The columnar close's invariants fire on a corrupted state or day (issue 14, item 6).

The property tests (test_kernel_property.py) run every kernel day with the checks on, so they
hold on every day the reference agrees with; here each check is shown to fire, naming the
loan, when what it guards is broken: a negative balance, an entry whose legs cannot balance,
principal that vanished, overdue amounts or penalty that moved without cause. And under
``python -O`` too.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from arrears.core.close import invariants
from arrears.core.close import kernel as k
from arrears.core.close.frames import frames_from_accounts
from arrears.core.close.invariants import BrokenInvariant, check_day
from arrears.core.ledger.account import ONE_DAY, accrue_loan_day, open_account, write_off
from arrears.core.loans.product import Method, Product
from arrears.core.loans.schedule import LoanTerms
from arrears.core.money import Rate, RateBasis
from arrears.core.problem import expect

MONTH_END = date(2024, 3, 31)
PRODUCT = Product(grace_days=1)


def terms(loan_id: str, disbursed: date) -> LoanTerms:
    return LoanTerms(
        loan_id,
        1_200_000,
        Rate(Fraction(5, 10_000), RateBasis.DAILY),
        6,
        Method.ANNUITY,
        disbursed,
        None,
    )


def book(*, written_off: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three loans closed by the reference to the day before a month end: ``LATE`` overdue
    since February (penalty accruing), ``DUE`` with an installment falling due on the month
    end, ``NEW`` current; with ``written_off``, a written-off ``WO`` as well."""
    loans = []
    for loan_id, disbursed in (
        ("LATE", date(2024, 1, 10)),
        ("DUE", date(2024, 1, 31)),
        ("NEW", date(2024, 3, 20)),
    ):
        acct, _ = open_account(terms(loan_id, disbursed), PRODUCT)
        while acct.as_of < MONTH_END - ONE_DAY:
            acct, _ = accrue_loan_day(acct, PRODUCT, acct.as_of + ONE_DAY)
        loans.append((acct, PRODUCT))
    if written_off:
        acct, _ = open_account(terms("WO", date(2024, 1, 5)), PRODUCT)
        while acct.as_of < date(2024, 3, 1):
            acct, _ = accrue_loan_day(acct, PRODUCT, acct.as_of + ONE_DAY)
        step = expect(write_off(acct, "w", acct.as_of))
        acct = step[0]
        while acct.as_of < MONTH_END - ONE_DAY:
            acct, _ = accrue_loan_day(acct, PRODUCT, acct.as_of + ONE_DAY)
        loans.append((acct, PRODUCT))
    return frames_from_accounts(loans)


DAY = k.day_number(MONTH_END)


def closed() -> tuple[pl.DataFrame, pl.DataFrame, k.DayResult]:
    state, insts = book()
    return state, insts, k.accrue_portfolio_day(state, insts, DAY)


def set_value(frame: pl.DataFrame, loan_id: str, column: str, change: int) -> pl.DataFrame:
    """``frame`` with ``column`` of ``loan_id`` moved by ``change`` (a new column buffer)."""
    hit = pl.col("loan_id") == loan_id
    return frame.with_columns(
        pl.when(hit).then(pl.col(column) + change).otherwise(pl.col(column)).alias(column)
    )


def test_the_book_is_what_the_checks_need() -> None:
    # The day really has a penalty posting, interest falling due and a loan going overdue.
    state, insts, res = closed()
    assert k.is_month_end(DAY)
    kinds = set(res.entries["kind"].to_list())
    assert kinds == {k.KIND_INTEREST, k.KIND_PENALTY}
    late = res.state.filter(pl.col("loan_id") == "LATE").row(0, named=True)
    assert late["od_principal"] > 0 and late["penalty_owed"] > 0
    # and the checks pass on it, day by day over two months
    adv = k.accrue_portfolio_through(state, insts, DAY + 61)
    assert adv.loan_days == 3 * 62


def test_constants_agree_with_the_kernel() -> None:
    assert k.STATUSES.index("active") == invariants.ACTIVE
    assert k.STATUSES.index("written_off") == invariants.WRITTEN_OFF
    assert (invariants.KIND_INTEREST, invariants.KIND_PENALTY) == (k.KIND_INTEREST, k.KIND_PENALTY)
    assert set(invariants.NON_NEGATIVE) <= set(k.STATE_SCHEMA)


@pytest.mark.parametrize("column", ["penalty_owed", "os_principal", "od_interest"])
def test_a_negative_balance_handed_in_stops_the_close(column: str) -> None:
    state, insts = book()
    current = state.filter(pl.col("loan_id") == "NEW")[column][0]
    bad = set_value(state, "NEW", column, -current - 1)
    with pytest.raises(BrokenInvariant, match=f"{column} is negative: loans NEW$"):
        k.accrue_portfolio_through(bad, insts, DAY)


def test_a_negative_balance_the_day_writes_stops_it() -> None:
    # Unposted penalty below zero on a loan that does not accrue: the day carries it forward
    # (a fresh column every day) and its check names the loan.
    state, insts = book()
    before = k.accrue_portfolio_day(
        state, insts, DAY
    ).state  # past the month end: nothing is posted
    bad = set_value(before, "NEW", "penalty_unposted", -5)
    with pytest.raises(BrokenInvariant, match="penalty_unposted is negative: loans NEW"):
        k.accrue_portfolio_day(bad, insts, DAY + 1)


def test_principal_that_vanished_is_caught() -> None:
    state, insts, res = closed()
    vanished = set_value(res.state, "LATE", "os_principal", -100)
    with pytest.raises(BrokenInvariant, match=r"os_principal changed.*loans LATE"):
        check_day(state, vanished, res.entries, insts, DAY, True)


def test_an_entry_whose_legs_cannot_balance_is_caught() -> None:
    state, insts, res = closed()
    flipped = res.entries.with_columns(
        pl.when(pl.col("kind") == k.KIND_INTEREST)
        .then(-pl.col("amount"))
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    with pytest.raises(BrokenInvariant, match="not positive: its legs would not balance"):
        check_day(state, res.state, flipped, insts, DAY, True)


def test_a_penalty_entry_that_is_not_what_was_posted_is_caught() -> None:
    state, insts, res = closed()
    more = res.entries.with_columns(
        pl.when(pl.col("kind") == k.KIND_PENALTY)
        .then(pl.col("amount") + 1)
        .otherwise(pl.col("amount"))
        .alias("amount")
    )
    with pytest.raises(BrokenInvariant, match="did not grow by the day's penalty entries"):
        check_day(state, res.state, more, insts, DAY, True)


def test_an_interest_entry_lost_is_caught() -> None:
    state, insts, res = closed()
    lost = res.entries.filter(pl.col("kind") != k.KIND_INTEREST)
    with pytest.raises(BrokenInvariant, match=r"interest entries total 0, but \d+ fell due"):
        check_day(state, res.state, lost, insts, DAY, True)


def first_due(insts: pl.DataFrame, state: pl.DataFrame, loan_id: str) -> int:
    row = state["loan_id"].to_list().index(loan_id)
    return int(insts.filter(pl.col("row") == row)["due"].min())  # type: ignore[arg-type]


def test_overdue_principal_that_did_not_arrive_is_caught() -> None:
    # NEW's first installment falls due, goes unpaid; the next day it is overdue. A day that
    # books a fen more (or less) overdue than fell overdue is caught.
    state, insts = book()
    overdue_day = first_due(insts, state, "NEW") + 1
    before = k.accrue_portfolio_through(state, insts, overdue_day - 1).state
    nxt = k.accrue_portfolio_day(before, insts, overdue_day, check=False)
    moved = int((nxt.state["od_principal"] - before["od_principal"]).sum())
    assert moved > 0  # NEW's installment's principal
    more = set_value(nxt.state, "NEW", "od_principal", 1)
    with pytest.raises(BrokenInvariant, match=r"od_principal did not grow by what fell due.*NEW$"):
        check_day(before, more, nxt.entries, insts, overdue_day, False)
    # on a loan with nothing falling overdue: caught by the column's total
    elsewhere = set_value(nxt.state, "DUE", "od_principal", 1)
    with pytest.raises(BrokenInvariant, match=f"od_principal grew by {moved + 1}, but .* {moved}$"):
        check_day(before, elsewhere, nxt.entries, insts, overdue_day, False)
    # and interest falling due: NEW's first interest is today's on the due date
    due_day = overdue_day - 1
    before = k.accrue_portfolio_through(state, insts, due_day - 1).state
    today = k.accrue_portfolio_day(before, insts, due_day, check=False)
    less = set_value(today.state, "NEW", "os_interest", -1)
    with pytest.raises(BrokenInvariant, match="os_interest did not grow by what fell due today"):
        check_day(before, less, today.entries, insts, due_day, k.is_month_end(due_day))


def test_penalty_on_a_loan_that_does_not_accrue_is_caught() -> None:
    state, insts = book()
    before = k.accrue_portfolio_day(state, insts, DAY).state
    nxt = k.accrue_portfolio_day(before, insts, DAY + 1, check=False)
    grown = set_value(nxt.state, "NEW", "penalty_unposted", 7)
    with pytest.raises(BrokenInvariant, match="penalty grew on a loan that does not accrue"):
        check_day(before, grown, nxt.entries, insts, DAY + 1, False)


def test_shrinking_penalty_is_caught() -> None:
    state, insts = book()
    before = k.accrue_portfolio_through(
        state, insts, DAY + 1
    ).state  # April 1: a day's penalty unposted
    nxt = k.accrue_portfolio_day(before, insts, DAY + 2, check=False)
    accrued = int((nxt.state["penalty_unposted"] - before["penalty_unposted"]).max())  # type: ignore[arg-type]
    assert accrued > 0
    shrunk = set_value(nxt.state, "LATE", "penalty_unposted", -accrued - 1)
    with pytest.raises(BrokenInvariant, match=r"the penalty shrank: loans LATE$"):
        check_day(before, shrunk, nxt.entries, insts, DAY + 2, False)


def test_a_written_off_loan_that_reads_an_amount_is_caught() -> None:
    state, insts = book(written_off=True)
    leaked = set_value(state, "WO", "os_interest", 10)
    with pytest.raises(BrokenInvariant, match="os_interest of a written-off loan is not zero"):
        k.accrue_portfolio_through(leaked, insts, DAY)


def test_overdue_above_outstanding_is_caught() -> None:
    state, insts = book()
    over = set_value(state, "LATE", "od_principal", 10**9)
    with pytest.raises(BrokenInvariant, match="od_principal exceeds os_principal: loans LATE"):
        k.accrue_portfolio_through(over, insts, DAY)


def test_the_checks_fire_under_python_dash_o() -> None:
    # Not asserts: -O (which strips assert statements) leaves them in place.
    probe = subprocess.run(
        [sys.executable, "-O", "-c", "assert False\nprint('asserts stripped')"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.strip() == "asserts stripped"
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_kernel_invariants import book, set_value, DAY\n"
        "from arrears.core.close import kernel as k\n"
        "from arrears.core.close.invariants import BrokenInvariant\n"
        "state, insts = book()\n"
        "try:\n"
        "    k.accrue_portfolio_through(set_value(state, 'NEW', 'penalty_owed', -1), insts, DAY)\n"
        "except BrokenInvariant as exc:\n"
        "    print('fired:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "fired: close of 2024-03-30: penalty_owed is negative: loans NEW" in done.stdout


def test_the_switch_is_only_for_measuring() -> None:
    # check=False really skips the checks (what the benchmark's "without" column times).
    state, insts = book()
    bad = set_value(state, "NEW", "penalty_owed", -1)
    res = k.accrue_portfolio_through(bad, insts, DAY, check=False)
    assert res.state.filter(pl.col("loan_id") == "NEW")["penalty_owed"][0] == -1
