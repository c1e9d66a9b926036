"""Any cut of the close's state into partitions closes to what the whole does (no Spark here).

``core/close/partition`` is what each Spark partition runs: the state nested one row per loan,
unnested, closed by the kernel, nested again. Random portfolios (test_kernel_property's), cut
into random partitions in a random order, each closed on its own: the state and entries put
back together must be the kernel's on the whole portfolio (the independent expectation).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_kernel_property import Loan, portfolio_st

from arrears.core.close import kernel as k
from arrears.core.close.frames import entries_to_domain, frames_from_accounts
from arrears.core.close.partition import (
    RESULT,
    STATE_FILE,
    close_batches,
    from_result,
    from_state_file,
    to_state_file,
)


def _entries(entries: pl.DataFrame, state: pl.DataFrame) -> set[tuple[object, ...]]:
    ids = state["loan_id"].to_list()
    return {(e.key, e.kind, e.effective_on, e.postings) for e in entries_to_domain(entries, ids)}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolio_st(), st.integers(1, 45), st.data())
def test_partitions_close_as_the_whole(loans: list[Loan], days: int, data: st.DataObject) -> None:
    state, insts = frames_from_accounts([(ln.acct, ln.product) for ln in loans])
    through = k.day_number(max(ln.acct.as_of for ln in loans) + timedelta(days=days))
    # a moratorium on the first loan for part of the days, so pauses travel too
    pauses = pl.DataFrame(
        {"row": [0], "first": [through - days], "last": [through - days // 2]},
        schema=k.PAUSE_SCHEMA,
    )
    whole = k.accrue_portfolio_through(state, insts, through, pauses)

    table = to_state_file(state, insts, pauses, pl.Series([f"B{i % 3}" for i in range(len(loans))]))
    assert table.schema == STATE_FILE
    # the file read back is the kernel's input again
    back_state, back_insts, back_pauses = from_state_file(table)
    assert back_state.equals(state) and back_insts.equals(insts)
    assert back_pauses is not None and back_pauses.equals(pauses)

    parts = data.draw(st.integers(1, 4))
    cut = data.draw(st.lists(st.integers(0, parts - 1), min_size=len(loans), max_size=len(loans)))
    order = data.draw(st.permutations(range(len(loans))))
    shuffled = table.take(pa.array(order))
    results = []
    for p in range(parts):
        mine = shuffled.filter(pa.array([cut[i] == p for i in range(len(loans))]))
        # as mapInArrow hands them: batches of a few rows (none, for an empty partition)
        results.extend(close_batches(mine.to_batches(max_chunksize=2), through))
    got = pa.Table.from_batches(results, schema=RESULT)
    got_state, got_entries, loan_days = from_result(got)

    assert got_state.equals(whole.state.sort("loan_id"))
    assert loan_days == whole.loan_days
    assert _entries(got_entries, got_state) == _entries(whole.entries, whole.state)
    assert got_entries.height == whole.entries.height


def test_an_empty_partition_gives_nothing() -> None:
    assert list(close_batches([], 20_000)) == []
