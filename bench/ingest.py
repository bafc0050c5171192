"""Ingest benchmark: the full webhook path against pgbench inserting the same payload.

`python -m bench ingest [--rounds=3] [--seconds=15] [--connections=64] [--client=wrk|python]
                       [--mode=alternate|together]`

In one run, against one fresh Postgres database (`bench_ingest`) and Redis:
1. migrate, and create `bench_pgbench_events`, a copy of the event table;
2. start the real web server at the product's defaults (uvicorn with WEB_CONCURRENCY workers:
   one per core unless set, DEBUG off, pooled Postgres, the Redis doorbell), with
   GITHUB_WEBHOOK_SECRET set;
3. for each round, pgbench running the same `INSERT … ON CONFLICT DO NOTHING RETURNING id` with
   the 22 KB pull_request payload, and 64 connections POSTing that payload, signed, with a
   fresh X-GitHub-Delivery each, to /webhooks/github/. `--mode=alternate` (default, the
   stricter) gives each the whole machine in turn; `--mode=together` runs them side by side.
The ratio of their rates is taken per round, and the report gives the medians. Every accepted
request is checked against the rows in the table.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.results import emit

BASE_DIR = Path(__file__).resolve().parent.parent
FIXTURE = BASE_DIR / "integrations" / "github" / "fixtures" / "pull_request__opened.json"
PG_HOST = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_INGEST_DB", "bench_ingest")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SECRET = "bench-secret-" + "s" * 24
PGBENCH_CLIENTS = 16
INSERT_COLUMNS = (
    "source, type, delivery_id, received_at, status_changed_at, data, status, attempts, last_error"
)


@dataclass
class Phase:
    name: str
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    count: int


def main(argv: list[str]) -> int:
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    rounds = int(options.get("rounds", 3))
    seconds = int(options.get("seconds", 15))
    connections = int(options.get("connections", 64))
    client = options.get("client", "wrk" if shutil.which("wrk") else "python")
    mode = options.get("mode", "alternate")
    body = json.dumps(json.loads(FIXTURE.read_text()), separators=(",", ":")).encode()
    database_url = prepare_database(body)
    server, url = start_server(database_url)
    try:
        warm_up(url, body)
        results = [
            run_round(database_url, url, body, seconds, connections, client, number, mode)
            for number in range(1, rounds + 1)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report(results, body, connections, f"{client}, {mode}")


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", f"{PG_HOST}/{database}", "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def prepare_database(body: bytes) -> str:
    """A fresh database, migrated, plus the pgbench copy of the event table."""
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB_NAME}")
    database_url = f"{PG_HOST}/{DB_NAME}"
    env = server_env(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    psql(
        DB_NAME,
        # Same columns, identity, defaults, unique constraint and indexes as the event table.
        "CREATE TABLE bench_pgbench_events (LIKE events_event INCLUDING ALL)",
    )
    return database_url


def server_env(database_url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "k" * 60,
        "LOG_LEVEL": "WARNING",
        "METRICS_ALLOWED_IPS": "127.0.0.1/32",  # bench health_cost scrapes from loopback
    }


def web_processes() -> int:
    """The product's default (settings.WEB_CONCURRENCY: one per usable core) unless set."""
    return int(os.environ.get("WEB_CONCURRENCY") or len(os.sched_getaffinity(0)))


def start_server(database_url: str) -> tuple[subprocess.Popen, str]:
    from orchestrator.core.supervisor import web_command

    port = free_port()
    server = subprocess.Popen(
        web_command("127.0.0.1", port, web_processes()), cwd=BASE_DIR, env=server_env(database_url)
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):  # noqa: S310
                return server, url
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("error: the web server did not answer within 60 s")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def signature(body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def warm_up(url: str, body: bytes) -> None:
    """Touch every worker's imports and pool before measuring."""
    for number in range(50):
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{url}/webhooks/github/",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": f"warm-{number}",
                "X-Hub-Signature-256": signature(body),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status in (200, 202), response.status


def run_round(database_url, url, body, seconds, connections, client, number, mode) -> tuple:
    before = int(psql(DB_NAME, "SELECT count(*) FROM events_event"))
    if mode == "together":
        pg, ours = run_together(database_url, url, body, seconds, connections, client, number)
    else:
        pg = run_pgbench(database_url, body, seconds)
        ours = run_http(url, body, seconds, connections, client, f"r{number}")
    stored = int(psql(DB_NAME, "SELECT count(*) FROM events_event")) - before
    # Requests still in flight when the load generator stops are stored but not counted.
    if not ours.count <= stored <= ours.count + connections:
        ours.errors += abs(ours.count - stored)
        print(f"   stored rows {stored} do not match accepted requests {ours.count}", flush=True)
    print(
        f"   round {number}: {fmt(pg)} | {fmt(ours)} | ratio {ours.rate / pg.rate:.2f}", flush=True
    )
    return pg, ours


def run_together(database_url, url, body, seconds, connections, client, number) -> tuple:
    """Both loads at once, sharing the machine and the database, as the issue describes."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as side:
        pgbench = side.submit(run_pgbench, database_url, body, seconds)
        ours = run_http(url, body, seconds, connections, client, f"t{number}")
        return pgbench.result(), ours


def fmt(phase: Phase) -> str:
    return (
        f"{phase.name} {phase.rate:,.0f}/s p50 {phase.p50_ms:.1f} ms"
        f" p99 {phase.p99_ms:.1f} ms errors {phase.errors}"
    )


def run_pgbench(database_url: str, body: bytes, seconds: int) -> Phase:
    """pgbench inserting the same payload with the same statement, prepared."""
    # The payload is a bound parameter (-D), as the app sends it: no literal parsing cost.
    script = (
        f"INSERT INTO bench_pgbench_events ({INSERT_COLUMNS}) VALUES ('github',"  # noqa: S608
        " 'github.pull_request.opened', gen_random_uuid()::text, now(), now(),"
        " CAST(:payload AS jsonb), 'received', 0, '')"
        " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id;\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        script_path = Path(folder) / "insert.sql"
        script_path.write_text(script)
        command = [
            "pgbench", "-n", "-M", "prepared", "-c", str(PGBENCH_CLIENTS), "-j", "2",
            "-T", str(seconds), "-f", str(script_path), "-l", "--log-prefix", f"{folder}/log",
            "-D", f"payload={body.decode()}", database_url,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"error: pgbench failed: {result.stderr.strip()}")
        latencies = sorted(pgbench_latencies(Path(folder)))
    tps = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", result.stdout)
    errors = int(failed.group(1)) if failed else 0
    return Phase("pgbench", tps, pct(latencies, 50), pct(latencies, 99), errors, len(latencies))


def pgbench_latencies(folder: Path) -> list[float]:
    """Per-transaction latencies (ms) from pgbench's -l logs: the third column, in µs."""
    values = []
    for log in folder.glob("log*"):
        for line in log.read_text().splitlines():
            values.append(int(line.split()[2]) / 1000)
    return values


def pct(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(percent / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def run_http(url, body, seconds, connections, client, tag) -> Phase:
    if client == "wrk":
        return run_wrk(url, body, seconds, connections, tag)
    from bench.ingest_client import run_python_client

    return Phase(*run_python_client(url, body, signature(body), seconds, connections, tag))


WRK_SCRIPT = """
local body = io.open(os.getenv("BENCH_BODY_FILE")):read("*a")
local signature = os.getenv("BENCH_SIGNATURE")
local tag = os.getenv("BENCH_TAG")
local threads, counter = 0, 0  -- thread_id is a global, set per thread by setup()
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", tostring(threads))
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/webhooks/github/", {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Delivery"] = tag .. "-" .. thread_id .. "-" .. counter,
    ["X-Hub-Signature-256"] = signature,
  }, body)
end
"""


def run_wrk(url, body, seconds, connections, tag) -> Phase:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "body.json").write_bytes(body)
        (Path(folder) / "post.lua").write_text(WRK_SCRIPT)
        env = {
            **os.environ,
            "BENCH_BODY_FILE": f"{folder}/body.json",
            "BENCH_SIGNATURE": signature(body),
            "BENCH_TAG": tag,
        }
        command = [
            "wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "--timeout", "10s", "-s", f"{folder}/post.lua", f"{url}/webhooks/github/",
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> Phase:
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(n) for n in socket.groups()) if socket else 0
    )
    p50 = wrk_ms(re.search(r"50%\s+([\d.]+\w+)", output).group(1))
    p99 = wrk_ms(re.search(r"99%\s+([\d.]+\w+)", output).group(1))
    return Phase("ingest", rate, p50, p99, errors, requests - errors)


def wrk_ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def report(results: list[tuple[Phase, Phase]], body: bytes, connections: int, client: str) -> int:
    ratios = [ours.rate / pg.rate for pg, ours in results]
    pg_rate = statistics.median(pg.rate for pg, _ in results)
    ours_rate = statistics.median(ours.rate for _, ours in results)
    p99 = statistics.median(ours.p99_ms for _, ours in results)
    errors = sum(ours.errors for _, ours in results)
    ratio = statistics.median(ratios)
    pg_p50 = statistics.median(pg.p50_ms for pg, _ in results)
    pg_p99 = statistics.median(pg.p99_ms for pg, _ in results)
    ours_p50 = statistics.median(ours.p50_ms for _, ours in results)
    per_round = ", ".join(f"{r:.2f}" for r in ratios)
    print(
        f"ingest: payload {len(body):,} B, {connections} connections, client {client},"
        f" {web_processes()} web processes,"
        f" {len(results)} rounds (medians)\n"
        f"  pgbench  {pg_rate:,.0f} inserts/s  p50 {pg_p50:.1f} ms  p99 {pg_p99:.1f} ms\n"
        f"  webhook  {ours_rate:,.0f} requests/s  p50 {ours_p50:.1f} ms  p99 {p99:.1f} ms"
        f"  errors {errors}\n"
        f"  ratio    {ratio:.2f} (target >= 0.64, aim 1.0; per round: {per_round})"
    )
    emit(
        "ingest",
        {
            "web_processes": web_processes(), "pgbench_per_s": pg_rate, "webhook_per_s": ours_rate,
            "ratio": ratio, "p50_ms": ours_p50, "p99_ms": p99, "errors": errors,
            "ratios": ratios, "pgbench_p99_ms": pg_p99, "client": client,
        },
    )  # fmt: skip
    met = ratio >= 0.64 and p99 < 250 and errors == 0
    print(f"  target   {'met' if met else 'NOT met'}: ratio >= 0.64, p99 < 250 ms, zero errors")
    return 0 if met else 1
