"""The evidence log's database shell: append, load, verify, seal a root, export.

Every function takes a ``Connection`` and runs inside the caller's transaction: the record of a
contact commits together with the contact (or neither does). Nothing here commits.

Concurrency: two writers must never both extend the same chain from the same head. On
PostgreSQL ``append``/``append_many`` take a transaction-scoped advisory lock per borrower
before reading the head (a row lock on the head would not cover a chain's first record, which has
no row yet). On SQLite, engines from ``arrears.store.engine.make_engine`` open every transaction
with ``BEGIN IMMEDIATE``, which already serialises writers. The primary key (borrower_id, seq)
and the link trigger are the last line: a fork fails to insert rather than being written.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, text, update

from arrears.core.evidence import chain
from arrears.core.evidence.chain import Break, Code, Entry, Head, Record
from arrears.store import bulk
from arrears.store.evidence_tables import (
    evidence_heads,
    evidence_records,
    evidence_root_heads,
    evidence_roots,
)
from arrears.store.membership import batches, one_of

# Namespace (classid) of our two-key advisory locks: ASCII "EVD1". Two-key locks never collide
# with one-key (bigint) locks other parts of the system may take.
_LOCK_NAMESPACE = 0x45564431
_IDS_PER_STATEMENT = 500  # ids per IN (...) list: well below every driver's parameter limit
_STREAM = 1000  # rows fetched per round trip when streaming

R = evidence_records
RH = evidence_root_heads
H = evidence_heads


# Borrowers share LOCK_BUCKETS advisory locks. One lock per borrower ran PostgreSQL out of
# shared lock memory (max_locks_per_transaction) when one transaction appended for tens of
# thousands of borrowers, as the first close of a large book does when it opens their cases.
# Sharing only makes two writers to the same bucket wait for each other.
LOCK_BUCKETS = 1024


def _lock_key(borrower_id: str) -> int:
    return int.from_bytes(hashlib.sha256(borrower_id.encode()).digest()[:4], "big") % LOCK_BUCKETS


def lock(conn: Connection, borrower_ids: Iterable[str]) -> None:
    """Hold the chains of ``borrower_ids`` for the rest of the transaction (no other writer
    appends to them until it ends); taking them again later in it is harmless."""
    _lock(conn, borrower_ids)


# A transaction appending for more borrowers than this holds every chain at once: one lock,
# exclusive, on the key ALL_CHAINS. Smaller ones hold it shared and then their buckets. A
# batch this size takes most buckets anyway (2,000 borrowers: 880 of 1,024), and taking them
# one by one cost the close's gate writer 3 s at a million loans.
BULK_BORROWERS = 256
_ALL_CHAINS = -1  # outside the buckets' keys (0 .. LOCK_BUCKETS - 1)
_HELD = "arrears.core.evidence.lock"  # conn.info: (transaction, "all" | "shared", buckets)


def _lock(conn: Connection, borrower_ids: Iterable[str]) -> None:
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE holds the database's single write lock already
    ids = set(borrower_ids)
    # What this transaction holds already: every chain, or ALL_CHAINS shared and buckets.
    # (A transaction that holds buckets never asks for every chain: it would wait for the
    # other small ones, which may be waiting for its buckets. It takes buckets again.)
    # The innermost transaction: a lock taken inside a savepoint is released when the
    # savepoint rolls back, so what a savepoint took is not remembered for its parent.
    txn = conn.get_nested_transaction() or conn.get_transaction()
    held = conn.info.get(_HELD)
    mode = held[1] if held is not None and held[0] is txn else None
    if mode == "all":
        return
    buckets: frozenset[int] = held[2] if held is not None and held[0] is txn else frozenset()
    if len(ids) > BULK_BORROWERS and mode is None:
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :all)"),
            {"ns": _LOCK_NAMESPACE, "all": _ALL_CHAINS},
        )
        conn.info[_HELD] = (txn, "all", frozenset())
        return
    # Buckets this transaction holds already are not asked for again (a call's outcome and
    # the promise made in it append to one chain twice).
    keys = sorted({_lock_key(b) for b in ids} - buckets)
    conn.info[_HELD] = (txn, "shared", buckets.union(keys))
    # Every transaction takes ALL_CHAINS (shared or exclusive) before any bucket, and buckets
    # in ascending order in each call. ALL_CHAINS (-1) sorts before every bucket, so the first
    # statement takes it shared, then its buckets, in one round trip.
    if mode is None:
        keys = [_ALL_CHAINS, *keys]
    for i in range(0, len(keys), _IDS_PER_STATEMENT):
        conn.execute(_TAKE, {"ns": _LOCK_NAMESPACE, "keys": keys[i : i + _IDS_PER_STATEMENT]})


# The keys in ascending order: ALL_CHAINS shared (other writers of small batches hold it too;
# a bulk writer holds it exclusive), each bucket exclusive.
_TAKE = text(
    f"SELECT count(CASE WHEN k = {_ALL_CHAINS} THEN pg_advisory_xact_lock_shared(:ns, k) "
    "ELSE pg_advisory_xact_lock(:ns, k) END) FROM "
    "(SELECT k FROM unnest(CAST(:keys AS integer[])) AS u(k) ORDER BY k) AS s"
)


def _by_borrower(conn: Connection, column: ColumnElement[str]) -> ColumnElement[str]:
    # Chains and roots are ordered by code point; PostgreSQL's default collation is not that.
    # (SQLite's default BINARY collation compares UTF-8 bytes, which is code point order.)
    return column.collate("C") if conn.dialect.name == "postgresql" else column


def heads(conn: Connection, borrower_ids: Iterable[str]) -> dict[str, Head]:
    """The current head of each of ``borrower_ids`` that has a chain (from ``evidence_heads``,
    which the statement that appends moves forward)."""
    out: dict[str, Head] = {}
    for batch in batches(conn, sorted(set(borrower_ids))):
        q = select(H.c.borrower_id, H.c.seq, H.c.hash).where(one_of(conn, H.c.borrower_id, batch))
        out.update({b: Head(b, seq, digest) for b, seq, digest in conn.execute(q).all()})
    return out


def _row(record: Record) -> dict[str, Any]:
    return {
        "borrower_id": record.borrower_id,
        "seq": record.seq,
        "at": record.at_text,
        "kind": record.kind,
        "payload": record.payload_json(),
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


_INSERT = insert(R)


def append(
    conn: Connection, borrower_id: str, kind: str, payload: dict[str, Any], at: datetime
) -> Record:
    """Append one record to ``borrower_id``'s chain and return it."""
    _lock(conn, [borrower_id])
    head = heads(conn, [borrower_id]).get(borrower_id)
    record = chain.append(head, borrower_id, kind, payload, at)
    conn.execute(_INSERT, _row(record))
    return record


def append_many(conn: Connection, entries: Iterable[Entry]) -> list[Record]:
    """Append ``entries`` in order (any mix of borrowers): one head read, one insert batch."""
    batch = list(entries)
    if not batch:
        return []
    ids = {e.borrower_id for e in batch}
    _lock(conn, ids)
    records = chain.append_all(heads(conn, ids), batch)
    for i in range(0, len(records), _IDS_PER_STATEMENT):
        rows = [_row(r) for r in records[i : i + _IDS_PER_STATEMENT]]
        # One row as one execute: psycopg's executemany costs more for a single row.
        conn.execute(_INSERT, rows if len(rows) > 1 else rows[0])
    return records


def heads_digest(found: Mapping[str, Head]) -> str:
    """One fingerprint of many chains' heads: equal exactly when no chain has moved."""
    text = "\n".join(f"{b}\t{h.seq}\t{h.hash}" for b, h in sorted(found.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _record(row: Any) -> Record:
    # The record keeps the stored payload text, which verification hashes and checks is
    # canonical. A row whose time cannot be read becomes a record that fails verification as
    # MALFORMED, rather than an exception that hides the other chains.
    try:
        at = chain.parse_at(row.at)
    except chain.EvidenceError:
        return _Unreadable(row.borrower_id, row.seq, row.at, row.prev_hash, row.hash)
    return chain.stored(
        row.borrower_id, row.seq, at, row.kind, row.payload, row.prev_hash, row.hash
    )


class _Unreadable(Record):
    """A stored row whose ``at`` text cannot be parsed."""

    def __init__(self, borrower_id: str, seq: int, at: str, prev_hash: str, digest: str) -> None:
        super().__init__(borrower_id, seq, datetime.min, "", {}, prev_hash, digest)
        object.__setattr__(self, "_raw_at", at)

    def computed_hash(self) -> str:
        raw = getattr(self, "_raw_at", "")
        raise chain.EvidenceError(f"at: stored text {raw!r} cannot be read")


def iter_records(conn: Connection, borrower_id: str | None = None) -> Iterator[Record]:
    """Records in chain order (borrower by code point, then seq), streamed from the database."""
    query = select(R).order_by(_by_borrower(conn, R.c.borrower_id), R.c.seq)
    if borrower_id is not None:
        query = query.where(R.c.borrower_id == borrower_id)
    # Per statement: Connection.execution_options() would change the connection itself, and
    # every later statement on it (an INSERT too) would run on a server-side cursor.
    for row in conn.execute(query, execution_options={"yield_per": _STREAM}):
        yield _record(row)


def load_chain(conn: Connection, borrower_id: str) -> list[Record]:
    return list(iter_records(conn, borrower_id))


# ---------------------------------------------------------------------------------------------
# Roots


@dataclass(frozen=True)
class StoredRoot:
    root_id: int
    label: str
    root: str
    chains: int
    records: int
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "root": self.root,
            "chains": self.chains,
            "records": self.records,
            "created_at": self.created_at,
        }


def _stored_root(row: Any) -> StoredRoot:
    return StoredRoot(row.root_id, row.label, row.root, row.chains, row.records, row.created_at)


def get_root(conn: Connection, label: str | None = None) -> StoredRoot | None:
    """The root stored under ``label``, or the latest root (None if there is none)."""
    query = select(evidence_roots)
    if label is not None:
        query = query.where(evidence_roots.c.label == label)
    row = conn.execute(query.order_by(evidence_roots.c.root_id.desc()).limit(1)).first()
    return None if row is None else _stored_root(row)


def _heads_at(conn: Connection, root_id: int, borrower_id: str | None = None) -> Any:
    """The heads root ``root_id`` committed to: per borrower, its latest row up to that root."""
    last = select(RH.c.borrower_id, func.max(RH.c.seq).label("seq")).where(RH.c.root_id <= root_id)
    if borrower_id is not None:
        last = last.where(RH.c.borrower_id == borrower_id)
    sub = last.group_by(RH.c.borrower_id).subquery()
    return (
        select(RH.c.borrower_id, RH.c.seq, RH.c.hash)
        .select_from(
            RH.join(sub, and_(RH.c.borrower_id == sub.c.borrower_id, RH.c.seq == sub.c.seq))
        )
        .where(RH.c.root_id <= root_id)
        .order_by(_by_borrower(conn, RH.c.borrower_id))
    )  # one row per borrower: a head is only re-sealed when its seq has grown


def store_root(conn: Connection, label: str, at: datetime) -> StoredRoot:
    """Seal the current heads of all chains into a root under ``label`` (e.g. the business date).

    Idempotent: if ``label`` already has a root, that root is returned unchanged (a rerun close
    must not re-seal a different state under the same date).
    """
    if not 1 <= len(label) <= 64:
        raise chain.EvidenceError(f"label: {label!r} must be 1..64 characters")
    if conn.dialect.name == "postgresql":
        # One sealer at a time, so root ids and head snapshots are taken in the same order.
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, 0)"), {"ns": _LOCK_NAMESPACE + 1})
    existing = get_root(conn, label)
    if existing is not None:
        return existing
    current: list[Head] = []
    changed: list[Head] = []
    every = select(H.c.borrower_id, H.c.seq, H.c.hash, H.c.sealed_seq).order_by(
        _by_borrower(conn, H.c.borrower_id)
    )
    for borrower_id, seq, digest, sealed_seq in conn.execute(every):
        head = Head(borrower_id, seq, digest)
        current.append(head)
        if sealed_seq != seq:
            changed.append(head)
    stored = StoredRoot(
        root_id=0,
        label=label,
        root=chain.root(current),
        chains=len(current),
        records=sum(h.seq for h in current),  # seq starts at 1, so the head's seq is the count
        created_at=chain.format_at(at),
    )
    result = conn.execute(insert(evidence_roots).values(**stored.as_dict()))
    assert result.inserted_primary_key is not None
    root_id = int(result.inserted_primary_key[0])
    bulk.insert_rows(
        conn,
        RH,
        ("root_id", "borrower_id", "seq", "hash"),
        ((root_id, h.borrower_id, h.seq, h.hash) for h in changed),
    )
    # What this root stored, not each head's seq now: a chain may have grown meanwhile.
    conn.execute(
        update(H)
        .where(H.c.borrower_id == RH.c.borrower_id, RH.c.root_id == root_id)
        .values(sealed_seq=RH.c.seq)
    )
    return StoredRoot(root_id, label, stored.root, stored.chains, stored.records, stored.created_at)


def root_heads(conn: Connection, stored: StoredRoot) -> list[Head]:
    """The heads ``stored`` committed to, sorted by borrower_id."""
    return [Head(b, s, h) for b, s, h in conn.execute(_heads_at(conn, stored.root_id))]


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass(frozen=True)
class Report:
    """What ``verify_db`` looked at and what it found (first bad record per chain)."""

    chains: int
    records: int
    root: StoredRoot | None
    problems: tuple[Break, ...]

    @property
    def intact(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "chains": self.chains,
            "records": self.records,
            "root": None if self.root is None else self.root.as_dict(),
            "problems": [p.as_dict() for p in self.problems],
        }


def verify_report(
    conn: Connection,
    borrower_id: str | None = None,
    *,
    root_label: str | None = None,
    expected_root: str | None = None,
) -> Report:
    """Verify chains (all, or one borrower's) against the latest root (or ``root_label``'s).

    Streams chain by chain: memory is one record plus one expected head at a time. The root's
    own value is recomputed from its head snapshot (and compared with ``expected_root``, a value
    published outside this database, when given); then each chain is walked and checked against
    the head the root committed to, which catches records removed from the end.
    """
    problems: list[Break] = []
    stored = get_root(conn, root_label)
    if root_label is not None and stored is None:
        raise chain.EvidenceError(f"no evidence root labelled {root_label!r}")
    if stored is not None:
        if borrower_id is None:
            recomputed = chain.root(
                Head(b, s, h) for b, s, h in conn.execute(_heads_at(conn, stored.root_id))
            )
            if recomputed != stored.root:
                problems.append(
                    Break(
                        None,
                        None,
                        Code.ROOT_MISMATCH,
                        f"root {stored.label!r} does not match its stored heads",
                    )
                )
        if expected_root is not None and expected_root.lower() != stored.root:
            problems.append(
                Break(
                    None,
                    None,
                    Code.ROOT_MISMATCH,
                    f"root {stored.label!r} is {stored.root}, not the expected {expected_root}",
                )
            )
    chains = records = 0
    sealed = (
        _InStep(
            Head(b, s, h) for b, s, h in conn.execute(_heads_at(conn, stored.root_id, borrower_id))
        )
        if stored is not None
        else _InStep(())
    )
    rows = select(H.c.borrower_id, H.c.seq, H.c.hash).order_by(_by_borrower(conn, H.c.borrower_id))
    if borrower_id is not None:
        rows = rows.where(H.c.borrower_id == borrower_id)
    table = _InStep(Head(b, s, h) for b, s, h in conn.execute(rows))
    # Merge three borrower-ordered streams: the chains, the heads the root names, and the
    # heads table (which the next root will be made from).
    orphans: list[Break] = []  # heads rows without a chain
    for chain_id, group in itertools.groupby(
        iter_records(conn, borrower_id), key=lambda r: r.borrower_id
    ):
        problems.extend(_missing(h) for h in sealed.behind(chain_id))
        head = sealed.take(chain_id)
        orphans.extend(_head_row(h.borrower_id, h, None) for h in table.behind(chain_id))
        own = table.take(chain_id)
        counted = _Counter(group)
        problem = chain.verify_chain(counted, borrower_id=chain_id, expected=head)
        chains += 1
        for _ in counted:  # drain what a walk that stopped early left, to count it
            pass
        records += counted.count
        last = counted.last
        if problem is None and (own is None or (own.seq, own.hash) != (last.seq, last.hash)):
            problem = _head_row(chain_id, own, last)
        if problem is not None:
            problems.append(problem)
    problems.extend(_missing(h) for h in sealed.behind(None))
    orphans.extend(_head_row(h.borrower_id, h, None) for h in table.behind(None))
    # A chain gone from the log but still in the heads table: the root's finding, if it has one.
    named = {p.borrower_id for p in problems}
    problems += [p for p in orphans if p.borrower_id not in named]
    problems.sort(key=lambda p: (p.borrower_id is not None, p.borrower_id or ""))  # stable
    return Report(chains, records, stored, tuple(problems))


class _InStep:
    """A borrower-ordered stream of heads, read in step with the chains."""

    def __init__(self, heads: Iterable[Head]) -> None:
        self._it = iter(heads)
        self._next = next(self._it, None)

    def behind(self, borrower_id: str | None) -> Iterator[Head]:
        """The heads of borrowers before ``borrower_id`` (None: all that are left), passed."""
        while self._next is not None and (
            borrower_id is None or self._next.borrower_id < borrower_id
        ):
            yield self._next
            self._next = next(self._it, None)

    def take(self, borrower_id: str) -> Head | None:
        """``borrower_id``'s head, if it is the next one (then passed)."""
        found = self._next
        if found is None or found.borrower_id != borrower_id:
            return None
        self._next = next(self._it, None)
        return found


def _head_row(borrower_id: str, row: Head | None, last: Record | None) -> Break:
    """The heads table's ``row`` (None: no row) disagrees with the chain's last record
    (``last``; None: no chain)."""
    named = "has no row" if row is None else f"names seq {row.seq}"
    ends = "there is no chain" if last is None else f"the chain ends at seq {last.seq}"
    return Break(
        borrower_id,
        None if row is None else row.seq,
        Code.HEAD_ROW,
        f"evidence_heads {named} but {ends}" + ("" if last is None else f" ({last.hash[:12]})"),
    )


def _missing(head: Head) -> Break:
    problem = chain.verify_chain([], expected=head)
    assert problem is not None
    return problem


class _Counter:
    """An iterator that counts what it hands out (to report how many records were checked)."""

    def __init__(self, items: Iterable[Record]) -> None:
        self._it = iter(items)
        self.count = 0
        self._last: Record | None = None

    def __iter__(self) -> Iterator[Record]:
        return self

    def __next__(self) -> Record:
        item = next(self._it)
        self.count += 1
        self._last = item
        return item

    @property
    def last(self) -> Record:
        """The last record handed out (a group from ``groupby`` has at least one)."""
        assert self._last is not None
        return self._last


def verify_db(conn: Connection, borrower_id: str | None = None) -> list[Break]:
    """The first bad record of every broken chain (empty list: the log is intact)."""
    return list(verify_report(conn, borrower_id).problems)


# ---------------------------------------------------------------------------------------------
# Export


def export_chain(conn: Connection, borrower_id: str) -> Iterator[str]:
    """The borrower's chain as JSON lines (one canonical record per line, seq order), then,
    when the latest root covers this borrower, one ``{"anchor": ...}`` line: the root, the head
    it committed to and the inclusion proof, so the borrower can check the chain was not cut
    short against a root value published elsewhere. ``verify_export`` checks the file.
    """
    for record in iter_records(conn, borrower_id):
        yield record.to_json()
    stored = get_root(conn)
    if stored is None:
        return
    committed = root_heads(conn, stored)
    if not any(h.borrower_id == borrower_id for h in committed):
        return
    proof = chain.prove(committed, borrower_id)
    yield chain.canonical_json(
        {
            "anchor": {
                "label": stored.label,
                "root": stored.root,
                "created_at": stored.created_at,
                "head": {
                    "borrower_id": proof.head.borrower_id,
                    "seq": proof.head.seq,
                    "hash": proof.head.hash,
                },
                "index": proof.index,
                "size": proof.size,
                "path": list(proof.path),
            }
        }
    )


def borrowers(conn: Connection) -> Sequence[str]:
    """Every borrower with a chain, by code point."""
    query = select(R.c.borrower_id).distinct().order_by(_by_borrower(conn, R.c.borrower_id))
    return [row[0] for row in conn.execute(query)]


__all__ = [
    "Report",
    "StoredRoot",
    "append",
    "append_many",
    "borrowers",
    "export_chain",
    "get_root",
    "heads",
    "iter_records",
    "load_chain",
    "root_heads",
    "store_root",
    "verify_db",
    "verify_report",
]
