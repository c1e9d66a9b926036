"""Bureau files on SQLite and PostgreSQL: the export matches ``credit history`` (reference
engine) for every account of a generated portfolio, is byte-identical when repeated, is written
whole or not at all, withholds negative records without a notice, and lays out Metro 2."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from credit_helpers import due_on
from sqlalchemy import Engine, select, update

from arrears.core.credit.history import reporting_date
from arrears.core.credit.report import history_json, read_history
from arrears.core.sim.sample import sample_portfolio
from arrears.services import credit as svc
from arrears.services import events as ev
from arrears.services.importer import import_file
from arrears.services.portfolio_files import write_csv
from arrears.store import credit_tables as ct
from arrears.store import profile_tables as pt
from factories import import_rows, loan_row, refused, succeeded

AS_OF = date(2026, 6, 30)


def load_sample(engine: Engine, tmp_path: Path, n: int = 40) -> None:
    rows, pays = sample_portfolio(n, 3, AS_OF)
    path = tmp_path / "loans.csv"
    write_csv(rows, path)
    succeeded(import_file(engine, path))
    succeeded(ev.pay_many(engine, [(p.loan_id, p.amount, p.on, p.ref) for p in pays]))


def test_export_matches_history_for_every_account(engine: Engine, tmp_path: Path) -> None:
    load_sample(engine, tmp_path)
    with engine.begin() as conn:  # notices for half the loans, long before
        for k in range(1, 41, 2):
            svc.record_notice(conn, f"L{k:06d}", datetime(2024, 1, 1, tzinfo=UTC), "sms", f"N{k}")
    out = tmp_path / "2026-05.jsonl"
    res = svc.export_month(engine, "2026-05", "jsonl", out)
    res = succeeded(res)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    with engine.connect() as conn:
        facts = svc.load_facts(conn)
    accounts = [x for x in lines if x["record"] == "account"]
    withheld = [x for x in lines if x["record"] == "withheld"]
    assert len(accounts) == res.records and len(withheld) == len(res.withheld)
    assert accounts and withheld
    assert [x["loan_id"] if "loan_id" in x else x["history"]["loan_id"] for x in lines] == sorted(
        x["loan_id"] if "loan_id" in x else x["history"]["loan_id"] for x in lines
    )
    seen = set()
    for x in accounts:
        f = facts[x["history"]["loan_id"]]
        r = reporting_date(f.terms, 2026, 5)
        reference = history_json(read_history(f, r, 24, engine="daily"), f.currency)
        assert x["history"] == reference
        assert x["status"] == reference["months"][-1]["status"]
        seen.add(f.terms.loan_id)
    for x in withheld:
        f = facts[x["loan_id"]]
        assert f.notice_at is None
        assert any("cn.credit-report.notice" in reason for reason in x["reasons"])
        seen.add(x["loan_id"])
    # Every loan open in May 2026 is in the file, once.
    expected = {
        lid
        for lid, f in facts.items()
        if read_history(f, reporting_date(f.terms, 2026, 5), 24).months
        and read_history(f, reporting_date(f.terms, 2026, 5), 24).months[-1].month == "2026-05"
    }
    assert seen == expected


def test_same_month_twice_gives_the_same_bytes_with_any_workers(
    engine: Engine, tmp_path: Path
) -> None:
    load_sample(engine, tmp_path, 15)
    for fmt in ("jsonl", "metro2"):
        a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
        r1 = svc.export_month(engine, "2026-04", fmt, a)  # type: ignore[arg-type]
        r2 = svc.export_month(engine, "2026-04", fmt, b, workers=2)  # type: ignore[arg-type]
        r1, r2 = succeeded(r1), succeeded(r2)
        assert a.read_bytes() == b.read_bytes() and r1.sha256 == r2.sha256


def test_workers_that_do_not_fork_get_their_rows_and_write_the_same_bytes(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_sample(engine, tmp_path, 12)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    succeeded(svc.export_month(engine, "2026-04", "jsonl", a))
    # Where processes are spawned (macOS, Windows), each chunk carries its own rows.
    monkeypatch.setattr(svc.mp, "get_all_start_methods", lambda: ["spawn"])
    sliced: list[int] = []
    real = svc._slice

    def counted(*args: Any) -> Any:
        chunk = real(*args)
        sliced.append(chunk[1])
        return chunk

    monkeypatch.setattr(svc, "_slice", counted)
    succeeded(svc.export_month(engine, "2026-04", "jsonl", b, workers=2))
    assert a.read_bytes() == b.read_bytes()
    assert sum(sliced) == 12  # every loan went out in a chunk of its own rows


def test_a_failed_export_leaves_the_old_file_and_no_temporary(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_sample(engine, tmp_path, 10)
    out = tmp_path / "out" / "file.m2"
    out.parent.mkdir()
    out.write_bytes(b"previous\n")
    calls = {"n": 0}
    real = svc.base_segment

    def failing(acct: svc.Metro2Account) -> str:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(acct)

    monkeypatch.setattr(svc, "base_segment", failing)
    with pytest.raises(RuntimeError):
        svc.export_month(engine, "2026-04", "metro2", out)
    assert out.read_bytes() == b"previous\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["file.m2"]


def scenario(engine: Engine, tmp_path: Path, pack: str = "cn") -> None:
    """L1 drawn 2024-12-15, due on the 10th; January and February missed, all paid Mar 10."""
    import_rows(
        engine,
        tmp_path,
        [loan_row("L1", due_day="10", disbursed_on="2024-12-15", months="6")],
    )
    if pack != "cn":
        with engine.begin() as conn:
            # The import gave the borrower the default profile; this one reports under `pack`.
            conn.execute(
                update(pt.borrower_profiles)
                .where(pt.borrower_profiles.c.borrower_id == "B-L1")
                .values(rule_pack=pack)
            )
    with engine.connect() as conn:
        f = svc.loan_facts(conn, "L1")
    f = succeeded(f)
    amount = due_on(f.terms, [], date(2025, 3, 10))
    succeeded(ev.pay(engine, "L1", amount, date(2025, 3, 10), "P-MAR"))


def export_one(engine: Engine, tmp_path: Path, month: str, fmt: str = "jsonl") -> list[str]:
    out = tmp_path / f"{month}.{fmt}"
    res = svc.export_month(engine, month, fmt, out)  # type: ignore[arg-type]
    res = succeeded(res)
    return out.read_text(encoding="utf-8").splitlines()


def test_notice_must_be_on_record_before_the_report(engine: Engine, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    # Jan's item reads 1 on Jan 10; the report instant is the start of Jan 11 (UTC).
    (line,) = export_one(engine, tmp_path, "2025-01")
    assert json.loads(line)["record"] == "withheld"
    with engine.begin() as conn:
        svc.record_notice(conn, "L1", datetime(2025, 1, 11, 0, 0, tzinfo=UTC), "sms", "late")
    (line,) = export_one(engine, tmp_path, "2025-01")
    assert json.loads(line)["record"] == "withheld"  # at the instant itself: not before
    with engine.begin() as conn:
        svc.record_notice(
            conn, "L1", datetime(2025, 1, 10, 23, 59, 59, tzinfo=UTC), "letter", "same-day"
        )
    # Before the instant, but not the lead time before it (7 days in the cn pack): the notice
    # lets the item be reported from Jan 17, so January's record waits.
    (line,) = export_one(engine, tmp_path, "2025-01")
    rec = json.loads(line)
    assert rec["record"] == "withheld"
    assert any("reported from 2025-01-17" in r for r in rec["reasons"]), rec["reasons"]
    with engine.begin() as conn:
        svc.record_notice(conn, "L1", datetime(2025, 1, 3, 2, 0, tzinfo=UTC), "sms", "on-time")
    (line,) = export_one(engine, tmp_path, "2025-01")
    rec = json.loads(line)
    assert rec["record"] == "account" and rec["status"] == "1"
    assert rec["history"]["status_string"] == "1"


def test_metro2_fields_for_the_scenario(engine: Engine, tmp_path: Path) -> None:
    scenario(engine, tmp_path, pack="us-reg-f")
    with engine.begin() as conn:
        svc.record_notice(conn, "L1", datetime(2024, 12, 20, tzinfo=UTC), "letter", "n1")
    (feb,) = export_one(engine, tmp_path, "2025-02", "metro2")
    (mar,) = export_one(engine, tmp_path, "2025-03", "metro2")
    for rec in (feb, mar):
        assert len(rec) == 426 and rec.isascii()
        assert rec[0:4] == "0426" and rec[4] == "1"
        assert rec[42:72].rstrip() == "L1"
        assert rec[72] == "I" and rec[75:83] == "12152024"  # opened 2024-12-15
        assert rec[92:101] == "000001200"  # 1,200.00 lent, whole units
        assert rec[101:104] == "006" and rec[104] == "M"
    # Feb 10: January's installment is 31 days past due: 30-59 days is status 71.
    assert feb[123:125] == "71"
    assert feb[126:150] == "0" + "B" * 23  # January: due that day, 0 days: current
    assert feb[181:189] == "02102025" and feb[189:197] == "01102025"  # DAI, first delinquency
    # Mar 10: everything paid: current (11), history Feb (31 days: 1), Jan (0).
    assert mar[123:125] == "11"
    assert mar[126:150] == "10" + "B" * 22
    assert mar[163:172] == "000000000"  # nothing past due
    assert mar[205:213] == "03102025"  # date of last payment
    assert mar[152:154] == "  "  # not disputed


def test_bad_month_and_format_are_refused(engine: Engine, tmp_path: Path) -> None:
    for month in ("2025-13", "2025-1", "25-01", "abcd-ef"):
        res = svc.export_month(engine, month, "jsonl", tmp_path / "x")
        assert refused(res).field == "month", month
    res = svc.export_month(engine, "2025-01", "csv", tmp_path / "x")  # type: ignore[arg-type]
    assert refused(res).field == "format"
    assert not (tmp_path / "x").exists()


def test_resuming_from_checkpoints_gives_the_same_bytes(engine: Engine, tmp_path: Path) -> None:
    load_sample(engine, tmp_path, 30)
    for month in ("2026-01", "2026-02", "2026-03"):
        for fmt in ("jsonl", "metro2"):
            fresh, resumed = tmp_path / f"f-{month}.{fmt}", tmp_path / f"r-{month}.{fmt}"
            succeeded(svc.export_month(engine, month, fmt, fresh, resume=False))  # type: ignore[arg-type]
            succeeded(svc.export_month(engine, month, fmt, resumed))  # type: ignore[arg-type]
            assert fresh.read_bytes() == resumed.read_bytes(), (month, fmt)
    with engine.connect() as conn:
        facts = svc.load_facts(conn)
        stored = dict(
            conn.execute(
                select(ct.credit_checkpoints.c.loan_id, ct.credit_checkpoints.c.state)
            ).all()
        )
    assert stored  # checkpoints were kept
    # A back-dated payment, a settlement mark and a correction invalidate or overlay them.
    lid = next(i for i, f in facts.items() if f.events and f.terms.disbursed_on < date(2025, 12, 1))
    succeeded(ev.pay(engine, lid, 100, date(2026, 1, 5), "BACKDATED"))
    with engine.begin() as conn:
        svc.mark_settlement(conn, lid, "BACKDATED", "guarantor")
    for month in ("2026-04", "2026-03"):
        fresh, resumed = tmp_path / f"f2-{month}.jsonl", tmp_path / f"r2-{month}.jsonl"
        svc.export_month(engine, month, "jsonl", fresh, resume=False)
        svc.export_month(engine, month, "jsonl", resumed, workers=2)
        assert fresh.read_bytes() == resumed.read_bytes(), month
