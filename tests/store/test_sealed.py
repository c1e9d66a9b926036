"""Personal data sealed at rest (``store.sealed``), checked against the documented format: the
tests derive the column keys themselves (HKDF-SHA-512 of the test data key, AES-SIV) rather
than asking the code under test what it would have written."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, insert, select, text

# Imported for their tables: every sealed column must be in the metadata the test reads.
import arrears.store.case_tables
import arrears.store.outbox_tables
import arrears.store.profile_tables
from arrears.store import bulk
from arrears.store import tables as t
from arrears.store.keyfiles import secret
from arrears.store.migrate import downgrade, upgrade
from arrears.store.profile_tables import emergency_contacts
from arrears.store.sealed import Sealed, SealedError, Sealer, sealed_columns
from arrears.store.tables import metadata

KEY = os.environ["ARREARS_DATA_KEY"].encode()  # tests/conftest.py sets it
PHONE = "13812345678"
NAME = "张三"


def column_key(where: str) -> bytes:
    info = f"arrears sealed v1 {where}".encode()
    return HKDF(algorithm=hashes.SHA512(), length=64, salt=None, info=info).derive(KEY)


def open_raw(where: str, stored: str) -> str:
    """Open a stored value the way the module's docstring says it was made."""
    assert stored.startswith("enc1:")
    body = stored[5:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return AESSIV(column_key(where)).decrypt(raw, None).decode()


def expected_tail(digits: str) -> str:
    key = HKDF(
        algorithm=hashes.SHA512(), length=32, salt=None, info=b"arrears phone tail v1"
    ).derive(KEY)
    return hmac.new(key, digits.encode(), hashlib.sha256).hexdigest()


def add_borrower(conn: Any, bid: str = "B1", name: str = NAME, phone: str = PHONE) -> None:
    conn.execute(insert(t.borrowers).values(borrower_id=bid, name=name, phone=phone))


def raw(conn: Any, sql: str) -> list[Any]:
    return list(conn.execute(text(sql)).all())


def test_round_trip_and_the_stored_form(engine: Engine) -> None:
    with engine.begin() as conn:
        add_borrower(conn)
        conn.execute(
            insert(emergency_contacts).values(
                borrower_id="B1", seq=1, name="李四", phone=PHONE, relation="friend"
            )
        )
    with engine.connect() as conn:
        row = conn.execute(select(t.borrowers)).one()
        assert (row.name, row.phone) == (NAME, PHONE)
        [(name, phone, tail)] = raw(conn, "SELECT name, phone, phone_tail FROM borrowers")
        [(contact_phone,)] = raw(conn, "SELECT phone FROM emergency_contacts")
    assert PHONE not in phone and NAME not in name
    assert open_raw("borrowers.phone", phone) == PHONE
    assert open_raw("borrowers.name", name) == NAME
    # The same number in another column is another ciphertext, under that column's key.
    assert contact_phone != phone
    assert open_raw("emergency_contacts.phone", contact_phone) == PHONE
    with pytest.raises(Exception):  # noqa: B017 - the authentication failure itself
        open_raw("borrowers.phone", contact_phone)
    assert tail == expected_tail("5678")


def test_equality_lookups_bind_the_sealed_value(engine: Engine) -> None:
    with engine.begin() as conn:
        add_borrower(conn, "B1", phone=PHONE)
        add_borrower(conn, "B2", name="王五", phone="13900000000")
    with engine.connect() as conn:
        b = t.borrowers.c
        assert conn.execute(select(b.borrower_id).where(b.phone == PHONE)).scalars().all() == ["B1"]
        found = conn.execute(select(b.borrower_id).where(b.phone.in_(["13900000000"]))).all()
        assert [r[0] for r in found] == ["B2"]
        assert conn.execute(select(b.borrower_id).where(b.name == NAME)).scalar_one() == "B1"


def test_none_and_the_empty_string_stay_as_they_are(engine: Engine) -> None:
    with engine.begin() as conn:
        add_borrower(conn)
        conn.execute(
            insert(arrears.store.profile_tables.borrower_profiles).values(
                borrower_id="B1", email=None, address=""
            )
        )
    with engine.connect() as conn:
        assert raw(conn, "SELECT email, address FROM borrower_profiles") == [(None, "")]
        p = conn.execute(select(arrears.store.profile_tables.borrower_profiles)).one()
        assert (p.email, p.address) == (None, "")


def test_a_tampered_value_is_refused_naming_the_column(engine: Engine) -> None:
    with engine.begin() as conn:
        add_borrower(conn)
        [(stored,)] = raw(conn, "SELECT phone FROM borrowers")
        flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
        conn.execute(text("UPDATE borrowers SET phone = :p"), {"p": flipped})
    with engine.connect() as conn, pytest.raises(SealedError, match=r"borrowers\.phone"):
        conn.execute(select(t.borrowers.c.phone)).all()


def test_a_value_sealed_under_another_key_is_refused(engine: Engine) -> None:
    other = Sealer(b"another data key, 32 characters or more").seal("borrowers.phone", PHONE)
    with engine.begin() as conn:
        add_borrower(conn)
        conn.execute(text("UPDATE borrowers SET phone = :p"), {"p": other})
    with engine.connect() as conn, pytest.raises(SealedError, match="ARREARS_DATA_KEY"):
        conn.execute(select(t.borrowers.c.phone)).all()


def test_a_clear_value_at_run_time_is_a_bug_and_said_so(engine: Engine) -> None:
    with engine.begin() as conn:
        add_borrower(conn)
        conn.execute(text("UPDATE borrowers SET name = 'Clear Name'"))
    with engine.connect() as conn, pytest.raises(SealedError, match=r"borrowers\.name.*not sealed"):
        conn.execute(select(t.borrowers.c.name)).all()


def test_the_bulk_writer_seals(engine: Engine) -> None:
    with engine.begin() as conn:
        bulk.insert_rows(conn, t.borrowers, ("borrower_id", "name", "phone"), [("B1", NAME, PHONE)])
    with engine.connect() as conn:
        [(name, phone)] = raw(conn, "SELECT name, phone FROM borrowers")
        assert open_raw("borrowers.phone", phone) == PHONE
        assert open_raw("borrowers.name", name) == NAME
        assert conn.execute(select(t.borrowers.c.name)).scalar_one() == NAME


def test_every_sealed_type_names_its_own_column() -> None:
    found = {
        f"{table.name}.{name}": where
        for table in metadata.tables.values()
        for name, where in sealed_columns(table).items()
    }
    assert all(k == v for k, v in found.items()), found
    assert set(found) == {
        "borrowers.name", "borrowers.phone", "emergency_contacts.name", "emergency_contacts.phone",
        "borrower_profiles.email", "borrower_profiles.address", "visits.address",
        "outbox.recipient", "mailbox.recipient", "contact_attempts.number", "queue_items.number",
    }  # fmt: skip
    assert isinstance(t.borrowers.c.phone.type, Sealed)


def test_the_migration_seals_existing_rows_and_its_downgrade_opens_them(db_url: str) -> None:
    from arrears.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        downgrade(engine, "0024")
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO borrowers VALUES ('B1', :n, :p)"), {"n": NAME, "p": PHONE}
            )
            conn.execute(
                text("INSERT INTO emergency_contacts VALUES ('B1', 1, 'Li Si', :p, 'friend')"),
                {"p": PHONE},
            )
        upgrade(engine)
        with engine.connect() as conn:
            [(name, phone, tail)] = raw(conn, "SELECT name, phone, phone_tail FROM borrowers")
            [(contact,)] = raw(conn, "SELECT name FROM emergency_contacts")
            assert open_raw("borrowers.name", name) == NAME
            assert open_raw("borrowers.phone", phone) == PHONE
            assert open_raw("emergency_contacts.name", contact) == "Li Si"
            assert tail == expected_tail("5678")
            row = conn.execute(select(t.borrowers)).one()
            assert (row.name, row.phone) == (NAME, PHONE)
        downgrade(engine, "0024")
        with engine.connect() as conn:
            assert raw(conn, "SELECT borrower_id, name, phone FROM borrowers") == [
                ("B1", NAME, PHONE)
            ]
            assert raw(conn, "SELECT name, phone FROM emergency_contacts") == [("Li Si", PHONE)]
        upgrade(engine)
    finally:
        engine.dispose()


def test_a_development_key_is_made_once_and_said_so(tmp_path: Path) -> None:
    said: list[str] = []
    env = {"ARREARS_KEY_DIR": str(tmp_path)}
    first = secret(env, said.append, "ARREARS_DATA_KEY", "data.key", "personal data at rest")
    again = secret(env, said.append, "ARREARS_DATA_KEY", "data.key", "personal data at rest")
    assert first == again and len(said) == 1 and "ARREARS_DATA_KEY" in said[0]
    assert (tmp_path / "data.key").stat().st_mode & 0o077 == 0
    short = secret({"ARREARS_DATA_KEY": "short"}, said.append, "ARREARS_DATA_KEY", "data.key", "")
    assert short[0] is None and "at least 32" in str(short[1][0])
