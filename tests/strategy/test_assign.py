"""Champion/challenger assignment: SHA-256 of the borrower id, stable, fair, and blind to
the policies' content."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import time

import polars as pl
import pytest

from arrears.core.strategy import Policy, PolicySet, assign, assign_series, bucket, policy_set
from factories import succeeded

from .helpers import step

# First 16 hex digits of `printf %s ID | sha256sum` (coreutils), as integers mod 100 / 10000.
PINNED = [
    ("B1", 0x5B950E77941D01CD),
    ("borrower-000042", 0xEC18DBA520BC9F43),
    ("张三", 0x1D841BC0EE98309C),
]


def make(*shares: int) -> PolicySet:
    members = [(Policy(f"p{i}", (step(f"s{i}"),)), s) for i, s in enumerate(shares)]
    ps = succeeded(policy_set(members))
    return ps


@pytest.mark.parametrize(("borrower", "prefix"), PINNED)
def test_bucket_is_the_documented_sha256_prefix(borrower: str, prefix: int) -> None:
    assert bucket(borrower, 100) == prefix % 100
    assert bucket(borrower, 10000) == prefix % 10000


def test_consecutive_ranges_in_listed_order() -> None:
    # B1 -> bucket 81 of 100: with 81/19 it is the second policy's, with 82/18 the first's.
    assert PINNED[0][1] % 100 == 81
    assert assign("B1", make(81, 19)) == "p1"
    assert assign("B1", make(82, 18)) == "p0"
    assert assign("B1", make(50, 31, 19)) == "p2"  # [81, 100)
    assert assign("B1", make(50, 32, 18)) == "p1"  # [50, 82)


def test_stable_across_calls_and_equal_in_both_forms() -> None:
    ps = make(70, 20, 10)
    ids = [f"borrower-{i:06d}" for i in range(5000)]
    first = [assign(i, ps) for i in ids]
    assert first == [assign(i, ps) for i in ids]
    assert assign_series(pl.Series(ids), ps).to_list() == first


def test_shares_within_tolerance_on_100k_ids() -> None:
    ps = make(9000, 900, 100)  # basis points
    n = 100_000
    got = Counter(assign_series(pl.Series([f"B{i}" for i in range(n)]), ps).to_list())
    for member in ps.members:
        expected = n * member.share / ps.total
        sd = (n * (member.share / ps.total) * (1 - member.share / ps.total)) ** 0.5
        # 5 standard deviations: a correct hash fails this about once in 3.5 million runs.
        assert abs(got[member.policy.name] - expected) < 5 * sd, (member.policy.name, got)


def test_changing_a_policy_does_not_move_borrowers() -> None:
    before = make(50, 50)
    champion = before.members[0].policy
    edited = replace(champion, steps=(step("other", channel="call", at=time(15, 0)),))
    after = succeeded(policy_set([(edited, 50), (before.members[1].policy, 50)]))
    ids = [f"x{i}" for i in range(20_000)]
    assert [assign(i, before) for i in ids] == [assign(i, after) for i in ids]


def test_growing_a_challenger_only_moves_borrowers_into_it() -> None:
    small, large = make(90, 10), make(80, 20)
    ids = [f"x{i}" for i in range(20_000)]
    for i in ids:
        a, b = assign(i, small), assign(i, large)
        # Shares are ranges from the front; the challenger's range is [80, 100) ⊇ [90, 100).
        assert a == b or (a, b) == ("p0", "p1")
