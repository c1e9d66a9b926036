"""The pure evidence chain: canonical JSON, hashes, verification and tampering, the root.

Expected hashes are computed here with hashlib from literal canonical strings, never taken from
the code under test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.core.evidence.chain import (
    GENESIS_HASH,
    Break,
    Code,
    Entry,
    EvidenceError,
    Head,
    Kind,
    Proof,
    Record,
    append,
    append_all,
    body_json,
    canonical_json,
    check_proof,
    format_at,
    links,
    parse_at,
    prove,
    root,
    verify,
    verify_chain,
)

ZEROS = "0" * 64
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_chain(borrower_id: str = "b1", n: int = 5) -> list[Record]:
    records: list[Record] = []
    for i in range(n):
        head = records[-1] if records else None
        payload = {"channel": "sms", "amount": f"{100 + i}.00", "i": i}
        records.append(
            append(head, borrower_id, "contact.attempt", payload, T0 + timedelta(minutes=i))
        )
    return records


def rehash(record: Record, **changes: Any) -> Record:
    """A forger's edit: change fields and recompute the record's own hash."""
    edited = dataclasses.replace(record, **changes)
    return dataclasses.replace(edited, hash=edited.computed_hash())


# --- canonical JSON -------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_whitespace_and_keeps_unicode() -> None:
    value = {"b": 1, "a": ["x", None, True, False], "é": "逾期\n", "A": {"z": -3, "m": ""}}
    assert (
        canonical_json(value)
        == '{"A":{"m":"","z":-3},"a":["x",null,true,false],"b":1,"é":"逾期\\n"}'
    )


def test_canonical_json_escapes_only_quotes_backslash_and_control_characters() -> None:
    text = 'q" b\\ t\t u\x01 del\x7f ls\u2028 slash/'
    assert canonical_json(text) == '"q\\" b\\\\ t\\t u\\u0001 del\x7f ls\u2028 slash/"'


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"amount": 1.5}, "floats are not allowed"),
        ({"amount": Decimal("1.50")}, "Decimal is not JSON"),
        ({"n": 2**53}, "outside"),
        ({1: "x"}, "not a string"),
        ({"s": "\ud800"}, "not valid Unicode"),
    ],
)
def test_canonical_json_refuses_ambiguous_values(value: Any, reason: str) -> None:
    with pytest.raises(EvidenceError, match=reason):
        canonical_json(value)


def test_largest_safe_integer_is_accepted() -> None:
    assert canonical_json([2**53 - 1, -(2**53 - 1)]) == "[9007199254740991,-9007199254740991]"


def test_at_is_utc_with_microseconds_and_z() -> None:
    beijing = timezone(timedelta(hours=8))
    assert format_at(datetime(2024, 5, 1, 17, 30, 0, 5, tzinfo=beijing)) == (
        "2024-05-01T09:30:00.000005Z"
    )
    assert parse_at("2024-05-01T09:30:00.000005Z") == datetime(2024, 5, 1, 9, 30, 0, 5, tzinfo=UTC)
    with pytest.raises(EvidenceError, match="no time zone"):
        format_at(datetime(2024, 5, 1))
    with pytest.raises(EvidenceError):
        parse_at("2024-05-01T09:30:00Z")


# --- hashing --------------------------------------------------------------------------------


def test_first_and_second_record_hash_the_documented_bytes() -> None:
    beijing = timezone(timedelta(hours=8))
    first = append(
        None,
        "b1",
        "contact.attempt",
        {"channel": "sms", "amount": "120.00"},
        datetime(2024, 5, 1, 17, 30, tzinfo=beijing),
    )
    body1 = (
        '{"at":"2024-05-01T09:30:00.000000Z","borrower_id":"b1","kind":"contact.attempt",'
        '"payload":{"amount":"120.00","channel":"sms"},"prev_hash":"' + ZEROS + '","seq":1}'
    )
    assert first.seq == 1
    assert first.prev_hash == GENESIS_HASH == ZEROS
    assert first.hash == sha(body1)
    assert first.at == T0

    second = append(first, "b1", "contact.outcome", {"outcome": "没有接听"}, T0)
    body2 = (
        '{"at":"2024-05-01T09:30:00.000000Z","borrower_id":"b1","kind":"contact.outcome",'
        '"payload":{"outcome":"没有接听"},"prev_hash":"' + sha(body1) + '","seq":2}'
    )
    assert (second.seq, second.prev_hash, second.hash) == (2, sha(body1), sha(body2))
    assert second.to_json() == (
        '{"at":"2024-05-01T09:30:00.000000Z","borrower_id":"b1","hash":"'
        + sha(body2)
        + '","kind":"contact.outcome","payload":{"outcome":"没有接听"},"prev_hash":"'
        + sha(body1)
        + '","seq":2}'
    )


def test_record_keeps_its_own_copy_of_the_payload() -> None:
    payload: dict[str, Any] = {"rule": "cn.hours", "detail": {"hour": 23}}
    record = append(None, "b1", "contact.blocked", payload, T0)
    payload["detail"]["hour"] = 9
    assert record.payload == {"rule": "cn.hours", "detail": {"hour": 23}}
    assert verify([record]) == []


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"kind": "Contact Attempt"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"borrower_id": ""}, "borrower_id"),
        ({"borrower_id": "x" * 65}, "borrower_id"),
        ({"at": datetime(2024, 5, 1)}, "no time zone"),
        ({"payload": {"amount": 0.1}}, "floats"),
    ],
)
def test_append_refuses_bad_fields(kwargs: dict[str, Any], reason: str) -> None:
    args: dict[str, Any] = {"borrower_id": "b1", "kind": "visit", "payload": {}, "at": T0}
    args.update(kwargs)
    with pytest.raises(EvidenceError, match=reason):
        append(None, **args)


def test_append_refuses_another_borrowers_head() -> None:
    head = append(None, "b1", "visit", {}, T0)
    with pytest.raises(EvidenceError, match="cannot follow"):
        append(head, "b2", "visit", {}, T0)


def test_append_all_chains_each_borrower_after_its_own_head() -> None:
    existing = make_chain("b1", 2)
    entries = [
        Entry("b2", "visit", {"n": 1}, T0),
        Entry("b1", "promise", {"amount": "50.00"}, T0),
        Entry("b2", "visit", {"n": 2}, T0),
    ]
    out = append_all({"b1": existing[-1]}, entries)
    assert [(r.borrower_id, r.seq) for r in out] == [("b2", 1), ("b1", 3), ("b2", 2)]
    assert out[1].prev_hash == existing[-1].hash
    assert out[2].prev_hash == out[0].hash
    assert verify([*existing, *out]) == []


# --- verification and tampering ----------------------------------------------------------------


def test_intact_chains_verify() -> None:
    records = make_chain("b1") + make_chain("b2", 3)
    assert verify(records) == []
    assert verify(records, heads={"b1": records[4].head, "b2": records[7].head}) == []


def test_edit_without_rehash_names_the_edited_record() -> None:
    records = make_chain()
    records[2] = dataclasses.replace(records[2], payload={"channel": "sms", "amount": "1.00"})
    [problem] = verify(records)
    assert (problem.borrower_id, problem.seq, problem.code) == ("b1", 3, Code.HASH)


def test_edit_of_time_or_kind_is_detected() -> None:
    records = make_chain()
    records[1] = dataclasses.replace(records[1], at=records[1].at + timedelta(hours=1))
    records[3] = dataclasses.replace(records[3], kind="visit")
    [problem] = verify(records)
    assert (problem.seq, problem.code) == (2, Code.HASH)


def test_edit_with_rehash_breaks_the_next_link() -> None:
    records = make_chain()
    records[2] = rehash(records[2], payload={"channel": "sms", "amount": "1.00"})
    [problem] = verify(records)
    assert (problem.seq, problem.code) == (4, Code.LINK)
    assert "record 3 was altered" in problem.detail


def test_rewritten_last_record_is_caught_only_by_the_roots_head() -> None:
    records = make_chain()
    committed = records[-1].head
    records[-1] = rehash(records[-1], payload={"forged": True})
    assert verify(records) == []  # nothing after it to break: this is why roots exist
    [problem] = verify(records, heads={"b1": committed})
    assert (problem.seq, problem.code) == (5, Code.HEAD_MISMATCH)


def test_deleted_record_is_named() -> None:
    records = make_chain()
    del records[2]
    [problem] = verify(records)
    assert (problem.seq, problem.code) == (3, Code.SEQUENCE)
    assert "record 3 missing" in problem.detail


def test_deleted_first_record_is_named() -> None:
    records = make_chain()
    [problem] = verify(records[1:])
    assert (problem.seq, problem.code) == (1, Code.SEQUENCE)


def test_deleted_and_renumbered_record_breaks_the_link() -> None:
    records = make_chain()
    renumbered = [rehash(r, seq=r.seq - 1) for r in records[3:]]
    [problem] = verify([*records[:2], *renumbered])
    assert (problem.seq, problem.code) == (3, Code.LINK)


def test_reordered_records_are_named() -> None:
    records = make_chain()
    records[1], records[2] = records[2], records[1]
    [problem] = verify(records)
    assert (problem.seq, problem.code) == (2, Code.SEQUENCE)
    assert problem.detail == "record 2 missing: the next record found is 3"


def test_inserted_record_is_named() -> None:
    records = make_chain()
    forged = append(records[1], "b1", "contact.outcome", {"outcome": "refused"}, T0)
    tampered = [*records[:2], forged, *records[2:]]
    [problem] = verify(tampered)
    # The forged record links correctly to record 2, so the first record that cannot be right
    # is the genuine record 3, now standing at position 4.
    assert (problem.seq, problem.code) == (4, Code.SEQUENCE)
    assert "expected seq 4, found 3" in problem.detail


def test_consistently_forged_insertion_is_caught_by_the_roots_head() -> None:
    records = make_chain()
    committed = records[-1].head
    forged: list[Record] = list(records[:2])
    forged.append(append(forged[-1], "b1", "contact.outcome", {"outcome": "refused"}, T0))
    for r in records[2:]:
        forged.append(append(forged[-1], "b1", r.kind, r.payload, r.at))
    assert verify(forged) == []
    [problem] = verify(forged, heads={"b1": committed})
    assert (problem.seq, problem.code) == (5, Code.HEAD_MISMATCH)


def test_truncation_is_caught_against_the_roots_head() -> None:
    records = make_chain()
    committed = records[-1].head
    assert verify(records[:3]) == []  # a shorter chain is valid on its own
    [problem] = verify(records[:3], heads={"b1": committed})
    assert (problem.seq, problem.code) == (4, Code.TRUNCATED)
    assert "records 4..5 were removed" in problem.detail


def test_a_whole_chain_removed_is_caught_against_the_root() -> None:
    b1, b2 = make_chain("b1"), make_chain("b2", 2)
    [problem] = verify(b1, heads={"b1": b1[-1].head, "b2": b2[-1].head})
    assert (problem.borrower_id, problem.seq, problem.code) == ("b2", 1, Code.MISSING_CHAIN)


def test_records_appended_after_the_root_are_fine() -> None:
    records = make_chain()
    assert verify(records, heads={"b1": records[2].head}) == []


def test_a_record_moved_in_from_another_chain_is_named() -> None:
    b1, b2 = make_chain("b1"), make_chain("b2")
    problem = verify_chain([*b1[:2], b2[2], *b1[2:]], borrower_id="b1")
    assert problem == Break("b1", 3, Code.WRONG_BORROWER, "record belongs to borrower 'b2'")


def test_genesis_must_be_zeros() -> None:
    first = rehash(make_chain(n=1)[0], prev_hash="f" * 64)
    [problem] = verify([first])
    assert (problem.seq, problem.code) == (1, Code.LINK)


def test_each_broken_chain_reports_its_first_bad_record() -> None:
    b1, b2, b3 = make_chain("b1"), make_chain("b2"), make_chain("b3")
    b1[3] = dataclasses.replace(b1[3], kind="visit")
    b1[4] = dataclasses.replace(b1[4], kind="visit")
    del b3[0]
    problems = verify([*b1, *b2, *b3])
    assert [(p.borrower_id, p.seq, p.code) for p in problems] == [
        ("b1", 4, Code.HASH),
        ("b3", 1, Code.SEQUENCE),
    ]
    assert str(problems[0]).startswith("borrower b1 seq 4: hash: ")


payloads = st.dictionaries(
    st.text(max_size=5),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=6,
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(payloads, min_size=1, max_size=6), st.data())
def test_any_single_payload_change_is_caught_at_that_record(
    chain_payloads: list[dict[str, Any]], data: st.DataObject
) -> None:
    records: list[Record] = []
    for payload in chain_payloads:
        records.append(append(records[-1] if records else None, "b1", "visit", payload, T0))
    assert verify(records) == []
    i = data.draw(st.integers(0, len(records) - 1))
    changed = data.draw(payloads.filter(lambda p: p != records[i].payload))
    records[i] = dataclasses.replace(records[i], payload=changed)
    [problem] = verify(records)
    assert (problem.seq, problem.code) == (i + 1, Code.HASH)


# --- the root ---------------------------------------------------------------------------------


def leaf(borrower_id: str, seq: int, digest: str) -> bytes:
    text = '{"borrower_id":"' + borrower_id + '","hash":"' + digest + '","seq":' + str(seq) + "}"
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


HEADS = [Head(f"b{i}", i + 1, f"{i:x}" * 64) for i in range(7)]
L = [leaf(h.borrower_id, h.seq, h.hash) for h in HEADS]


def test_root_of_nothing_is_sha256_of_empty() -> None:
    assert root([]) == hashlib.sha256(b"").hexdigest()


def test_root_of_one_head_is_its_leaf() -> None:
    assert root(HEADS[:1]) == L[0].hex()


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (2, node(L[0], L[1])),
        (3, node(node(L[0], L[1]), L[2])),
        (4, node(node(L[0], L[1]), node(L[2], L[3]))),
        (5, node(node(node(L[0], L[1]), node(L[2], L[3])), L[4])),
        (6, node(node(node(L[0], L[1]), node(L[2], L[3])), node(L[4], L[5]))),
        (7, node(node(node(L[0], L[1]), node(L[2], L[3])), node(node(L[4], L[5]), L[6]))),
    ],
)
def test_root_pairs_left_to_right_and_carries_the_odd_node_up(n: int, expected: bytes) -> None:
    assert root(HEADS[:n]) == expected.hex()


def test_root_needs_heads_sorted_by_code_point() -> None:
    with pytest.raises(EvidenceError, match="sorted"):
        root([HEADS[1], HEADS[0]])
    with pytest.raises(EvidenceError, match="sorted"):
        root([HEADS[0], HEADS[0]])
    # "Z" (U+005A) sorts before "a" (U+0061), and "é" after both: code point order.
    root([Head("Z", 1, ZEROS), Head("a", 1, ZEROS), Head("é", 1, ZEROS)])


def test_root_changes_when_any_head_changes() -> None:
    moved = [*HEADS[:3], dataclasses.replace(HEADS[3], seq=HEADS[3].seq + 1), *HEADS[4:]]
    assert root(moved) != root(HEADS)


@pytest.mark.parametrize("size", range(1, 18))
def test_inclusion_proofs_check_for_every_leaf(size: int) -> None:
    heads = [Head(f"b{i:03d}", i + 1, sha(str(i))) for i in range(size)]
    expected_root = root(heads)
    for i, head in enumerate(heads):
        proof = prove(heads, head.borrower_id)
        assert (proof.index, proof.size, proof.root) == (i, size, expected_root)
        assert check_proof(proof)


def test_a_wrong_proof_fails() -> None:
    heads = [Head(f"b{i:03d}", i + 1, sha(str(i))) for i in range(6)]
    proof = prove(heads, "b002")
    forged_head = dataclasses.replace(proof, head=Head("b002", 3, sha("forged")))
    assert not check_proof(forged_head)
    assert not check_proof(dataclasses.replace(proof, index=3))
    assert not check_proof(dataclasses.replace(proof, path=proof.path[:-1]))
    assert not check_proof(dataclasses.replace(proof, root=ZEROS))
    assert not check_proof(Proof(proof.head, 9, 6, proof.path, proof.root))
    with pytest.raises(EvidenceError, match="no head"):
        prove(heads, "nobody")


@settings(max_examples=150, deadline=None)
@given(
    payloads,
    st.text(min_size=1, max_size=12),
    st.integers(1, 2**53 - 1),
    st.sampled_from(["visit", "contact.attempt", "a.b.c"]),
)
def test_the_hashed_body_is_the_canonical_json_of_the_six_fields(
    payload: dict[str, Any], borrower_id: str, seq: int, kind: str
) -> None:
    # The record's text is written around its payload's canonical text; the reference is the
    # plain canonical dump of the whole object, as docs/evidence.md defines it.
    at_text = format_at(T0)
    fields = {
        "at": at_text,
        "borrower_id": borrower_id,
        "kind": kind,
        "payload": payload,
        "prev_hash": ZEROS,
        "seq": seq,
    }
    expected = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert body_json(borrower_id, seq, at_text, kind, payload, ZEROS) == expected
    head = Head(borrower_id, seq - 1, ZEROS) if seq > 1 else None
    record = append(head, borrower_id, kind, payload, T0)
    assert record.hash == sha(expected) and record.at == T0
    assert record.payload_json() == canonical_json(payload)
    # A copy with another payload writes its own text, not the original's.
    assert dataclasses.replace(record, payload={"x": 1}).payload_json() == '{"x":1}'


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["b1", "b2", "b3"]), payloads), max_size=8))
def test_links_are_the_stored_form_of_append_all(items: list[tuple[str, dict[str, Any]]]) -> None:
    # The engine writes links in bulk; the chain must be the one append_all builds.
    heads = {"b2": make_chain("b2", 2)[-1]}
    entries = [Entry(b, "visit", p, T0 + timedelta(seconds=i)) for i, (b, p) in enumerate(items)]
    records = append_all(heads, entries)
    stored = links(heads, entries)
    assert [
        (r.borrower_id, r.seq, r.at_text, r.kind, r.payload_json(), r.prev_hash, r.hash)
        for r in records
    ] == [tuple(s) for s in stored]


def test_string_kinds_of_keys_and_values_are_text() -> None:
    # A StrEnum is a str: as a key or a value it is written as its text, in a plain dict or not.
    assert canonical_json({Kind.VISIT: Kind.PROMISE, "n": [Kind.VISIT]}) == (
        '{"n":["visit"],"visit":"promise"}'
    )
