"""What the borrower is told will happen is what the close then does, while nothing is paid."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from arrears.cli.main import app
from arrears.services import events
from arrears.services import evidence as log
from arrears.services.close import forecast as forecast_mod
from arrears.services.close.day import CloseConfig, close_business_day
from arrears.services.close.forecast import Forecast, borrower_forecast
from arrears.services.close.reference import close_through
from arrears.services.policy_files import default_policy_set
from arrears.store import tables as t
from arrears.store.case_tables import case_routings
from contact.test_cases_support import overdue_loans
from factories import import_rows, loan_row, refused, succeeded

CONFIG = CloseConfig(default_policy_set())
START = date(2024, 3, 2)
DAYS = 30


def real_close(engine: Engine, day: date) -> None:
    close_business_day(engine, day, CONFIG, now=datetime.combine(day, time(0, 30), UTC))


@pytest.fixture
def book(engine: Engine, tmp_path: Path) -> Engine:
    # B-L1: 16 days overdue on 2 March with an emergency contact; B-L3 the same under the UK
    # pack in London; B-L2 current, first due 20 March (pre-due reminders, then overdue).
    overdue_loans(
        engine,
        tmp_path,
        ["L1", "L3"],
        profiles={"B-L3": {"rule_pack": "uk-conc", "timezones": "Europe/London", "language": "en"}},
        emergency={"B-L1": ["13900000001"], "B-L3": ["+447700900003"]},
    )
    import_rows(engine, tmp_path, [loan_row("L2", disbursed_on="2024-02-20")])
    close_through(engine, date(2024, 3, 1))
    real_close(engine, START)
    return engine


def _forecast_steps(f: Forecast) -> list[tuple[str, str, str, object, object, tuple[str, ...]]]:
    return [(n.on.isoformat(), n.kind, n.step, n.channel, n.party, n.rules) for n in f.next]


def _close_steps(
    engine: Engine, borrower_id: str, seen: int, loan_ids: list[str]
) -> list[tuple[str, str, str, object, object, tuple[str, ...]]]:
    out = []
    with engine.connect() as conn:
        for r in log.load_chain(conn, borrower_id)[seen:]:
            if r.kind not in ("contact.planned", "contact.blocked"):
                continue
            p = r.payload
            kind = "contact" if r.kind == "contact.planned" else "blocked"
            rules = tuple(p.get("rules", ())) if kind == "blocked" else ()
            out.append(
                (
                    p["business_date"] if "business_date" in p else r.at_text[:10],
                    kind,
                    p["step"],
                    p.get("channel"),
                    p.get("party"),
                    rules,
                )
            )
        rc = case_routings.c
        for kind, on in conn.execute(
            select(rc.kind, rc.routed_on).where(rc.loan_id.in_(loan_ids), rc.routed_on > START)
        ):
            out.append((on.isoformat(), "routing", kind, None, None, ()))
    return sorted(out, key=lambda s: (s[0], s[1] == "routing"))


def test_the_forecast_is_what_the_close_then_does(book: Engine) -> None:
    borrowers = {"B-L1": ["L1"], "B-L2": ["L2"], "B-L3": ["L3"]}
    forecasts, seen = {}, {}
    for b in borrowers:
        forecasts[b] = succeeded(borrower_forecast(book, b, CONFIG, days=DAYS))
        with book.connect() as conn:
            seen[b] = len(log.load_chain(conn, b))
    for k in range(1, DAYS + 1):
        real_close(book, START + timedelta(days=k))
    for b, loans in borrowers.items():
        predicted = sorted(_forecast_steps(forecasts[b]), key=lambda s: (s[0], s[1] == "routing"))
        actual = _close_steps(book, b, seen[b], loans)
        assert predicted == actual, b
    # And the forecast says something: calls, texts, emergency contacts, pre-due reminders.
    steps = {s[2] for f in forecasts.values() for s in _forecast_steps(f)}
    assert {"call_debtor", "sms_overdue", "sms_emergency_contact", "sms_pre_due"} <= steps


def test_what_is_owed_and_what_stops_each_step(book: Engine) -> None:
    f = succeeded(borrower_forecast(book, "B-L1", CONFIG, days=5))
    with book.connect() as conn:
        s = conn.execute(select(t.loan_state).where(t.loan_state.c.loan_id == "L1")).one()
    (loan,) = f.loans
    assert (loan.dpd, loan.overdue_principal, loan.overdue_interest, loan.overdue_penalty) == (
        s.dpd,
        s.overdue_principal,
        s.overdue_interest,
        s.overdue_penalty,
    )
    assert loan.payoff >= loan.outstanding  # interest accrued to the day on top
    first = f.next[0]
    pay = first.stops[0]
    assert (pay.kind, pay.by) == ("pay", first.on - timedelta(days=1))
    # The day before the first step, what is overdue is today's, plus a day's penalty at most.
    assert loan.overdue <= pay.amount <= loan.overdue + 100  # type: ignore[operator]
    assert {s.kind for s in first.stops} >= {"pay", "promise", "plan", "dispute"}
    assert f.credit["borrower_id"] == "B-L1"


def test_a_forecast_is_worked_out_once_per_state_of_the_borrowers_records(
    book: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []
    real_run = forecast_mod._run

    def counted(*args: Any) -> Any:
        runs.append(args[1])
        return real_run(*args)

    monkeypatch.setattr(forecast_mod, "_run", counted)
    first = succeeded(borrower_forecast(book, "B-L1", CONFIG, days=5))
    again = succeeded(borrower_forecast(book, "B-L1", CONFIG, days=5))
    assert again == first and runs == ["B-L1"]  # read twice, worked out once
    succeeded(borrower_forecast(book, "B-L1", CONFIG, days=6))  # asked otherwise: worked out
    assert runs == ["B-L1", "B-L1"]
    (loan,) = first.loans
    with book.begin() as conn:
        succeeded(events.pay_in(conn, "L1", loan.overdue, START, "forecast-cache-1"))
    paid = succeeded(borrower_forecast(book, "B-L1", CONFIG, days=5))
    assert runs == ["B-L1"] * 3  # the payment changed the records: a new dry run
    (after,) = paid.loans
    assert after.outstanding == loan.outstanding - loan.overdue
    assert after.overdue == 0 and paid.next != first.next


def test_bad_requests(book: Engine) -> None:
    assert refused(borrower_forecast(book, "NOPE", CONFIG)).code == "not_found"
    assert refused(borrower_forecast(book, "B-L1", CONFIG, days=0)).field == "days"
    assert refused(borrower_forecast(book, "B-L1", CONFIG, as_of=date(2024, 1, 1))).field == "as_of"


def test_cli(book: Engine, db_url: str) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["borrower", "show", "B-L1", "--db", db_url, "--days", "7", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["loans"][0]["loan_id"] == "L1" and data["next"]
    text = runner.invoke(app, ["borrower", "show", "B-L1", "--db", db_url, "--days", "7"])
    assert text.exit_code == 0, text.output
    assert "逾期" in text.output and "2024-03-03" in text.output
    en = runner.invoke(app, ["borrower", "show", "B-L3", "--db", db_url, "--days", "7"])
    assert "overdue" in en.output
