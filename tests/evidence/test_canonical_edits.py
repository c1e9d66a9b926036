"""Issue 15: ``evidence verify`` checks the stored bytes. Every edit that leaves a payload
reading the same (or reading differently to another reader) but written otherwise than its one
canonical text is refused, naming the record, by the service, the CLI and the borrower's
standalone verifier, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.core.evidence import chain, verify_export
from arrears.core.evidence.chain import Code, EvidenceError, NotCanonical, canonical_json
from arrears.services import evidence as log

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
runner = CliRunner()

# Record b1 seq 2, as the log stores it (written out by hand: sorted keys, no whitespace,
# Chinese as UTF-8, integers plainly).
STORED = '{"channel":"sms","note":"逾期A","priority":294,"zero":0}'

# (name, the edited text, what the refusal says). Each reads as JSON; none is the canonical
# text of what it reads as.
EDITS = [
    ("space after a colon", STORED.replace('"channel":', '"channel": '), "whitespace"),
    ("space after a comma", STORED.replace(",", ", ", 1), "whitespace"),
    ("a trailing newline", STORED + "\n", "whitespace"),
    (
        "keys out of order",
        '{"note":"逾期A","channel":"sms","priority":294,"zero":0}',
        "keys out of code point order",
    ),
    (
        "a key twice",
        '{"channel":"sms","note":"逾期A","priority":999,"priority":294,"zero":0}',
        "'priority' appears twice",
    ),
    ("an ASCII letter escaped", STORED.replace("逾期A", "逾期\\u0041"), "escaped"),
    ("Chinese escaped", STORED.replace("逾期", "\\u903e\\u671f"), "escaped"),
    ("an integer written 294.0", STORED.replace("294", "294.0"), "not an integer"),
    ("an integer with an exponent", STORED.replace("294", "2.94e2"), "not an integer"),
    ("an integer with a leading zero", STORED.replace("294", "0294"), "leading zero"),
    ("zero written -0", STORED.replace('"zero":0', '"zero":-0'), "-0"),
]


def write(conn: Connection, note: str = "逾期A") -> None:
    log.append(conn, "b1", "contact.attempt", {"channel": "sms", "i": 1}, T0)
    payload = {"zero": 0, "priority": 294, "note": note, "channel": "sms"}
    log.append(conn, "b1", "contact.attempt", payload, T0 + timedelta(minutes=1))
    log.append(conn, "b1", "contact.outcome", {"outcome": "无人接听"}, T0 + timedelta(minutes=2))
    log.append(conn, "b2", "contact.blocked", {"rule": "cn.quiet_hours"}, T0)


@contextmanager
def bypass(engine: Engine) -> Iterator[Connection]:
    """A connection that can change evidence rows: what an attacker with DBA rights can do."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER evidence_records_no_update"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        yield conn


def edit(engine: Engine, payload: str) -> None:
    with bypass(engine) as conn:
        conn.execute(
            text("UPDATE evidence_records SET payload = :p WHERE borrower_id = 'b1' AND seq = 2"),
            {"p": payload},
        )


def test_the_stored_text_is_the_canonical_text(engine: Engine) -> None:
    with engine.begin() as conn:
        write(conn)
        stored = conn.execute(
            text("SELECT payload FROM evidence_records WHERE borrower_id = 'b1' AND seq = 2")
        ).scalar_one()
    assert stored == STORED
    with engine.begin() as conn:
        assert log.verify_db(conn) == []


CONTROL_EDITS = [
    ("a newline escaped as \\u000a", "逾期\nA", '"逾期\\u000aA"'),
    ("a tab escaped as \\u0009", "逾期\tA", '"逾期\\u0009A"'),
    ("a slash escaped", "逾期/A", '"逾期\\/A"'),
    ("a control character in upper-case hex", "逾期\x1fA", '"逾期\\u001FA"'),
]


@pytest.mark.parametrize(("name", "edited", "reason"), EDITS, ids=[e[0] for e in EDITS])
def test_every_non_canonical_edit_fails_verify(
    engine: Engine, db_url: str, name: str, edited: str, reason: str
) -> None:
    with engine.begin() as conn:
        write(conn)
    edit(engine, edited)
    with engine.begin() as conn:
        problems = log.verify_db(conn)
    assert [(p.borrower_id, p.seq, p.code) for p in problems] == [("b1", 2, Code.NOT_CANONICAL)]
    assert reason in problems[0].detail

    cli = runner.invoke(app, ["evidence", "verify", "--db", db_url])
    assert cli.exit_code == 1, cli.output
    assert "evidence TAMPERED: borrower b1 seq 2: not_canonical:" in cli.output
    only_b2 = runner.invoke(app, ["evidence", "verify", "--db", db_url, "--borrower", "b2"])
    assert only_b2.exit_code == 0, only_b2.output


def test_the_edits_are_ones_a_re_serialising_verifier_missed() -> None:
    # What made them dangerous: read and written back, all but three are the original text
    # again, so checking a re-serialisation passed them. The three are numbers that read as
    # floats or not at all, which that check refused as unreadable.
    sneaky = {name for name, edited, _ in EDITS if _reserialised(edited) == STORED}
    assert sneaky == {name for name, _, _ in EDITS} - {
        "an integer written 294.0",
        "an integer with an exponent",
        "an integer with a leading zero",
    }


def _reserialised(edited: str) -> str | None:
    try:
        return canonical_json(json.loads(edited))
    except ValueError:  # not JSON, or (EvidenceError) a float
        return None


def test_a_key_twice_reads_as_the_first_value_in_sqlite(engine: Engine) -> None:
    # Why a repeated key is an edit, not a harmless spelling: readers disagree on its value.
    duplicated = '{"priority":999,"priority":294}'
    assert json.loads(duplicated)["priority"] == 294
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            first = conn.execute(text("SELECT json_extract(:p, '$.priority')"), {"p": duplicated})
            assert first.scalar_one() == 999


@pytest.mark.parametrize(
    ("name", "note", "edited_note"), CONTROL_EDITS, ids=[e[0] for e in CONTROL_EDITS]
)
def test_escapes_spelled_otherwise_fail_verify(
    engine: Engine, name: str, note: str, edited_note: str
) -> None:
    with engine.begin() as conn:
        write(conn, note)
        stored = conn.execute(
            text("SELECT payload FROM evidence_records WHERE borrower_id = 'b1' AND seq = 2")
        ).scalar_one()
    canonical_note = canonical_json(note)
    assert canonical_note in stored
    edited = stored.replace(canonical_note, edited_note)
    assert json.loads(edited) == json.loads(stored)  # reads the same
    edit(engine, edited)
    with engine.begin() as conn:
        problems = log.verify_db(conn)
    assert [(p.borrower_id, p.seq, p.code) for p in problems] == [("b1", 2, Code.NOT_CANONICAL)]
    assert "escaped otherwise" in problems[0].detail


@pytest.mark.parametrize(("name", "edited", "reason"), EDITS, ids=[e[0] for e in EDITS])
def test_an_export_of_an_edited_record_fails_the_standalone_verifier(
    engine: Engine, name: str, edited: str, reason: str
) -> None:
    with engine.begin() as conn:
        write(conn)
        log.store_root(conn, "2024-05-01", T0)
    edit(engine, edited)
    with engine.begin() as conn:
        lines = list(log.export_chain(conn, "b1"))
    assert edited in lines[1]  # exported as stored, not repaired on the way out
    with pytest.raises(verify_export.Bad, match=r"^line 2\b") as bad:
        verify_export.verify_lines(lines)
    if name != "an integer with a leading zero":  # not JSON to any reader: only its line
        assert "borrower b1 seq 2" in str(bad.value)


def test_an_export_whose_line_is_respelled_fails_the_standalone_verifier(engine: Engine) -> None:
    # The payload intact, the record line around it written otherwise: still an edit.
    with engine.begin() as conn:
        write(conn)
        lines = list(log.export_chain(conn, "b1"))
    assert verify_export.verify_lines(lines).startswith("intact: borrower b1, 3 records")
    record = json.loads(lines[0])
    pretty = json.dumps(record, ensure_ascii=False, sort_keys=True)  # ", " and ": "
    unsorted = json.dumps(dict(reversed(record.items())), ensure_ascii=False, separators=(",", ":"))
    for respelled, reason in ((pretty, "whitespace"), (unsorted, "differs")):
        with pytest.raises(verify_export.Bad, match=reason):
            verify_export.verify_lines([respelled, *lines[1:]])


# --- the core's reading of a stored text ---------------------------------------------------


@pytest.mark.parametrize(
    "canonical",
    [
        "{}",
        '{"a":[1,-2,0,true,false,null,{}],"b":"逾期\\n\\u0001\\"\\\\/\x7f\u2028"}',
        '{"n":9007199254740991}',
        '{"A":1,"a":2,"é":3,"逾":4}',
    ],
)
def test_canonical_texts_read_back(canonical: str) -> None:
    assert canonical_json(chain.read_canonical(canonical)) == canonical


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ('{"a":1 }', "whitespace"),
        ('{"b":1,"a":2}', "out of code point order"),
        ('{"a":1,"b":2,"a":1}', "appears twice"),
        ('{"a":"\\u0041"}', "escaped"),
        ('{"a":1E2}', "not an integer"),
        ('{"a":NaN}', "not an integer"),
        ('{"a":-0}', "-0"),
        ('{"a":-01}', "leading zero"),
        ('{"a":[00]}', "leading zero"),
        ('{"n":9007199254740992}', "its value has no canonical form"),
    ],
)
def test_non_canonical_texts_are_refused_with_the_reason(stored: str, reason: str) -> None:
    with pytest.raises(NotCanonical, match=reason):
        chain.read_canonical(stored)


def test_text_that_is_not_json_is_malformed_not_merely_non_canonical() -> None:
    with pytest.raises(EvidenceError, match="not JSON") as info:
        chain.read_canonical("{not json")
    assert not isinstance(info.value, NotCanonical)


# any text UTF-8 can hold: every character but the lone surrogates
texts = st.text(st.characters(blacklist_categories=("Cs",)))


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64),
    st.dictionaries(texts, texts | st.integers(-9, 9)),
    st.integers(1, 10**6),
)
def test_the_hash_over_the_stored_text_is_the_hash_over_the_fields(
    borrower_id: str, payload: dict[str, Any], seq: int
) -> None:
    # Verification writes the body around the stored text; appending wrote it from the value.
    head = chain.Head(borrower_id, seq - 1, "a" * 64) if seq > 1 else None
    stored = chain.link(head, borrower_id, "contact.attempt", payload, T0)
    assert chain.read_canonical(stored.payload) == payload
    assert (
        chain.stored_hash(
            borrower_id, seq, stored.at, stored.kind, stored.payload, stored.prev_hash
        )
        == stored.hash
        == chain.sha256_hex(
            chain.body_json(borrower_id, seq, stored.at, stored.kind, payload, stored.prev_hash)
        )
    )
