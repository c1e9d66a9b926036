"""generate -> import -> the database holds the file; payments import in bulk equals
``pay_many`` (the per-loan reference) table for table; the columnar import equals the
per-loan ``open_account`` path. Both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from arrears.core.money import parse_amount, parse_rate
from arrears.core.sim.generate import generate
from arrears.services import importer
from arrears.services.events import pay_many
from arrears.services.importer import ImportReport, import_file
from arrears.services.payments_file import apply_payments, import_payments, read_payments
from arrears.services.portfolio_files import write_table
from arrears.store import profile_tables as pt
from arrears.store import tables as t
from arrears.store.engine import make_engine
from factories import assert_journal_consistent, counts, dump, second_database, succeeded

AS_OF = date(2026, 11, 28)


def _write(tmp_path: Path, n: int, seed: int, ext: str = ".parquet") -> tuple[Path, Path]:
    p = generate(n, seed, AS_OF)
    loans, pays = tmp_path / f"loans{ext}", tmp_path / f"pays{ext}"
    write_table(p.loans, loans)
    write_table(p.payments, pays)
    return loans, pays


@pytest.mark.parametrize("ext", [".parquet", ".csv"])
def test_generated_file_imports_and_the_database_equals_the_file(
    engine: Engine, tmp_path: Path, ext: str
) -> None:
    loans_path, _ = _write(tmp_path, 300, 21, ext)
    frame = generate(300, 21, AS_OF).loans
    res = import_file(engine, loans_path)
    borrowers = frame["borrower_id"].n_unique()
    assert succeeded(res) == ImportReport(300, borrowers, False)
    with engine.connect() as conn:
        stored = {r.loan_id: r for r in conn.execute(select(t.loans))}
        people = {r.borrower_id: r for r in conn.execute(select(t.borrowers))}
        profiles = {r.borrower_id: r for r in conn.execute(select(pt.borrower_profiles))}
        contacts = {(r.borrower_id, r.seq): r for r in conn.execute(select(pt.emergency_contacts))}
    assert len(stored) == 300 and len(people) == borrowers == len(profiles)
    for r in frame.iter_rows(named=True):
        s = stored[r["loan_id"]]
        assert s.borrower_id == r["borrower_id"]
        assert s.principal == parse_amount(r["principal"])
        assert s.rate == str(parse_rate(r["rate"])) and s.rate_basis == r["rate_basis"]
        assert (s.months, s.method, s.disbursed_on) == (r["months"], r["method"], r["disbursed_on"])
        assert s.due_day == r["due_day"]
        b = people[r["borrower_id"]]
        assert (b.name, b.phone) == (r["borrower_name"], r["phone"])
        p = profiles[r["borrower_id"]]
        assert (p.language, p.timezones, p.email, p.address) == (
            r["language"],
            r["timezones"],
            r["email"],
            r["address"],
        )
        assert (p.risk_score, bool(p.vulnerable), p.rule_pack) == (
            r["risk_score"],
            r["vulnerable"],
            r["rule_pack"],
        )
        for k in (1, 2):
            c = contacts.get((r["borrower_id"], k))
            if r[f"emergency{k}_name"] is None:
                assert c is None
            else:
                assert c is not None
                assert (c.name, c.phone, c.relation) == (
                    r[f"emergency{k}_name"],
                    r[f"emergency{k}_phone"],
                    r[f"emergency{k}_relation"],
                )
    assert_journal_consistent(engine)


def test_generated_payments_apply_once_and_the_ledger_stays_consistent(
    engine: Engine, tmp_path: Path
) -> None:
    loans_path, pays_path = _write(tmp_path, 120, 22)
    succeeded(import_file(engine, loans_path))
    res = succeeded(import_payments(engine, pays_path))
    payments = succeeded(read_payments(pays_path))
    assert not any(r.already_applied for r in res)
    assert len(res) == len(payments) > 0
    assert_journal_consistent(engine)
    frame = generate(120, 22, AS_OF).loans
    on_time = set(frame.filter(frame["behaviour"] == "on_time")["loan_id"].to_list())
    with engine.connect() as conn:
        dpd = {r.loan_id: r.dpd for r in conn.execute(select(t.loan_state))}
    assert on_time and all(dpd[i] == 0 for i in on_time)
    before = counts(engine)
    again = succeeded(import_payments(engine, pays_path))  # a retried file applies nothing twice
    assert len(again) == len(res) and all(r.already_applied for r in again)
    assert counts(engine) == before


def test_bulk_payments_equal_pay_many(db_url: str, tmp_path: Path) -> None:
    loans_path, pays_path = _write(tmp_path, 80, 23)
    rows = succeeded(read_payments(pays_path))
    with second_database(db_url, tmp_path) as other:
        a, b = make_engine(db_url), make_engine(other)
        try:
            for e in (a, b):
                succeeded(import_file(e, loans_path))
            ours = succeeded(apply_payments(a, rows))
            ref = succeeded(pay_many(b, rows))
            assert [(x.loan_id, x.ref, x.allocation, x.aged) for x in ours] == [
                (x.loan_id, x.ref, x.allocation, x.aged) for x in ref
            ]
            assert dump(a) == dump(b)
        finally:
            a.dispose()
            b.dispose()


def test_columnar_import_equals_the_per_loan_path(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loans_path, _ = _write(tmp_path, 150, 24)
    with second_database(db_url, tmp_path) as other:
        a, b = make_engine(db_url), make_engine(other)
        try:
            succeeded(import_file(a, loans_path))
            monkeypatch.setattr(importer, "MAX_FAST_PRINCIPAL", 0)  # every loan the slow way
            succeeded(import_file(b, loans_path))
            assert dump(a) == dump(b)
        finally:
            a.dispose()
            b.dispose()


def test_a_bad_payment_in_a_generated_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    loans_path, pays_path = _write(tmp_path, 60, 25, ".csv")
    succeeded(import_file(engine, loans_path))
    lines = pays_path.read_text().splitlines()
    # a ref reused for another loan, and a loan that does not exist
    first = lines[1].split(",")
    lines.append("L999999,10.00,2026-11-01,X-1")
    lines.append(f"L000002,10.00,2026-11-01,{first[3]}")
    pays_path.write_text("\n".join(lines) + "\n")
    before = counts(engine)
    value, found = import_payments(engine, pays_path)
    assert value is None
    problems = [str(p) for p in found]
    # The unknown loan is on the file's second-to-last line (the header is line 1).
    assert f"line {len(lines) - 1} (loan L999999): loan_id: loan 'L999999' not found" in problems
    assert any(p.missing for p in found)  # the CLI exits 1 for it
    # The reused ref clashes on the last line, where it names another loan.
    reused = f"line {len(lines)} (ref {first[3]}): ref: already used"
    assert any(p.startswith(reused) for p in problems), problems
    assert counts(engine) == before
