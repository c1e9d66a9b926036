"""Disputes on SQLite and PostgreSQL: flagged while open, withheld after an unanswered deadline,
outcomes in the evidence log, corrections re-reported, settlements marked D/Z, bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from credit_helpers import payoff_on
from sqlalchemy import Engine
from test_credit_export import export_one, scenario

from arrears.core.credit.report import read_history
from arrears.core.evidence.chain import Kind, sha256_hex
from arrears.services import credit as svc
from arrears.services import events as ev
from arrears.services import evidence as log
from factories import refused, succeeded


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def open_feb(engine: Engine, when: str = "2025-02-20T09:00:00", **kw: object) -> svc.Dispute:
    with engine.begin() as conn:
        res = svc.open_dispute(
            conn,
            "L1",
            "2025-02",
            "I paid on time",
            at(when),
            "D1",
            **kw,  # type: ignore[arg-type]
        )
    res = succeeded(res)
    return res


def test_open_dispute_is_flagged_until_its_deadline_then_withheld(
    engine: Engine, tmp_path: Path
) -> None:
    scenario(engine, tmp_path)
    with engine.begin() as conn:
        svc.record_notice(conn, "L1", at("2024-12-20T00:00:00"), "sms", "n")
    d = open_feb(engine, dispute_days=19)  # CN allows 20 days; a lender may answer sooner
    assert d.deadline == date(2025, 3, 11)
    # March's record (report instant 2025-03-11T00:00Z, the deadline day): flagged.
    (line,) = export_one(engine, tmp_path, "2025-03")
    rec = json.loads(line)
    assert rec["record"] == "account" and rec["disputed"] is True
    assert rec["disputes"] == [
        {"dispute_id": d.dispute_id, "month": "2025-02", "deadline": "2025-03-11"}
    ]
    (m2,) = export_one(engine, tmp_path, "2025-03", "metro2")
    assert m2[152:154] == "XB"
    # April's (instant 2025-04-11): the deadline passed with no outcome: withheld.
    (line,) = export_one(engine, tmp_path, "2025-04")
    rec = json.loads(line)
    assert rec["record"] == "withheld"
    assert "no outcome by its deadline 2025-03-11" in rec["reasons"][0]
    # The February record was made before the dispute: unchanged, not flagged.
    (line,) = export_one(engine, tmp_path, "2025-02")
    assert json.loads(line)["disputed"] is False


def test_correction_is_re_reported_and_recorded_in_evidence(engine: Engine, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    with engine.begin() as conn:
        svc.record_notice(conn, "L1", at("2024-12-20T00:00:00"), "sms", "n")
    d = open_feb(engine)
    assert d.deadline == date(2025, 3, 12)  # CN: 20 days
    with engine.begin() as conn:
        res = svc.resolve_dispute(
            conn, d.dispute_id, "corrected", "bank delay confirmed", at("2025-03-01T08:00:00"), "1"
        )
    res = succeeded(res)
    assert res.outcome == "corrected"
    (line,) = export_one(engine, tmp_path, "2025-03")
    rec = json.loads(line)
    assert rec["disputed"] is False
    assert rec["history"]["status_string"] == "11N"
    assert rec["history"]["months"][1]["corrected_from"] == "2"
    (m2,) = export_one(engine, tmp_path, "2025-03", "metro2")
    assert m2[152:154] == "XH"  # previously in dispute, investigation completed
    # Read-outs before the outcome still show the original.
    with engine.connect() as conn:
        f = svc.loan_facts(conn, "L1")
        f = succeeded(f)
        assert read_history(f, date(2025, 2, 28), None).status_string == "12"
        # A read-out as of a date is as of that day's end: the 08:00 outcome counts.
        assert read_history(f, date(2025, 3, 1), None).status_string == "11"
        chain = log.load_chain(conn, "B-L1")
    kinds = [(r.kind, r.payload.get("month")) for r in chain]
    assert (Kind.BORROWER_REQUEST.value, "2025-02") in kinds
    outcome = [r for r in chain if r.kind == svc.DISPUTE_OUTCOME_KIND]
    assert len(outcome) == 1
    assert outcome[0].payload["outcome"] == "corrected"
    # a person's words go in as their SHA-256: the chain outlives erasure of personal data
    assert outcome[0].payload["reason_sha256"] == sha256_hex("bank delay confirmed")
    assert "reason" not in outcome[0].payload
    assert outcome[0].payload["late"] is False


def test_upheld_dispute_keeps_the_status_and_late_outcomes_say_so(
    engine: Engine, tmp_path: Path
) -> None:
    scenario(engine, tmp_path)
    d = open_feb(engine)
    with engine.begin() as conn:
        res = svc.resolve_dispute(conn, d.dispute_id, "upheld", "unpaid", at("2025-03-13T00:00:00"))
        res = succeeded(res)
        f = svc.loan_facts(conn, "L1")
        chain = log.load_chain(conn, "B-L1")
    f = succeeded(f)
    assert read_history(f, date(2025, 3, 31), None).status_string == "12N"
    assert chain[-1].payload["late"] is True  # decided the day after the deadline


def test_dispute_bad_input_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    cases = [
        (("L1", "2025-13", "r", at("2025-03-01T00:00:00"), "K"), "month"),
        (("L1", "2025-06", "r", at("2025-03-01T00:00:00"), "K"), "month"),  # not reported yet
        (("L1", "2024-11", "r", at("2025-03-01T00:00:00"), "K"), "month"),  # before the loan
        (("L1", "2025-02", " ", at("2025-03-01T00:00:00"), "K"), "reason"),
        (("L1", "2025-02", "r", datetime(2025, 3, 1), "K"), "opened_at"),
        (("NOPE", "2025-02", "r", at("2025-03-01T00:00:00"), "K"), "loan_id"),
    ]
    with engine.begin() as conn:
        for args, field in cases:
            res = svc.open_dispute(conn, *args)
            assert refused(res).field == field, (args, res)
        res = svc.open_dispute(conn, "L1", "2025-02", "r", at("2025-03-01T00:00:00"), "K", 21)
        assert refused(res).field == "dispute_days"
        assert svc.disputes_of(conn, "L1") == []
        assert log.load_chain(conn, "B-L1") == []
    d = open_feb(engine)
    again = open_feb(engine)  # same key: the same dispute, once
    with engine.begin() as conn:
        assert again.dispute_id == d.dispute_id and len(svc.disputes_of(conn, "L1")) == 1
        for args, field in [
            ((d.dispute_id, "maybe", "r", at("2025-03-01T00:00:00")), "outcome"),
            ((d.dispute_id, "corrected", "r", at("2025-03-01T00:00:00"), "X"), "corrected_status"),
            ((d.dispute_id, "upheld", "r", at("2025-03-01T00:00:00"), "N"), "corrected_status"),
            ((d.dispute_id, "upheld", "", at("2025-03-01T00:00:00")), "reason"),
            ((d.dispute_id, "upheld", "r", at("2025-02-01T00:00:00")), "resolved_at"),
            ((999, "upheld", "r", at("2025-03-01T00:00:00")), "dispute_id"),
        ]:
            res = svc.resolve_dispute(conn, *args)  # type: ignore[arg-type]
            assert refused(res).field == field, (args, res)
        assert svc.disputes_of(conn, "L1")[0].outcome is None
        ok = svc.resolve_dispute(conn, d.dispute_id, "upheld", "r", at("2025-03-01T00:00:00"))
        ok = succeeded(ok)
        twice = svc.resolve_dispute(conn, d.dispute_id, "upheld", "r", at("2025-03-02T00:00:00"))
        assert refused(twice).field == "outcome"


def test_settlement_marks_and_notice_records_are_idempotent(engine: Engine, tmp_path: Path) -> None:
    scenario(engine, tmp_path)
    with engine.connect() as conn:
        f = svc.loan_facts(conn, "L1")
    f = succeeded(f)
    amount = payoff_on(f.terms, list(f.events), date(2025, 3, 20))
    succeeded(ev.pay(engine, "L1", amount, date(2025, 3, 20), "G-OFF"))
    with engine.begin() as conn:
        assert succeeded(svc.mark_settlement(conn, "L1", "G-OFF", "guarantor")) is True
        assert succeeded(svc.mark_settlement(conn, "L1", "G-OFF", "guarantor")) is False
        bad = svc.mark_settlement(conn, "L1", "G-OFF", "assets")
        assert refused(bad).field == "kind"
        bad = svc.mark_settlement(conn, "L1", "NOPE", "assets")
        assert refused(bad).field == "payment_ref"
        bad = svc.mark_settlement(conn, "L1", "G-OFF", "cash")
        assert refused(bad).field == "kind"
        f = svc.loan_facts(conn, "L1")
        f = succeeded(f)
        assert read_history(f, date(2025, 6, 30), None).status_string == "12ND"
        n1 = svc.record_notice(conn, "L1", at("2025-01-01T00:00:00"), "sms", "K1")
        n2 = svc.record_notice(conn, "L1", at("2025-01-01T00:00:00"), "sms", "K1")
        n1, n2 = succeeded(n1), succeeded(n2)
        assert (n1.already_recorded, n2.already_recorded) == (False, True)
        for args, field in [
            (("L1", at("2025-01-02T00:00:00"), "sms", "K1"), "key"),
            (("L1", at("2025-01-02T00:00:00"), "email", "K2"), "channel"),
            (("L1", datetime(2025, 1, 2), "sms", "K2"), "sent_at"),
            (("NOPE", at("2025-01-02T00:00:00"), "sms", "K2"), "loan_id"),
        ]:
            res = svc.record_notice(conn, *args)  # type: ignore[arg-type]
            assert refused(res).field == field
