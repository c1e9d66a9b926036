"""Credit export benchmark: a generated portfolio, one month's bureau file, and a check that the
file matches ``credit history`` (reference engine) on a sample of accounts.

    .venv/bin/python bench/bench_credit.py --loans 100000 --workers 2 [--db URL]

Set-up writes loans and payments straight into a fresh SQLite file (bulk inserts of
``sim.sample_portfolio`` rows; no ledger replay at load time, because the export replays every
loan from its events anyway). Timed: the month's export replaying every loan from disbursement
(``resume=False``), and the same export resumed from the checkpoints the previous month's
export left (the monthly routine); both files must be byte-identical. Also timed: the daily
close's ``outlooks`` (each loan's months if nothing is paid) for the first ``--outlook-loans``
loans, before any export (every loan walked from disbursement) and after (resumed from the
checkpoints), each checked equal to ``history.forecast`` per loan on a sample. The load average
is printed before and after. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select

from arrears.core.credit.history import forecast, reporting_date
from arrears.core.credit.report import history_json, read_history
from arrears.core.money import parse_amount, parse_rate
from arrears.core.problem import expect
from arrears.core.sim.sample import sample_portfolio
from arrears.services import credit as svc
from arrears.services.importer import ensure_default_product
from arrears.store import credit_tables as ct
from arrears.store import tables as t
from arrears.store.engine import make_engine
from arrears.store.migrate import upgrade

AS_OF = date(2026, 6, 30)
MONTH = "2026-05"
PREVIOUS = "2026-04"


def setup(url: str, n: int, seed: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    rows, pays = sample_portfolio(n, seed, AS_OF)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ensure_default_product(conn)
        borrowers = {r["borrower_id"]: r for r in rows}
        conn.execute(
            insert(t.borrowers),
            [
                {"borrower_id": b, "name": r["borrower_name"], "phone": r["phone"]}
                for b, r in borrowers.items()
            ],
        )
        conn.execute(
            insert(t.loans),
            [
                {
                    "loan_id": r["loan_id"],
                    "borrower_id": r["borrower_id"],
                    "product_id": "default",
                    "currency": "CNY",
                    "principal": parse_amount(r["principal"]),
                    "rate": str(parse_rate(r["rate"])),
                    "rate_basis": r["rate_basis"],
                    "months": int(r["months"]),
                    "method": r["method"],
                    "disbursed_on": date.fromisoformat(r["disbursed_on"]),
                    "due_day": None,
                }
                for r in rows
            ],
        )
        conn.execute(
            insert(t.loan_events),
            [
                {
                    "loan_id": p.loan_id,
                    "kind": "payment",
                    "ref": p.ref,
                    "amount": p.amount,
                    "effective_on": p.on,
                    "recorded_at": now,
                }
                for p in pays
            ],
        )
        # Notices for most loans, so most negative records are reported, some withheld.
        rng = random.Random(seed)
        conn.execute(
            insert(ct.credit_notices),
            [
                {
                    "key": f"N-{r['loan_id']}",
                    "loan_id": r["loan_id"],
                    "sent_at": datetime(2025, 1, 1, tzinfo=UTC),
                    "channel": "sms",
                }
                for r in rows
                if rng.random() < 0.8
            ],
        )
    engine.dispose()


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the export's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_outlooks(engine: Engine, n: int, sample: int, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of ``outlooks`` for the first ``n`` loans; checked on a sample."""
    with engine.connect() as conn:
        ids = sorted(conn.execute(select(t.loans.c.loan_id)).scalars())[:n]
        t0, c0 = time.perf_counter(), _cpu()
        looks = svc.outlooks(conn, AS_OF, loan_ids=ids)
        took, cpu = time.perf_counter() - t0, _cpu() - c0
        picked = random.Random(seed).sample(looks, min(sample, len(looks)))
        facts = svc.load_facts(conn, [o.loan_id for o in picked])
    for o in picked:
        f = facts[o.loan_id]
        want = forecast(f.terms, f.product, f.events, AS_OF, 2, f.settlements, include_past=True)
        assert o.months == tuple(want), o.loan_id
    return took, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loans", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sample", type=int, default=200, help="accounts checked against history")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", default="metro2", choices=("jsonl", "metro2"))
    ap.add_argument("--outlook-loans", type=int, default=10_000, help="0: skip outlooks")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.path.join(tmp, "bench.db")
        t0 = time.perf_counter()
        setup(url, args.loans, args.seed)
        set_up = time.perf_counter() - t0
        engine = make_engine(url)
        n_look = min(args.outlook_loans, args.loans)
        cold_look = time_outlooks(engine, n_look, args.sample, args.seed) if n_look else (0, 0)
        out = Path(tmp) / f"{MONTH}.{args.format}"
        t0, c0 = time.perf_counter(), _cpu()
        res = expect(
            svc.export_month(engine, MONTH, args.format, out, workers=args.workers, resume=False)
        )
        cold, cold_cpu = time.perf_counter() - t0, _cpu() - c0
        # The monthly routine: last month's export left checkpoints; this month resumes them.
        prev = Path(tmp) / f"{PREVIOUS}.{args.format}"
        expect(svc.export_month(engine, PREVIOUS, args.format, prev, workers=args.workers))
        warm_out = Path(tmp) / f"warm-{MONTH}.{args.format}"
        t0, c0 = time.perf_counter(), _cpu()
        expect(svc.export_month(engine, MONTH, args.format, warm_out, workers=args.workers))
        took, cpu = time.perf_counter() - t0, _cpu() - c0
        assert warm_out.read_bytes() == out.read_bytes()
        # Check: the jsonl records of a sample equal `credit history` with the reference engine.
        jl = Path(tmp) / f"{MONTH}.jsonl"
        expect(svc.export_month(engine, MONTH, "jsonl", jl, workers=args.workers))
        records = [json.loads(x) for x in jl.read_text(encoding="utf-8").splitlines()]
        accounts = [r for r in records if r["record"] == "account"]
        sample = random.Random(args.seed).sample(accounts, min(args.sample, len(accounts)))
        with engine.connect() as conn:
            facts = svc.load_facts(conn, [r["history"]["loan_id"] for r in sample])
        for r in sample:
            f = facts[r["history"]["loan_id"]]
            when = reporting_date(f.terms, int(MONTH[:4]), int(MONTH[5:]))
            want = history_json(read_history(f, when, 24, engine="daily"), f.currency)
            assert r["history"] == want, f.terms.loan_id
        warm_look = time_outlooks(engine, n_look, args.sample, args.seed) if n_look else (0, 0)
        print(
            json.dumps(
                {
                    "loans": args.loans,
                    "format": args.format,
                    "workers": args.workers,
                    "cpus": os.cpu_count(),
                    "setup_s": round(set_up, 1),
                    "full_replay_s": round(cold, 1),
                    "full_replay_cpu_s": round(cold_cpu, 1),
                    "resumed_s": round(took, 1),
                    "resumed_cpu_s": round(cpu, 1),
                    "resumed_cpu_ms_per_loan": round(cpu / args.loans * 1000, 3),
                    "records": res.records,
                    "withheld": len(res.withheld),
                    "sample_matched": len(sample),
                    "outlook_loans": n_look,
                    "outlooks_s": round(cold_look[0], 1),
                    "outlooks_cpu_ms_per_loan": round(cold_look[1] / max(n_look, 1) * 1000, 3),
                    "outlooks_resumed_s": round(warm_look[0], 1),
                    "outlooks_resumed_cpu_ms_per_loan": round(
                        warm_look[1] / max(n_look, 1) * 1000, 3
                    ),
                    "load_before": [round(x, 2) for x in load_before],
                    "load_after": [round(x, 2) for x in os.getloadavg()],
                }
            )
        )


if __name__ == "__main__":
    main()
