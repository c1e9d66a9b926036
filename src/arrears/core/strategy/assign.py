"""Champion/challenger assignment: which named policy a borrower is under.

bucket(borrower_id) = the first 8 bytes of SHA-256(borrower_id as UTF-8), read as a
big-endian unsigned integer, modulo the set's total (100 or 10000). Members own consecutive
bucket ranges in the order they are listed: with shares 90/10, buckets 0-89 are the first
policy and 90-99 the second. Only the id, the shares and their order decide; editing a
policy's steps never moves a borrower. (The modulo bias is below 10000 / 2**64.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from itertools import accumulate

import polars as pl

from arrears.core.strategy.model import PolicySet


def bucket(borrower_id: str, total: int) -> int:
    digest = hashlib.sha256(borrower_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % total


def assign(borrower_id: str, policies: PolicySet) -> str:
    """The name of the policy this borrower is under."""
    b = bucket(borrower_id, policies.total)
    for member, upper in zip(policies.members, _uppers(policies), strict=True):
        if b < upper:
            return member.policy.name
    raise AssertionError("shares sum to the total; every bucket has an owner")


def _uppers(policies: PolicySet) -> list[int]:
    return list(accumulate(m.share for m in policies.members))


def _buckets(ids: Iterable[str], total: int) -> list[int]:
    sha = hashlib.sha256
    return [int.from_bytes(sha(i.encode("utf-8")).digest()[:8], "big") % total for i in ids]


def assign_series(borrower_ids: pl.Series, policies: PolicySet) -> pl.Series:
    """The same assignment over a column of ids: a String Series of policy names.

    Polars has no SHA-256, so buckets come from hashlib in one pass over the values; the
    mapping from bucket to policy is columnar.
    """
    buckets = pl.Series("bucket", _buckets(borrower_ids.to_list(), policies.total), pl.Int64)
    uppers = _uppers(policies)
    b = pl.col("bucket")
    lowers = [0, *uppers[:-1]]
    named = pl.coalesce(
        [
            pl.when((b >= lo) & (b < hi)).then(pl.lit(m.policy.name))
            for m, lo, hi in zip(policies.members, lowers, uppers, strict=True)
        ]
    ).alias("policy")
    return pl.DataFrame([buckets]).select(named).to_series()
