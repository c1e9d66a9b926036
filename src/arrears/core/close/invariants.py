"""What the columnar close checks after each day: money conserved, nothing negative.

The per-loan reference checks every account after every step (``Account.check`` and the
balance check of every ``journal.Entry``). The kernel moves a whole portfolio at once, so the
same promises are checked over the day's columns instead, with numpy, after every
:func:`arrears.core.close.kernel.accrue_portfolio_day`:

* **Nothing negative:** every amount and count the day wrote is at least zero; the overdue
  part of what is outstanding is no more than it (principal and interest).
* **Principal conserved:** outstanding principal before = after + principal paid; a close pays
  nothing, so outstanding and prepaid principal are unchanged.
* **Only today's movements:** overdue principal and interest grow by exactly the unpaid
  amounts of the installments that fell overdue today; outstanding interest by exactly the
  unpaid interest that fell due today; the penalty (unposted + owed) never shrinks and grows
  only on loans that accrue (active, with a penalty base); what is posted to ``penalty_owed``
  is exactly the day's penalty entries, loan by loan, and leaves nothing unposted.
* **Entries balanced:** a kernel entry is one amount for two legs (debit the loan's
  receivable +amount, credit income -amount), so its legs sum to zero by representation; what
  is checked is that every amount is positive, dated today, on a loan that moved and is
  active, that interest entries total the interest that fell due, and that penalty entries
  are only on a month end.
* **Written off reads zero:** a written-off loan's amounts stay zero.

A broken invariant is a bug (or a corrupt state handed in), never bad input: it raises
:class:`BrokenInvariant`, always. These are ``if``/``raise``, not ``assert``, so ``python -O``
does not remove them: money that vanishes must stop the close whatever the interpreter's
flags. The cost is measured in BENCHMARKS.md; ``accrue_portfolio_day(..., check=False)``
exists for that measurement only.

Cheap by construction: sums, minima and comparisons over whole columns (no per-loan Python),
the installment slices the day touched (a few per cent of the book), and the entries. A column
the day did not write is the same buffer as before: it was checked when it was written, and
is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

EPOCH = date(1970, 1, 1)
ACTIVE, WRITTEN_OFF = 0, 2  # physical codes of kernel.STATUSES
KIND_INTEREST, KIND_PENALTY = 0, 1  # kernel.ENTRY_KINDS

# Amount and count columns of the state that are never negative.
NON_NEGATIVE = (
    "penalty_unposted",
    "penalty_owed",
    "prepaid_principal",
    "pen_base",
    "od_principal",
    "od_interest",
    "od_count",
    "os_principal",
    "os_interest",
)
# The amounts (and the count) a written-off loan carries at zero.
ZERO_WHEN_WRITTEN_OFF = ("od_principal", "od_interest", "od_count", "os_principal", "os_interest")

Array = npt.NDArray[np.int64]


class BrokenInvariant(AssertionError):
    """The columnar close moved money in a way the ledger forbids: a bug, never bad input.

    Raised explicitly (not by ``assert``), so it fires under ``python -O`` too.
    """

    def __init__(self, day: int, rule: str, loans: list[str], count: int) -> None:
        on = (EPOCH + timedelta(days=day)).isoformat()
        named = ", ".join(loans) + (f" and {count - len(loans)} more" if count > len(loans) else "")
        super().__init__(f"close of {on}: {rule}" + (f": loans {named}" if loans else ""))
        self.day, self.rule, self.loans, self.count = day, rule, loans, count


@dataclass(slots=True)
class _Day:
    """One day's before and after, as numpy views (read once each), and how to name loans."""

    before: pl.DataFrame
    after: pl.DataFrame
    day: int
    _views: dict[tuple[int, str], npt.NDArray[Any]] = field(default_factory=dict)

    def was(self, name: str) -> npt.NDArray[Any]:
        return self._view(self.before, 0, name)

    def now(self, name: str) -> npt.NDArray[Any]:
        return self._view(self.after, 1, name)

    def _view(self, frame: pl.DataFrame, side: int, name: str) -> npt.NDArray[Any]:
        if (side, name) not in self._views:
            series = frame[name]
            # to_physical is an expression (a query each call); only the Enum needs it
            self._views[side, name] = (
                series.to_physical().to_numpy() if name == "status" else series.to_numpy()
            )
        return self._views[side, name]

    def changed(self, name: str) -> bool:
        return not _same(self.was(name), self.now(name))

    def fail(self, rule: str, bad: npt.NDArray[np.bool_] | npt.NDArray[np.intp] | None) -> None:
        rows = np.flatnonzero(bad) if bad is not None and bad.dtype == np.bool_ else bad
        if rows is None:
            raise BrokenInvariant(self.day, rule, [], 0)
        ids = self.after["loan_id"].gather(rows[:5].astype(np.uint32)).to_list()
        raise BrokenInvariant(self.day, rule, [str(i) for i in ids], int(rows.size))


def _same(left: npt.NDArray[Any], right: npt.NDArray[Any]) -> bool:
    """The same buffer: the day did not write this column."""
    return bool(
        left.shape == right.shape
        and left.__array_interface__["data"][0] == right.__array_interface__["data"][0]
    )


def check_state(state: pl.DataFrame, day: int) -> None:
    """The invariants of a state on its own, over every column: nothing negative, the overdue
    part of what is outstanding no more than it, a written-off loan's amounts zero.

    ``advance`` checks the state it is handed; after that each day checks what it wrote
    (:func:`check_day`), which keeps these true."""
    d = _Day(state, state, day)
    for name in NON_NEGATIVE:
        _non_negative(d, name)
    for part, whole in (("od_principal", "os_principal"), ("od_interest", "os_interest")):
        over = d.now(part) > d.now(whole)
        if over.any():
            d.fail(f"{part} exceeds {whole}", over)
    wo = np.flatnonzero(d.now("status") == WRITTEN_OFF)
    for name in ZERO_WHEN_WRITTEN_OFF:
        if wo.size and d.now(name)[wo].any():
            d.fail(f"{name} of a written-off loan is not zero", wo[d.now(name)[wo] != 0])


def _non_negative(d: _Day, name: str) -> None:
    values = d.now(name)
    if not values.size or values.min() >= 0:
        return
    bad = values < 0
    if name == "pen_base":
        # a written-off loan's base is not kept (it never accrues): from_stored leaves it
        # below zero, as the read-outs it starts from are zero
        bad &= d.now("status") != WRITTEN_OFF
        if not bad.any():
            return
    d.fail(f"{name} is negative", bad)


def check_day(
    before: pl.DataFrame,
    after: pl.DataFrame,
    entries: pl.DataFrame,
    insts: pl.DataFrame,
    day: int,
    month_end: bool,
) -> None:
    """Raise :class:`BrokenInvariant` unless ``after`` and ``entries`` are what closing
    ``day`` may make of ``before`` (see the module docstring); ``insts`` as the kernel's.

    ``before`` is taken to hold the invariants (``check_state``, or the day before's check):
    what is checked is what the day wrote. So the overdue amounts, which grow only on the
    installments that fell overdue, are compared with what is outstanding on those loans."""
    d = _Day(before, after, day)
    for name in ("os_principal", "prepaid_principal"):
        if d.changed(name) and not np.array_equal(d.was(name), d.now(name)):
            d.fail(f"{name} changed, but a close pays no principal", d.was(name) != d.now(name))
    status, as_of = d.was("status"), d.was("as_of")

    def live(rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        moved: npt.NDArray[np.bool_] = (as_of[rows] == day - 1) & (status[rows] != WRITTEN_OFF)
        return moved

    # what fell overdue (due yesterday, something unpaid) and what fell due today, live loans
    late = _due_on(insts, day - 1)
    rows = _slice(insts, "row", late).astype(np.intp)
    up, ui = _slice(insts, "unpaid_principal", late), _slice(insts, "unpaid_interest", late)
    keep = live(rows) & ((up + ui) > 0)
    _grew_by(d, "od_principal", rows, np.where(keep, up, 0))
    _grew_by(d, "od_interest", rows, np.where(keep, ui, 0))
    for part, whole in (("od_principal", "os_principal"), ("od_interest", "os_interest")):
        over = d.now(part)[rows] > d.now(whole)[rows]
        if over.any():
            d.fail(f"{part} exceeds {whole}", rows[over])
    today = _due_on(insts, day)
    rows = _slice(insts, "row", today).astype(np.intp)
    _grew_by(
        d, "os_interest", rows, np.where(live(rows), _slice(insts, "unpaid_interest", today), 0)
    )
    active = (status[rows] == ACTIVE) & (as_of[rows] == day - 1)
    fallen = int(_slice(insts, "interest", today)[active].sum())
    _check_penalty(d, entries, month_end)
    _check_entries(d, entries, fallen)


def _due_on(insts: pl.DataFrame, day: int) -> slice:
    """The installments due on ``day`` (``insts`` is sorted by due date)."""
    due = insts["due"].to_numpy()
    lo, hi = np.searchsorted(due, np.array([day, day + 1], dtype=due.dtype))
    return slice(int(lo), int(hi))


def _slice(insts: pl.DataFrame, name: str, rows: slice) -> npt.NDArray[np.int64]:
    return insts[name].to_numpy()[rows]


def _grew_by(d: _Day, name: str, rows: npt.NDArray[np.intp], expected: Array) -> None:
    """``name`` grew by exactly ``expected`` on ``rows`` (one installment each: rows are
    unique within a due date) and by nothing elsewhere, and is nowhere negative.

    Elsewhere is checked in aggregate (the column's total grew by what ``rows`` did): three
    reductions over the column, no per-loan copy."""
    if not d.changed(name):
        if expected.any():
            d.fail(f"{name} should have grown on these loans but did not move", rows[expected != 0])
        return
    was, now = d.was(name), d.now(name)
    # a loan has one installment per due date; summed per loan all the same
    loans, which = np.unique(rows, return_inverse=True)
    per_loan = np.zeros(loans.size, dtype=np.int64)
    np.add.at(per_loan, which, expected)
    wrong = (now[loans] - was[loans]) != per_loan
    if wrong.any():
        d.fail(f"{name} did not grow by what fell due today", loans[wrong])
    total = int(now.sum()) - int(was.sum())
    if total != int(expected.sum()):
        d.fail(f"{name} grew by {total}, but what fell due today adds {int(expected.sum())}", None)
    _non_negative(d, name)


def _check_penalty(d: _Day, entries: pl.DataFrame, month_end: bool) -> None:
    """The penalty (unposted + owed) never shrinks and grows only on loans that accrue; on a
    month end what is posted to ``penalty_owed`` is the day's penalty entries and nothing is
    left unposted; on other days nothing is posted."""
    for name in ("penalty_unposted", "penalty_owed", "pen_base"):
        if d.changed(name):
            _non_negative(d, name)
    grown: Array = d.now("penalty_unposted") - d.was("penalty_unposted")
    posted = d.changed("penalty_owed")
    if posted:
        grown += d.now("penalty_owed")
        grown -= d.was("penalty_owed")
    if grown.min() < 0:
        d.fail("the penalty shrank", grown < 0)
    # (masks over the book, not indices: np.flatnonzero costs ten boolean passes)
    active = (d.was("status") == ACTIVE) & (d.was("as_of") == d.day - 1)
    strays = (grown != 0) & ~(active & (d.now("pen_base") > 0))
    if strays.any():
        d.fail("the penalty grew on a loan that does not accrue", strays)
    kinds = entries["kind"].to_numpy()
    penalty = kinds == KIND_PENALTY
    if not month_end:
        if penalty.any() or posted:
            d.fail("penalty posted on a day that is not a month end", None)
        return
    rows = entries["row"].to_numpy()[penalty].astype(np.intp)
    amounts = entries["amount"].to_numpy()[penalty]
    owed_now, owed_was = d.now("penalty_owed"), d.was("penalty_owed")
    wrong = (owed_now[rows] - owed_was[rows]) != amounts
    if wrong.any() or int(owed_now.sum()) - int(owed_was.sum()) != int(amounts.sum()):
        d.fail("penalty_owed did not grow by the day's penalty entries", rows[wrong])
    left = active & (d.now("penalty_unposted") != 0)
    if left.any():
        d.fail("penalty left unposted on a month end", left)


def _moved_active(d: _Day, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Which of ``rows`` are active loans that the day moved."""
    moved: npt.NDArray[np.bool_] = (d.was("status")[rows] == ACTIVE) & (
        d.was("as_of")[rows] == d.day - 1
    )
    return moved


def _check_entries(d: _Day, entries: pl.DataFrame, fallen: int) -> None:
    """Entries: positive amounts (one amount, two legs: +amount and -amount balance), dated
    today, on active loans that moved; the interest entries total ``fallen``, the interest
    that fell due today."""
    if not entries.height:
        if fallen:
            d.fail(f"no interest entries, but {fallen} fell due", None)
        return
    amount = entries["amount"].to_numpy()
    rows = entries["row"].to_numpy().astype(np.intp)
    if amount.min() <= 0:
        d.fail("an entry's amount is not positive: its legs would not balance", rows[amount <= 0])
    if rows.max() >= d.after.height:
        d.fail("an entry names a loan that is not in the state", None)
    if (entries["day"].to_numpy() != d.day).any():
        d.fail("an entry is not dated the day closed", None)
    active = _moved_active(d, rows)
    if not active.all():
        d.fail("an entry on a loan that did not move or is not active", rows[~active])
    kinds = entries["kind"].to_numpy()
    if ((kinds != KIND_INTEREST) & (kinds != KIND_PENALTY)).any():
        d.fail("an entry of no known kind", None)
    booked = int(amount[kinds == KIND_INTEREST].sum())
    if booked != fallen:
        d.fail(f"interest entries total {booked}, but {fallen} fell due", None)
