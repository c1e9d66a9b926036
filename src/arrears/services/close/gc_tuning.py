"""Fewer cyclic garbage collections during the close's allocation-heavy work.

A gate chunk builds and drops a few hundred thousand small objects (rows, contacts, contexts,
plans). With CPython's default thresholds (700, 10, 10) the cyclic collector ran so often, and
its full collections walked so many live objects, that it took about a quarter of the gate's
planning time: 250 ms a chunk against 192 ms with these thresholds, at a million loans
(``bench/`` notes in BENCHMARKS.md). Those objects hold no reference cycles to speak of, so
reference counting frees them either way; collecting less often costs a little peak memory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# (allocations before a young collection, young collections per middle one, middle per full)
BATCH_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Batch thresholds for the duration, then the caller's own back (also on an error)."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
