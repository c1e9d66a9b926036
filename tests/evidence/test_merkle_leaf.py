"""A head's leaf is hashed over the canonical JSON of (borrower_id, hash, seq), whichever way
the text is produced: the written-out form must equal the general canonical form, byte for
byte, for every head, and refuse what the general form refuses."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from arrears.core.evidence.chain import EvidenceError, Head, _leaf_json, canonical_json

HEX = st.text("0123456789abcdef", min_size=64, max_size=64)


def _general(bid: Any, digest: Any, seq: Any) -> bytes | type[EvidenceError]:
    try:
        return canonical_json({"borrower_id": bid, "hash": digest, "seq": seq}).encode("utf-8")
    except EvidenceError:
        return EvidenceError


def _written(bid: Any, digest: Any, seq: Any) -> bytes | type[EvidenceError]:
    try:
        return _leaf_json(Head(bid, seq, digest))
    except EvidenceError:
        return EvidenceError


@given(
    bid=st.text(),  # quotes, backslashes, control characters, non-ASCII, lone surrogates
    digest=HEX | st.text(max_size=70),
    seq=st.integers(min_value=-(2**60), max_value=2**60),
)
def test_written_out_leaf_text_is_the_canonical_text(bid: str, digest: str, seq: int) -> None:
    assert _written(bid, digest, seq) == _general(bid, digest, seq)


def test_usual_head() -> None:
    head = Head('B"1\\é', 7, "ab" * 32)
    assert (
        _leaf_json(head)
        == ('{"borrower_id":"B\\"1\\\\é","hash":"' + "ab" * 32 + '","seq":7}').encode()
    )
