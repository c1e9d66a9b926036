"""The REST API under load: requests per second and latency of a borrower's summary and of an
agent's call outcome, each beside the bare ``/health`` of the same server (issue 17).

    .venv/bin/python bench/bench_api.py [--loans 100000] [--duration 20] [--rate 300]
        [--connections 16] [--workers 2] [--db postgresql://postgres@127.0.0.1:5432/bench_api]
        [--rebuild]
    .venv/bin/python bench/bench_api.py --quick      # 5,000 loans, short phases (about a minute)

The book: a generated portfolio (seed 1) imported with its payment history by the project's
own import path (``services.importer.import_file``, ``services.payments_file.import_payments``),
accrued to the day before ``AS_OF`` and ``AS_OF`` closed with collection
(``close_business_day``), so that loans are overdue and the agents' queue is filled. It is kept in
the ``--db`` database (its ``COMMENT`` says what it holds) and reused by later runs unless
``--rebuild``; every run works on a fresh copy of it (``CREATE DATABASE ... TEMPLATE``, dropped at
the end), because each outcome posted finishes a queue item for good.

On the copy: a staff account ``agent1`` (role agent, fresh random password, made with
``arrears users add``), every open queue item claimed for it, and ``--borrowers`` borrowers
signed in through the API (code asked for, read from the outbox, session opened). The server is
``arrears serve --workers N`` (``--workers``, default 2: uvicorn's worker processes, each built
by ``arrears.web.site:site_from_environment``) with ``ARREARS_ENV=production`` and fresh keys in
the environment; its JSON request log goes to a file.

Load comes from other processes on loopback, one endpoint at a time, in one run:

* closed loop, ``wrk`` (Debian's; ``apt-get install wrk``) with ``--connections`` connections for
  ``--duration`` seconds: the most the server answers (requests/s) and the latency at that load;
* open loop at ``--rate`` requests/s for ``--duration`` seconds: this file run with
  ``--loadgen`` (asyncio on raw sockets), each request sent at its scheduled instant whatever the
  answers before it, on at most ``--max-conns`` connections (32: below the server's 40 threads,
  see ``--burst``; a request with no free connection waits in the client); latency is counted
  from its instant, so a server that falls behind is seen in the figures (no coordinated
  omission); then the same at ``--fraction`` (half) of each endpoint's closed-loop figure;
* last, ``--burst`` (64) summaries sent at once, each on its own connection: more requests in
  flight than the server admits (16 a worker); those past the limit are answered 503 with
  ``Retry-After`` at once (before the admission limit they stalled the pool for 30 s).

The server's environment: ``ARREARS_SECRET_KEY`` and ``ARREARS_SIGNING_KEY`` made for the run;
other keys (the evidence reference key) as the caller's environment or key directory has them,
the same for the close that built the book and the server.

``GET /api/v1/me/loans`` rotates over the signed-in borrowers' tokens; ``POST
/api/v1/queue/{item_id}/outcome`` posts ``no_answer`` once per claimed item, each with its own
``Idempotency-Key`` and ``at`` a minute into the item's window. Afterwards the outcomes recorded
in the database are counted against the answers 200. CPU per phase: the server process and the
PostgreSQL backends connected to the copy (from ``/proc``; the server is the ``arrears serve``
process and its workers), and the whole machine's busy share.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 27)
AGENT = "agent1"
BIN = Path(sys.executable).parent
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/bench_api"
QUICK_DB = "postgresql://postgres@127.0.0.1:5432/bench_api_quick"
LOANS_PATH = "/api/v1/me/loans"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the book -------------------------------------------------------------------------------


def split_url(url: str) -> tuple[str, str]:
    """(the server's admin URL, the database name) of a PostgreSQL URL."""
    base, name = url.rsplit("/", 1)
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")) or not name:
        raise SystemExit(f"--db must be a PostgreSQL URL naming a database, not {url!r}")
    plain = "postgresql://" + base.split("://", 1)[1]
    return plain + "/postgres", name


def plain_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def book_label(args: argparse.Namespace) -> str:
    pays = "no-payments" if args.no_payments else "payments"
    return f"bench_api book: {args.loans} loans, seed {args.seed}, {pays}, closed {AS_OF}"


def book_holds(admin: str, name: str) -> str | None:
    """The book database's COMMENT, or None when there is no such database."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        row = c.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return None if row is None else str(row[0] or "")


def build_book(args: argparse.Namespace, admin: str, name: str) -> dict[str, float]:
    """Generate, import (loans, payments), accrue and close ``AS_OF`` with collection."""
    import psycopg

    from arrears.core.lender.settings import Capacity
    from arrears.core.problem import expect
    from arrears.core.sim.generate import generate
    from arrears.services.close.day import CloseConfig, close_business_day
    from arrears.services.close.reference import close_through
    from arrears.services.importer import import_file
    from arrears.services.payments_file import import_payments
    from arrears.services.policy_files import default_policy_set
    from arrears.services.portfolio_files import write_table
    from arrears.store.engine import make_engine
    from arrears.store.migrate import upgrade

    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    times: dict[str, float] = {}

    def step(label: str, fn: Any, *a: Any, **kw: Any) -> Any:
        t0 = clock.perf_counter()
        out = fn(*a, **kw)
        times[label] = clock.perf_counter() - t0
        log(f"  {label}: {times[label]:.1f} s")
        return out

    with tempfile.TemporaryDirectory() as tmp:
        loans, pays = Path(tmp) / "loans.parquet", Path(tmp) / "payments.parquet"
        book = step("generate", generate, args.loans, args.seed, AS_OF)
        write_table(book.loans, loans)
        write_table(book.payments, pays)
        engine = make_engine(url)
        upgrade(engine)
        expect(step("import loans", import_file, engine, loans))
        if not args.no_payments:
            expect(step("import payments", import_payments, engine, pays))
    step("accrue", close_through, engine, AS_OF - timedelta(days=1), kernel="polars")
    # Every call the policy chooses is enqueued (as bench_close_e2e does): the default capacity
    # (20 agents x 120 calls) would leave 2,400 items, fewer than the outcome posts need.
    unbounded = Capacity(
        agents=1_000_000, calls_per_agent_per_day=1_000, visits_per_region_per_day=1
    )
    config = CloseConfig(default_policy_set(), workers=2, capacity=unbounded)
    step(f"close {AS_OF} with collection", close_business_day, engine, AS_OF, config)
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as c:
        step("vacuum analyze", c.execute, "VACUUM ANALYZE")
    with psycopg.connect(admin, autocommit=True) as c:
        label = book_label(args).replace("'", "")
        c.execute(f"COMMENT ON DATABASE \"{name}\" IS '{label}'")
    return times


def fresh_copy(admin: str, book: str, run: str) -> str:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{run}" TEMPLATE "{book}"')
    return admin.rsplit("/", 1)[0] + f"/{run}"


def drop_db(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the server and who signs in ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env() -> dict[str, str]:
    """Production mode (no sign-in codes printed) and keys made for this run only."""
    env = dict(os.environ)
    env["ARREARS_ENV"] = "production"
    env["ARREARS_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["ARREARS_SIGNING_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env.pop("ARREARS_DB", None)
    return env


def start_server(
    url: str, port: int, env: dict[str, str], logfile: Path, workers: int
) -> subprocess.Popen[bytes]:
    cmd = [str(BIN / "arrears"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    with logfile.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--db", url], env=env, stdout=out, stderr=subprocess.STDOUT)
    import httpx

    deadline = clock.monotonic() + 60
    while clock.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {logfile}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        clock.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not answer /health within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def add_agent(url: str) -> str:
    """``arrears users add agent1 --role agent`` with a random password; the password."""
    password = secrets.token_urlsafe(18)
    env = dict(os.environ, ARREARS_NEW_PASSWORD=password)
    cmd = [str(BIN / "arrears"), "users", "add", AGENT, "--role", "agent", "--db", url]
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return password


def claim_all(url: str) -> list[tuple[int, datetime]]:
    """Every open queue item claimed for the agent (benchmark set-up: an agent would claim them
    one at a time with POST /queue/next); (item id, due_at), by id."""
    import psycopg

    with psycopg.connect(plain_url(url), autocommit=True) as c:
        rows = c.execute(
            "UPDATE queue_items SET claimed_by = %s, claimed_at = now() "
            "WHERE done_at IS NULL AND claimed_by IS NULL RETURNING item_id, due_at",
            (AGENT,),
        ).fetchall()
    return sorted((int(r[0]), r[1]) for r in rows)


def sign_in_borrowers(url: str, port: int, k: int, seed: int) -> tuple[list[str], float]:
    """``k`` borrowers (a fixed pseudo-random sample) signed in through the API, the code read
    from the outbox as the SMS would carry it; their tokens and their mean number of loans."""
    import httpx
    import psycopg

    from arrears.store.sealed import unseal

    base = f"http://127.0.0.1:{port}/api/v1"
    with psycopg.connect(plain_url(url), autocommit=True) as c:
        people = c.execute(
            "SELECT b.borrower_id, b.phone, count(l.loan_id) FROM borrowers b "
            "JOIN loans l ON l.borrower_id = b.borrower_id "
            # Sign-in finds the borrower by phone: a number several borrowers share (the
            # generator gives some) signs in as one of them, so only numbers held once.
            "WHERE b.phone IN (SELECT phone FROM borrowers GROUP BY phone HAVING count(*) = 1) "
            "GROUP BY b.borrower_id, b.phone ORDER BY md5(b.borrower_id || %s) LIMIT %s",
            (str(seed), k),
        ).fetchall()
        tokens = []
        with httpx.Client(base_url=base, timeout=30) as http:
            for borrower_id, stored, _ in people:
                phone = unseal("borrowers", "phone", stored)  # sealed at rest (store/sealed.py)
                http.post("/auth/borrower/code", json={"phone": phone}).raise_for_status()
                body = c.execute(
                    "SELECT body FROM outbox WHERE borrower_id = %s AND template = 'signin_code' "
                    "ORDER BY created_at DESC LIMIT 1",
                    (borrower_id,),
                ).fetchone()
                found = re.search(r"(?<!\d)(\d{6})(?!\d)", str(body[0] if body else ""))
                if found is None:
                    raise SystemExit(f"no sign-in code in the outbox for {borrower_id}")
                r = http.post("/auth/borrower/session", json={"phone": phone, "code": found[1]})
                r.raise_for_status()
                tokens.append(str(r.json()["token"]))
    return tokens, sum(int(p[2]) for p in people) / max(1, len(people))


def staff_token(port: int, password: str) -> str:
    import httpx

    r = httpx.post(
        f"http://127.0.0.1:{port}/api/v1/auth/staff/session",
        json={"username": AGENT, "password": password},
        timeout=30,
    )
    r.raise_for_status()
    return str(r.json()["token"])


# --- the requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # as reported; the outcome's item id varies


def outcome_at(due_at: datetime) -> str:
    return (due_at.astimezone(UTC) + timedelta(minutes=1)).isoformat()


def outcome_body(at: str) -> str:
    return json.dumps({"outcome": "no_answer", "at": at}, separators=(",", ":"))


def raw_request(method: str, path: str, port: int, headers: dict[str, str], body: str = "") -> str:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return "\r\n".join(lines) + "\r\n\r\n" + body


# --- closed loop: wrk -----------------------------------------------------------------------

LUA_COMMON = r"""
local threads = {}
local count = 0
function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end
lines = {}
wraps = 0
function init(args)
  stride = tonumber(args[1])
  if DATA ~= "" then
    for line in io.lines(DATA) do lines[#lines + 1] = line end
  end
  i = tid + 1
end
function next_line()
  if i > #lines then
    i = ((i - 1) % #lines) + 1
    wraps = wraps + 1
  end
  local line = lines[i]
  i = i + stride
  return line
end
function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wraps") or 0) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "status_errors": %d, "socket_errors": %d, "wraps": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    w))
end
"""

LUA_REQUEST = {
    "health": r"""
function request() return wrk.format("GET", "/health") end
""",
    "loans": r"""
function request()
  return wrk.format("GET", "/api/v1/me/loans", {["Authorization"] = "Bearer " .. next_line()})
end
""",
    "outcome": r"""
function request()
  local id, at = next_line():match("^(%d+)\t(.+)$")
  local body = '{"outcome":"no_answer","at":"' .. at .. '"}'
  return wrk.format("POST", "/api/v1/queue/" .. id .. "/outcome", {
    ["Authorization"] = "Bearer " .. TOKEN,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = RUN .. "-" .. id,
  }, body)
end
""",
}


def lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a Lua string literal for these characters


def run_wrk(
    kind: str,
    port: int,
    seconds: float,
    connections: int,
    threads: int,
    work: Path,
    lines: Sequence[str] = (),
    token: str = "",
    run_id: str = "",
) -> dict[str, Any]:
    data = ""
    if lines:
        path = work / f"wrk-{kind}.txt"
        path.write_text("\n".join(lines) + "\n")
        data = str(path)
    script = work / f"wrk-{kind}.lua"
    head = f"DATA = {lua_string(data)}\nTOKEN = {lua_string(token)}\nRUN = {lua_string(run_id)}\n"
    script.write_text(head + LUA_COMMON + LUA_REQUEST[kind])
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
        "--",
        str(threads),
    ]
    out, rusage_s = run_child(cmd)
    found = re.search(r"^WRKJSON (\{.*\})$", out, re.M)
    if found is None:
        raise SystemExit(f"wrk said:\n{out}")
    r: dict[str, Any] = json.loads(found[1])
    secs = r["duration_us"] / 1e6
    ok = r["requests"] - r["status_errors"]
    return {
        "sent": r["requests"],
        "ok": ok,
        "errors": r["status_errors"] + r["socket_errors"],
        "seconds": secs,
        "rps": ok / secs if secs else 0.0,
        "p50_ms": r["p50_us"] / 1e3,
        "p90_ms": r["p90_us"] / 1e3,
        "p99_ms": r["p99_us"] / 1e3,
        "max_ms": r["max_us"] / 1e3,
        "repeats": r["wraps"],
        "client_cpu_s": rusage_s,
    }


def run_child(cmd: list[str]) -> tuple[str, float]:
    """Run ``cmd`` to its end; its stdout and its CPU seconds (user + system)."""
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{text}")
    return text, usage.ru_utime + usage.ru_stime


# --- open loop: this file with --loadgen ----------------------------------------------------


TIMEOUT_S = 90.0  # the open loop's client gives an answer up to this long


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, whether the server closes the connection) of one HTTP/1.1 answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, val = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(val)
        elif name == b"transfer-encoding" and b"chunked" in val.lower():
            chunked = True
        elif name == b"connection" and b"close" in val.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, rate = spec["host"], int(spec["port"]), float(spec["rate"])
    requests = [r.encode("latin-1") for r in spec["requests"]]
    max_conns = int(spec["max_conns"])
    loop = asyncio.get_running_loop()
    Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
    idle: asyncio.Queue[Conn] = asyncio.Queue()
    opened = 0

    async def acquire() -> Conn:
        nonlocal opened
        if not idle.empty():
            return idle.get_nowait()
        if opened < max_conns:
            opened += 1
            try:
                return await asyncio.open_connection(host, port)
            except OSError:
                opened -= 1
                raise
        return await idle.get()

    for _ in range(min(max_conns, int(spec.get("preopen", 8)))):
        opened += 1
        idle.put_nowait(await asyncio.open_connection(host, port))

    latency: list[float] = []  # from the scheduled instant, ms
    service: list[float] = []  # from the send, ms
    late = 0  # sent more than 5 ms after its instant (no free connection, or the client lagged)
    statuses: dict[str, int] = {}
    last_end = 0.0

    async def one(at: float, raw: bytes) -> None:
        nonlocal late, last_end, opened
        status = "error"
        for attempt in range(2):
            try:
                conn = await acquire()
            except OSError:
                break
            sent = loop.time()
            reader, writer = conn
            try:
                writer.write(raw)
                await writer.drain()
                code, close = await asyncio.wait_for(_read_answer(reader), TIMEOUT_S)
            except TimeoutError:
                writer.close()
                opened -= 1
                status = "timeout"
                break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                opened -= 1
                if attempt == 0:
                    continue  # a kept-alive connection the server had closed: once more
                break
            end = loop.time()
            if close:
                writer.close()
                opened -= 1
            else:
                idle.put_nowait(conn)
            status = str(code)
            latency.append((end - at) * 1e3)
            service.append((end - sent) * 1e3)
            late += sent - at > 0.005
            last_end = max(last_end, end)
            break
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    t0 = loop.time() + 0.05
    for i, raw in enumerate(requests):
        at = t0 + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(at, raw)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait()[1].close()
    latency.sort()
    service.sort()
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    span = (last_end - t0) if last_end > t0 else math.nan
    return {
        "sent": len(requests),
        "ok": ok,
        "errors": len(requests) - ok,
        "statuses": statuses,
        "seconds": span,
        "rps": ok / span,
        "p50_ms": percentile(latency, 50),
        "p90_ms": percentile(latency, 90),
        "p99_ms": percentile(latency, 99),
        "max_ms": latency[-1] if latency else math.nan,
        "service_p99_ms": percentile(service, 99),
        "late": late,
        "connections": opened,
    }


def loadgen_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    print(json.dumps(asyncio.run(open_loop(spec))), flush=True)


def run_open(
    port: int, rate: float, requests: Sequence[str], max_conns: int, work: Path, kind: str
) -> dict[str, Any]:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "rate": rate,
        "requests": list(requests),
        "max_conns": max_conns,
        "preopen": max_conns,
    }
    path = work / f"open-{kind}.json"
    path.write_text(json.dumps(spec))
    out, cpu = run_child([sys.executable, __file__, "--loadgen", str(path)])
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["client_cpu_s"] = cpu
    return result


# --- CPU ------------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it (the server's workers)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue  # ended meanwhile
    tree, grew = {pid}, True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = cpu[3] + cpu[4]
    return sum(cpu[:8]) - idle, sum(cpu[:8])


@dataclass
class CpuMeter:
    """CPU of the server process and of the PostgreSQL backends connected to ``db``."""

    server_pid: int
    admin: str
    db: str
    start: dict[int, float] = field(default_factory=dict)
    server0: dict[int, float] = field(default_factory=dict)
    machine0: tuple[float, float] = (0.0, 0.0)

    def backends(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as c:
            rows = c.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def begin(self) -> None:
        self.start = {p: proc_cpu(p) for p in self.backends()}
        self.server0 = {p: proc_cpu(p) for p in process_tree(self.server_pid)}
        self.machine0 = machine_busy()

    def end(self) -> dict[str, float]:
        tree = process_tree(self.server_pid)
        server = sum(proc_cpu(p) - self.server0.get(p, 0.0) for p in tree)
        pg = sum(proc_cpu(p) - self.start.get(p, 0.0) for p in self.backends())
        busy, total = machine_busy()
        share = (busy - self.machine0[0]) / max(1.0, total - self.machine0[1])
        return {"server_cpu_s": server, "pg_cpu_s": pg, "machine_busy": share}


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--loadgen", help=argparse.SUPPRESS)  # the open-loop client process
    ap.add_argument("--loans", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-payments", action="store_true", help="book without payment history")
    ap.add_argument("--db", default=None, help=f"the kept book (default {DEFAULT_DB})")
    ap.add_argument("--rebuild", action="store_true", help="build the book even if it is kept")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase")
    ap.add_argument("--warm-up", type=float, default=3.0, help="seconds at --rate first, each")
    ap.add_argument("--rate", type=float, default=300.0, help="open-loop requests per second")
    ap.add_argument("--connections", type=int, default=16, help="wrk's connections (closed loop)")
    ap.add_argument("--wrk-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="the server's worker processes")
    ap.add_argument(
        "--max-conns",
        type=int,
        default=32,
        help="open loop: connections at most (requests beyond wait in the client, their wait "
        "counted); above the server's 40 threads its connection pool can stall (--burst)",
    )
    ap.add_argument(
        "--burst",
        type=int,
        default=64,
        help="last: this many GET /me/loans sent at once, each on its own connection (0: not)",
    )
    ap.add_argument(
        "--fraction",
        type=float,
        default=0.5,
        help="also the open loop at this share of each endpoint's closed-loop req/s (0: not)",
    )
    ap.add_argument("--borrowers", type=int, default=100, help="borrowers signed in")
    ap.add_argument("--target-p99", type=float, default=50.0, help="ms, at --rate")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    ap.add_argument("--quick", action="store_true", help="5,000 loans, 4 s phases")
    args = ap.parse_args()
    if args.loadgen:
        loadgen_main(args.loadgen)
        return
    if args.quick:
        args.loans, args.duration, args.warm_up = 5_000, 4.0, 1.0
        args.db = args.db or QUICK_DB
    args.db = args.db or DEFAULT_DB
    if not Path("/usr/bin/wrk").exists() and not any(
        (Path(p) / "wrk").exists() for p in os.environ.get("PATH", "").split(":")
    ):
        raise SystemExit("wrk is needed for the closed-loop phases: apt-get install wrk")
    run(args)


ENDPOINTS = (
    Endpoint("health", "GET", "/health"),
    Endpoint("loans", "GET", LOANS_PATH),
    Endpoint("outcome", "POST", "/api/v1/queue/{item_id}/outcome"),
)


def run(args: argparse.Namespace) -> None:
    admin, book = split_url(args.db)
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    log(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}")
    held = book_holds(admin, book)
    setup: dict[str, float] = {}
    if args.rebuild or held != book_label(args):
        log(f"building the book in {book}" + (f" (it held: {held})" if held else ""))
        setup = build_book(args, admin, book)
    else:
        log(f"reusing the kept book {book}: {held}")
    run_db = f"{book}_run"
    t0 = clock.perf_counter()
    url = fresh_copy(admin, book, run_db)
    log(f"copied to {run_db}: {clock.perf_counter() - t0:.1f} s")
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "loans": args.loans,
        "book": held or book_label(args),
        "setup_s": setup,
        "rate": args.rate,
        "duration": args.duration,
        "connections": args.connections,
    }
    work = Path(tempfile.mkdtemp(prefix="bench_api-"))
    server = None
    try:
        password = add_agent(url)
        items = claim_all(url)
        port = free_port()
        server = start_server(url, port, server_env(), work / "server.log", args.workers)
        tokens, loans_each = sign_in_borrowers(url, port, args.borrowers, args.seed)
        agent = staff_token(port, password)
        results["borrowers"] = len(tokens)
        results["loans_per_borrower"] = loans_each
        results["queue_items"] = len(items)
        log(f"{len(items):,} queue items claimed for {AGENT}; {len(tokens)} borrowers signed in")
        results["phases"] = measure(
            args, port, tokens, agent, items, work, server.pid, admin, run_db
        )
        results["outcomes_recorded"] = count_outcomes(url)
    finally:
        if server is not None:
            stop_server(server)
            results["server_log"] = summarise_log(work / "server.log")
        drop_db(admin, run_db)
    load_end = os.getloadavg()
    log(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    results["load_start"], results["load_end"] = load_start, load_end
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    report(results, args)


def measure(
    args: argparse.Namespace,
    port: int,
    tokens: list[str],
    agent: str,
    items: list[tuple[int, datetime]],
    work: Path,
    server_pid: int,
    admin: str,
    run_db: str,
) -> dict[str, Any]:
    run_id = f"bench-{secrets.token_hex(4)}"
    n_open = int(args.rate * args.duration)
    n_warm = int(args.rate * args.warm_up)
    # The outcome's items: warm-up, the open loop, and what is left for the closed loop.
    if len(items) < n_warm + n_open + 1_000:
        # A small book (--quick): a tenth for the warm-up, three fifths for the open loop
        # (its phase is then shorter than --duration), the rest for the closed loop.
        w, o = min(n_warm, len(items) // 10), min(n_open, len(items) * 6 // 10)
        log(f"only {len(items):,} queue items: the outcome phases get fewer requests")
    else:
        w, o = n_warm, n_open
    warm_items = items[:w]
    open_items = items[w : w + o]
    wrk_items = items[w + o :]
    auth = {"Authorization": f"Bearer {agent}"}

    def outcome_raw(chunk: Sequence[tuple[int, datetime]]) -> list[str]:
        out = []
        for item_id, due in chunk:
            headers = dict(auth, **{"Idempotency-Key": f"{run_id}-{item_id}"})
            body = outcome_body(outcome_at(due))
            out.append(raw_request("POST", f"/api/v1/queue/{item_id}/outcome", port, headers, body))
        return out

    def loans_raw(n: int, offset: int) -> list[str]:
        return [
            raw_request(
                "GET",
                LOANS_PATH,
                port,
                {"Authorization": f"Bearer {tokens[(offset + i) % len(tokens)]}"},
            )
            for i in range(n)
        ]

    def health_raw(n: int) -> list[str]:
        return [raw_request("GET", "/health", port, {})] * n

    meter = CpuMeter(server_pid, admin, run_db)
    phases: dict[str, Any] = {}

    def timed(label: str, fn: Any, *a: Any, **kw: Any) -> dict[str, Any]:
        log(f"  {label} ...")
        meter.begin()
        load0 = os.getloadavg()[0]
        out: dict[str, Any] = fn(*a, **kw)
        out.update(meter.end())
        out["load"] = (load0, os.getloadavg()[0])
        ok = max(1, out["ok"])
        out["server_ms_per_req"] = out["server_cpu_s"] / ok * 1e3
        out["pg_ms_per_req"] = out["pg_cpu_s"] / ok * 1e3
        log(
            f"    {out['ok']:,} ok, {out['errors']:,} errors, {out['rps']:.0f} req/s, "
            f"p50 {out['p50_ms']:.1f} ms, p99 {out['p99_ms']:.1f} ms"
        )
        return out

    log("warm-up")
    for kind, raw in (
        ("health", health_raw(n_warm)),
        ("loans", loans_raw(n_warm, 0)),
        ("outcome", outcome_raw(warm_items)),
    ):
        if raw:
            phases[f"warm-up/{kind}"] = timed(
                kind, run_open, port, args.rate, raw, args.max_conns, work, kind
            )
    log(f"closed loop, wrk, {args.connections} connections, {args.duration:.0f} s each")
    wrk = {"port": port, "seconds": args.duration, "connections": args.connections}
    wrk["threads"] = args.wrk_threads
    wrk["work"] = work
    phases["closed/health"] = timed("health", run_wrk, "health", **wrk)
    phases["closed/loans"] = timed("loans", run_wrk, "loans", lines=tokens, **wrk)
    if wrk_items:
        lines = [f"{i}\t{outcome_at(d)}" for i, d in wrk_items]
        phases["closed/outcome"] = timed(
            "outcome", run_wrk, "outcome", lines=lines, token=agent, run_id=run_id, **wrk
        )
    log(f"open loop at {args.rate:.0f} req/s, {args.duration:.0f} s each")
    phases["open/health"] = timed(
        "health", run_open, port, args.rate, health_raw(n_open), args.max_conns, work, "health"
    )
    phases["open/loans"] = timed(
        "loans", run_open, port, args.rate, loans_raw(n_open, 7), args.max_conns, work, "loans"
    )
    if open_items:
        phases["open/outcome"] = timed(
            "outcome",
            run_open,
            port,
            args.rate,
            outcome_raw(open_items),
            args.max_conns,
            work,
            "outcome",
        )
    if args.fraction:
        # The same open loop at a rate each endpoint can hold (a share of its closed-loop
        # figure): its latency when it is not falling behind.
        log(f"open loop at {args.fraction:.0%} of each endpoint's closed-loop rate")
        for kind in ("loans", "outcome"):
            closed = phases.get(f"closed/{kind}")
            if closed is None:
                continue
            rate = max(1.0, round(args.fraction * closed["rps"]))
            n = int(rate * args.duration)
            if kind == "loans":
                raw = loans_raw(n, 11)
            else:
                # after the items wrk used (its sent requests, and those in flight at its end)
                left = wrk_items[closed["sent"] + 2 * args.connections + 10 :]
                raw = outcome_raw(left[:n])
            if raw:
                phases[f"share/{kind}"] = timed(
                    f"{kind} at {rate:.0f}/s", run_open, port, rate, raw, args.max_conns, work, kind
                )
                phases[f"share/{kind}"]["rate"] = rate
    if args.burst:
        # Every request on its own connection at once: more in flight than the server admits
        # (16 a worker); the rest must be answered 503 at once, not stall.
        log(f"burst: {args.burst} GET /me/loans at once")
        burst = loans_raw(args.burst, 3)
        phases["burst/loans"] = timed("loans", run_open, port, 1e6, burst, args.burst, work, "b")
    return phases


def count_outcomes(url: str) -> int:
    import psycopg

    with psycopg.connect(plain_url(url), autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM queue_items WHERE claimed_by = %s AND outcome = 'no_answer'",
            (AGENT,),
        ).fetchone()
    return int(row[0]) if row else 0


def summarise_log(path: Path) -> dict[str, Any]:
    """Answers by status from the server's JSON request log, and any line that is not one."""
    statuses: dict[str, int] = {}
    other: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if "status" in rec:
            key = str(rec["status"])
            statuses[key] = statuses.get(key, 0) + 1
        elif rec.get("level") in ("error", "warning", "critical"):
            other.append(line)
    return {"statuses": statuses, "other_lines": other[:20]}


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    phases = results["phases"]
    base = phases["closed/health"]["rps"]
    print()
    print(
        f"{results['loans']:,} loans on PostgreSQL, `arrears serve --workers {args.workers}`; "
        f"{results['queue_items']:,} queue items, {results['borrowers']} borrowers "
        f"({results['loans_per_borrower']:.2f} loans each); load average "
        f"{results['load_start'][0]:.2f} at the start, {results['load_end'][0]:.2f} at the end"
    )
    print()
    print(
        f"| endpoint | closed loop ({args.connections} conn.): req/s | x /health | p50 / p99 ms "
        f"| at {args.rate:.0f}/s: req/s | p50 ms | p99 ms | errors | late "
        "| CPU ms/req: server + PG "
        f"| p99 < {args.target_p99:.0f} ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for ep in ENDPOINTS:
        c = phases.get(f"closed/{ep.name}")
        o = phases.get(f"open/{ep.name}")
        label = f"`{ep.method} {ep.path}`"
        closed = (
            f"{c['rps']:,.0f} | {c['rps'] / base:.2f} | {c['p50_ms']:.1f} / {c['p99_ms']:.1f}"
            if c
            else "- | - | -"
        )
        if c and c["repeats"] and ep.name == "outcome":
            closed += f" ({c['repeats']} item wraps)"
        if o:
            met = "yes" if o["p99_ms"] < args.target_p99 and o["errors"] == 0 else "**no**"
            fixed = (
                f"{o['rps']:,.0f} | {o['p50_ms']:.1f} | {o['p99_ms']:.1f} | {o['errors']} "
                f"| {o['late']} | {o['server_ms_per_req']:.2f} + {o['pg_ms_per_req']:.2f} | {met}"
            )
        else:
            fixed = "- | - | - | - | - | - | -"
        print(f"| {label} | {closed} | {fixed} |")
    shares = [(ep, phases[f"share/{ep.name}"]) for ep in ENDPOINTS if f"share/{ep.name}" in phases]
    if shares:
        print()
        print(
            f"| endpoint | open loop at {args.fraction:.0%} of its closed-loop req/s: rate "
            f"| achieved req/s | p50 ms | p99 ms | errors | p99 < {args.target_p99:.0f} ms |"
        )
        print("|---|---:|---:|---:|---:|---:|---|")
        for ep, p in shares:
            met = "yes" if p["p99_ms"] < args.target_p99 and p["errors"] == 0 else "**no**"
            print(
                f"| `{ep.method} {ep.path}` | {p['rate']:.0f}/s | {p['rps']:,.0f} "
                f"| {p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {p['errors']} | {met} |"
            )
    print()
    for name, p in phases.items():
        print(
            f"{name}: {p['ok']:,} ok of {p['sent']:,} in {p['seconds']:.1f} s, "
            f"server CPU {p['server_cpu_s']:.1f} s, PG backends {p['pg_cpu_s']:.1f} s, "
            f"machine {p['machine_busy'] * 100:.0f}% busy, client CPU {p['client_cpu_s']:.1f} s, "
            f"load {p['load'][0]:.2f}->{p['load'][1]:.2f}"
            + f", p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, max {p['max_ms']:.1f} ms"
            + (f", answers {p['statuses']}" if "statuses" in p else "")
        )
    posted = sum(p["ok"] for k, p in phases.items() if k.endswith("outcome"))
    print(
        f"outcomes answered 200: {posted:,}; recorded in the database: "
        f"{results['outcomes_recorded']:,} (wrk does not count the answers in flight when it "
        f"stops: up to {args.connections} more recorded than answered)"
    )
    logged = results.get("server_log", {})
    print(f"server log, answers by status: {logged.get('statuses')}")
    for line in logged.get("other_lines", []):
        print(f"  server: {line}")


if __name__ == "__main__":
    main()
