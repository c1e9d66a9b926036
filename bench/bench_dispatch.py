"""The dispatcher's throughput to the local mailbox, before and after, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_dispatch.py [--messages 100000] [--before main]
        [--before-limit 20000] [--backends sqlite,postgresql] [--hold-snapshot]

For each backend and each code version (``--before``: a git revision, exported with
``git archive`` to a temporary directory; after: this checkout's ``src``) a child process
creates a fresh database at the head of that version's migrations, queues ``--messages`` outbox
rows directly (three channels, about two messages per borrower, all due at once, as a close's
day leaves them), then times one
``dispatch`` pass to a ``MailboxAdapter`` with the version's default batch. The slow before code
sends only its first ``--before-limit`` rows (the rate over the head of the queue, where it is
fastest: its claim costs grow with the rows already claimed). Each run checks that every row it
claimed is sent, in the mailbox once and has one CONTACT_ATTEMPT evidence record.

``--hold-snapshot`` keeps a transaction with a transaction id open on the database while the
dispatcher runs (as a close or a long report would): PostgreSQL then cannot clean the dead index
entries that claimed rows leave behind, which is what made the old claim degrade.

PostgreSQL: scratch databases ``bench_dispatch_<pid>_<version>`` on ``--pg-admin`` (default
postgresql://postgres@127.0.0.1:5432/postgres), created and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent
DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
CHANNELS = ("sms", "email", "letter")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# the child: one code version on one database


def worker(url: str, messages: int, limit: int, hold: bool) -> dict[str, object]:
    from sqlalchemy import func, select, text

    from arrears.adapters import MailboxAdapter
    from arrears.core.contact.messages import OutboundMessage
    from arrears.services import outbox
    from arrears.services.collection.dispatch import dispatch
    from arrears.store.engine import make_engine
    from arrears.store.migrate import upgrade
    from arrears.store.outbox_tables import mailbox
    from arrears.store.outbox_tables import outbox as outbox_table

    engine = make_engine(url)
    upgrade(engine)
    batch: list[OutboundMessage] = []
    for i in range(messages):
        channel = CHANNELS[i % 3]
        batch.append(
            OutboundMessage(
                key=f"{DAY.isoformat()}:L{i // 2:07d}:{channel}_day1:debtor:{i:012x}",
                borrower_id=f"B{i // 2:07d}",
                loan_id=f"L{i // 2:07d}",
                channel=channel,
                party="debtor",
                recipient="a@b.example" if channel == "email" else f"+86138{i:08d}",
                template="sms_overdue",
                language="zh-CN",
                subject="【安心】逾期提醒",
                body=f"【安心】王**您好，您尾号{i % 10000:04d}的借款已逾期5天。回复TD退订",
                policy="champion",
                step=f"{channel}_day1",
                business_date=DAY,
            )
        )
    with engine.begin() as conn:
        outbox.enqueue(conn, batch, NOW - timedelta(hours=3))
    # SQLite has no dead index entries (and an open write would stop the dispatcher).
    holder = engine.connect() if hold and engine.dialect.name == "postgresql" else None
    if holder is not None:
        holder.execute(text("SELECT txid_current()"))
    mb = MailboxAdapter(engine, clock=lambda: NOW)
    adapters = {c: mb for c in CHANNELS}
    t0 = time.perf_counter()
    report = dispatch(engine, adapters, NOW, limit=limit)
    seconds = time.perf_counter() - t0
    if holder is not None:
        holder.rollback()
        holder.close()
    with engine.connect() as conn:
        boxed = conn.execute(select(func.count()).select_from(mailbox)).scalar_one()
        sent = conn.execute(
            select(func.count()).where(outbox_table.c.status == "sent")
        ).scalar_one()
        attempts = conn.execute(
            text("SELECT count(*) FROM evidence_records WHERE kind = 'contact.attempt'")
        ).scalar_one()
    ok = report.sent == limit == boxed == sent == attempts
    engine.dispose()
    return {
        "sent": report.sent,
        "seconds": round(seconds, 2),
        "msgs_per_s": round(report.sent / seconds),
        "checked": ok,
        "mailbox": boxed,
        "evidence": attempts,
    }


# --------------------------------------------------------------------------------------------
# the parent: both versions, both backends, side by side


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def run_child(src: Path, url: str, messages: int, limit: int, hold: bool) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, str(HERE), "--worker", url, "--messages", str(messages)]
    cmd += ["--limit", str(limit)] + (["--hold-snapshot"] if hold else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--before", default="main", help="git revision of the code before")
    ap.add_argument("--before-limit", type=int, default=20_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--hold-snapshot", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.messages, args.limit, args.hold_snapshot)))
        return

    import psycopg

    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="bench_dispatch_") as tmp:
        versions = {
            "before": (export(args.before, Path(tmp)), min(args.before_limit, args.messages)),
            "after": (REPO / "src", args.messages),
        }
        for backend in args.backends.split(","):
            for name, (src, limit) in versions.items():
                if backend == "sqlite":
                    url = str(Path(tmp) / f"{name}.db")
                    drop = None
                else:
                    db = f"bench_dispatch_{os.getpid()}_{name}"
                    with psycopg.connect(args.pg_admin, autocommit=True) as c:
                        c.execute(f'DROP DATABASE IF EXISTS "{db}"')
                        c.execute(f'CREATE DATABASE "{db}"')
                    url = args.pg_admin.rsplit("/", 1)[0] + f"/{db}"
                    drop = db
                load = os.getloadavg()[0]
                try:
                    got = run_child(src, url, args.messages, limit, args.hold_snapshot)
                finally:
                    if drop is not None:
                        with psycopg.connect(args.pg_admin, autocommit=True) as c:
                            c.execute(f'DROP DATABASE IF EXISTS "{drop}"')
                row = {"backend": backend, "code": name, "queued": args.messages, **got}
                row["load_before"] = round(load, 2)
                row["load_after"] = round(os.getloadavg()[0], 2)
                log(json.dumps(row))
                results.append(row)
    print(json.dumps({"hold_snapshot": args.hold_snapshot, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
