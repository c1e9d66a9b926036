"""A ready-to-run collection scenario: a generated portfolio, its people, and two marked borrowers.

Used by the demo and by the long-run tests. The portfolio is generated through a horizon past
the start; loans disbursed by the start are imported with their payments up to it, and the rest
of their payments become the simulation's plan (the generator decides them per borrower, so
the plan does not depend on when the simulation runs). Two borrowers are added by hand so that
the seed's story can be followed in the evidence log:

* ``B-NEVER``: a 50,000 yuan loan, never paid, does not answer the phone; the engine escalates
  from reminders to SMS, calls, the emergency contact and, once approved, a home visit.
* ``B-PROMISE``: a 10,000 yuan loan that misses its first installment, promises on the first
  call and pays what it promised; then it pays on time.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from arrears.core.loans.product import DEFAULT_PRODUCT
from arrears.core.loans.schedule import schedule_for
from arrears.core.money import parse_amount
from arrears.core.people.collectors import Collector, Training
from arrears.core.problem import expect
from arrears.core.sim.generate import generate
from arrears.core.sim.model import STRESS_MIX, Mix
from arrears.services.accounts import load_loan
from arrears.services.collection.people import add_collector, add_training
from arrears.services.importer import import_file
from arrears.services.payments_file import import_payments
from arrears.services.portfolio_files import write_table
from arrears.services.simulation.operation import PlannedPayment

NEVER = "B-NEVER"
PROMISER = "B-PROMISE"

PACK_PEOPLE = {
    "cn": ("zh-CN", "Asia/Shanghai"),
    "us-reg-f": ("en", "America/New_York"),
    "uk-conc": ("en", "Europe/London"),
}


@dataclass(frozen=True)
class Scenario:
    start: date
    behaviours: dict[str, str]
    payments: tuple[PlannedPayment, ...]
    never_loan: str
    promise_loan: str


COLLECTOR_NAMES = ("王磊", "李静", "张军")


def _marked(start: date, pack: str) -> pl.DataFrame:
    language, zone = PACK_PEOPLE[pack]
    # Disbursed so that the first installment falls due ten days into the run: the pre-due
    # reminders (D-3, D-1) are inside it.
    disbursed = start + timedelta(days=10) - timedelta(days=31)
    rows = []
    for bid, lid, principal in (
        (NEVER, "L-NEVER", "50000.00"),
        (PROMISER, "L-PROMISE", "10000.00"),
    ):
        rows.append(
            {
                "loan_id": lid,
                "borrower_id": bid,
                "borrower_name": "王小明" if language == "zh-CN" else "Sam Lee",
                "phone": "+86 100 0000 0001" if bid == NEVER else "+86 100 0000 0002",
                "principal": principal,
                "rate": "18%",
                "rate_basis": "annual",
                "months": 12,
                "method": "annuity",
                "disbursed_on": disbursed,
                "due_day": None,
                "product": "default",
                "currency": "CNY",
                "language": language,
                "timezones": zone,
                "email": f"{bid.lower()}@example.com",
                "address": "上海市示例路1号" if language == "zh-CN" else "1 Example Road",
                "risk_score": 400,
                "vulnerable": False,
                "rule_pack": pack,
                "emergency1_name": "李华" if language == "zh-CN" else "Alex Kim",
                "emergency1_phone": "+86 100 0000 0009",
                "emergency1_relation": "sibling",
                "emergency2_name": None,
                "emergency2_phone": None,
                "emergency2_relation": None,
                "behaviour": "never" if bid == NEVER else "promiser",
            }
        )
    return pl.DataFrame(rows)


def build(
    engine: Engine,
    start: date,
    loans: int,
    seed: int,
    pack: str | None,
    days: int,
    mix: Mix = STRESS_MIX,
) -> Scenario:
    """Import the scenario's portfolio, people and collectors; return what the simulation needs.
    ``pack``: every borrower under one rule pack, or None to keep the generator's mix of
    borrowers in China, the US and the UK (their languages and zones with them).
    ``mix``: the borrowers' payment behaviours (default: the stress mix, which exercises every
    step of the engine; the demo passes the bundled model's typical book)."""
    horizon = start + timedelta(days=days)
    portfolio = generate(loans, seed, horizon, mix=mix)
    book = portfolio.loans.filter(pl.col("disbursed_on") <= start - timedelta(days=20))
    if pack is not None:
        language, zone = PACK_PEOPLE[pack]
        book = book.with_columns(
            pl.lit(pack).alias("rule_pack"),
            pl.lit(language).alias("language"),
            pl.lit(zone).alias("timezones"),
        )
    marked = _marked(start, pack or "cn")
    book = pl.concat([book, marked.select(book.columns).cast(book.schema)], how="vertical")
    ids = set(book["loan_id"])
    pays = portfolio.payments.filter(pl.col("loan_id").is_in(ids))
    before = pays.filter(pl.col("paid_on") <= start - timedelta(days=1))
    after = pays.filter(pl.col("paid_on") >= start)
    with tempfile.TemporaryDirectory() as tmp:
        lf, pf = Path(tmp) / "loans.csv", Path(tmp) / "payments.csv"
        write_table(book, lf)
        # The portfolio is generated here, so a refusal is a bug in the generator.
        expect(import_file(engine, lf))
        if before.height:
            write_table(before, pf)
            expect(import_payments(engine, pf))
    with engine.begin() as conn:
        # The field team (their names go into the visit notices a borrower reads).
        for k, name in enumerate(COLLECTOR_NAMES, start=1):
            cid = f"C{k:03d}"
            expect(add_collector(conn, Collector(cid, name, f"CRED-2026-{k:04d}")))
            expect(add_training(conn, Training(cid, start - timedelta(days=60), "conduct")))
    planned = [
        PlannedPayment(r["loan_id"], parse_amount(r["amount"]), r["paid_on"], r["ref"])
        for r in after.iter_rows(named=True)
    ]
    with engine.connect() as conn:
        rec = load_loan(conn, "L-PROMISE")
    # After keeping the promise the borrower pays every later installment on its due date.
    for inst in schedule_for(rec.terms, DEFAULT_PRODUCT)[1:]:
        if start <= inst.due_date < horizon:
            planned.append(
                PlannedPayment("L-PROMISE", inst.payment, inst.due_date, f"L-PROMISE-P{inst.n:02d}")
            )
    behaviours = dict(zip(book["borrower_id"], book["behaviour"], strict=True))
    return Scenario(start, behaviours, tuple(planned), "L-NEVER", "L-PROMISE")
