"""Workflow engine benchmark at the product's defaults: 1,000 slow `core.http_request` steps,
trigger latency, the two together, and the RSS of every process.

`python -m bench workflows [--runs=1000] [--delay=1] [--rate=200] [--seconds=10]
                           [--mode=processes|tasks|cluster] [--workers=N] [--runners=N]
                           [--pool=N] [--in-flight=N] [--per-step=N] [--dispatchers=N]
                           [--dispatch-linger=MS] [--plan-at-ingest=BOOL] [--gc-freeze=BOOL]`

Nothing is set unless named: `manage.py serve` runs with the product's defaults against a fresh
Postgres database (`bench_workflows`) and Redis, the production shape. Besides the database,
Redis and the webhook secret, the only settings are the fakes' URLs and HTTP_REQUEST_ALLOWLIST
for the loopback upstream (the SSRF guard refuses loopback otherwise). The platform sandbox
and the upstream run in processes of their own, so this process's load generator does not
slow the answers the stack waits on.
- `--mode=processes` (the default): runner processes beside web and workers;
- `--mode=tasks`: `serve --runners=0`, so runners are django-q2 tasks on the dispatch cluster
  (the design before, kept as the fallback for a deployment running qcluster alone);
- `--mode=cluster`: runner tasks on a django-q2 cluster of their own
  (WORKFLOW_RUNNER_CLUSTER, `Q_CLUSTER_NAME=runners manage.py qcluster`).

Phases, all in one run:
1. reference: `--runs` requests straight from an aiohttp client to the upstream, all at once;
2. concurrency: `--runs` signed pull_request webhooks as fast as 64 connections go, each run's
   one step a `core.http_request` to the loopback upstream (bench/upstream.py) that answers
   after `--delay` s; first webhook sent to last run finished (DB timestamps); calls made
   twice (the upstream counts Idempotency-Key); RSS per process idle and at peak;
3. latency: signed issues webhooks at `--rate`/s for `--seconds` s, alone; per run, the first
   step's started_at minus the event's received_at;
4. mixed: the same stream, with the 1,000-step burst fired one second in; the stream's
   latency over the burst's whole window, and split in two: while the burst arrives (its
   first webhook sent to its last step started) and while all its steps are in flight (to
   its last run finished); `/health/` and `/admin/login/` probed every 0.25 s throughout.
5. with `--per-step=N`, the rejected one-task-per-step design (bench/workflows_per_step.py).
"""

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import stack
from bench.results import emit
from bench.upstream import UpstreamProcess
from bench.workflows_report import report, report_memory, summary

BASE_DIR = Path(__file__).resolve().parent.parent
PG_HOST = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_WORKFLOWS_DB", "bench_workflows")
REDIS_URL = os.environ.get("BENCH_WORKFLOWS_REDIS_URL", "redis://127.0.0.1:6379/12")
SECRET = "bench-secret-" + "w" * 24
RUNNER_CLUSTER = "runners"
CONCURRENCY = "bench-concurrency"
LATENCY = "bench-latency"
OPTION_SETTINGS = {
    "workers": "Q_WORKERS",
    "runners": "WORKFLOW_RUNNERS",
    "pool": "HTTP_REQUEST_POOL_MAX",
    "in-flight": "WORKFLOW_MAX_IN_FLIGHT",
    "dispatchers": "DISPATCHER_THREADS",
    "dispatch-linger": "DISPATCH_LINGER_MS",
    "plan-at-ingest": "EVENT_PLAN_AT_INGEST",
    "gc-freeze": "GC_FREEZE_AT_START",
}


def concurrency_workflow(upstream_url: str) -> dict:
    return {
        "name": CONCURRENCY,
        "trigger": {"event": "github.pull_request.opened"},
        "steps": [
            {
                "id": "deploy_hook",
                "action": "core.http_request",
                "with": {
                    "method": "POST",
                    "url": f"{upstream_url}/slow",
                    "json": {"pr": "{{ event.data.number }}"},
                },
                "retry": {"max_attempts": 5, "initial": "1s", "max": "5s"},
            }
        ],
    }


LATENCY_WORKFLOW = {
    "name": LATENCY,
    "trigger": {"event": "github.issues.opened"},
    "steps": [
        {
            "id": "notify",
            "action": "slack.post_message",
            "with": {"channel": "#eng", "text": "issue #{{ event.data.issue.number }}"},
        }
    ],
}


def main(argv: list[str]) -> int:
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    runs, delay = int(options.get("runs", 1000)), float(options.get("delay", 1))
    rate, seconds = int(options.get("rate", 200)), int(options.get("seconds", 10))
    mode = options.get("mode", "processes")
    database_url = prepare_database()
    setup_django(database_url)
    fake, upstream = start_fakes(options), UpstreamProcess(delay).start()
    save(concurrency_workflow(upstream.url))
    save(LATENCY_WORKFLOW)
    env = server_env(database_url, fake, options, mode)
    server, url = stack.start_server(env, *(["--runners=0"] if mode != "processes" else []))
    extra = start_runner_cluster(env) if mode == "cluster" else None
    roots = [server.pid] + ([extra.pid] if extra else [])
    try:
        idle = stack.snapshot(roots)
        reference = reference_calls(upstream, runs)
        fakes = fake_pids(fake, upstream)
        concurrency = concurrency_phase(upstream, roots, url, runs, fakes)
        latency = latency_phase(url, rate, seconds, roots, fakes)
        mixed = mixed_phase(upstream, url, runs, rate, seconds)
        per_step = per_step_phase(options, delay, fake)
    finally:
        for process in filter(None, [extra, server]):
            stack.stop_server(process)
        fake.stop()
        upstream.stop()
    print(f"mode: {mode}; settings: {json.dumps(options) if options else 'defaults'}")
    report_memory(idle, concurrency)
    met = report(reference, concurrency, latency, mixed, per_step, runs, delay, rate, seconds)
    emit("workflows", summary(mode, options, idle, reference, concurrency, latency, mixed, met))
    return 0 if met else 1


# --- environment --------------------------------------------------------------------------
def psql(database: str, sql: str) -> None:
    subprocess.run(
        ["psql", f"{PG_HOST}/{database}", "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql],
        check=True,
        capture_output=True,
    )


def prepare_database() -> str:
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB_NAME}")
    database_url = f"{PG_HOST}/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    return database_url


def start_fakes(options: dict):
    """The platform sandbox, in a process of its own apart from this one's load generator
    (as the upstream is); the per-step phase programs the sandbox's delay, so with it the
    sandbox runs here."""
    if int(options.get("per-step", 0)):
        from tests.fakes.platforms import FakePlatforms

        return FakePlatforms().start()
    return stack.SandboxProcess().start()


def fake_pids(*fakes) -> list[int]:
    """The processes of the fakes that run in one (the in-process sandbox has none)."""
    return [
        fake.process.pid
        for fake in fakes
        if isinstance(getattr(fake, "process", None), subprocess.Popen)
    ]


def setup_django(database_url: str) -> None:
    """This process reads results and saves workflows through the ORM, like an operator."""
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        DJANGO_SETTINGS_MODULE="contexten_site.settings",
        LOG_LEVEL="WARNING",
        HTTP_REQUEST_ALLOWLIST="127.0.0.1",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def server_env(database_url: str, fake, options: dict, mode: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in OPTION_SETTINGS.values() and not key.startswith("WORKFLOW_")
    }
    env.update(fake.env())  # the fakes' URLs and tokens, and HTTP_REQUEST_ALLOWLIST for loopback
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        DEBUG="false",
        SECRET_KEY="bench-" + "k" * 40,
        GITHUB_WEBHOOK_SECRET=SECRET,
        LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    )
    env.update({OPTION_SETTINGS[k]: v for k, v in options.items() if k in OPTION_SETTINGS})
    if mode == "cluster":
        env["WORKFLOW_RUNNER_CLUSTER"] = RUNNER_CLUSTER
    return env


def start_runner_cluster(env: dict):
    return stack.start_process({**env, "Q_CLUSTER_NAME": RUNNER_CLUSTER}, "qcluster")


def save(document: dict) -> None:
    from orchestrator.workflows import definitions

    definitions.create_workflow(document)


# --- load ---------------------------------------------------------------------------------
def signed_headers(body: bytes, event: str, delivery: str) -> dict:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


# Delivery id -> when its webhook was sent (epoch s): "sent -> first step started" is what a
# platform sees, and counts any wait before the event is stored, which `received_at` hides.
SENT: dict[str, float] = {}


async def send_webhooks(url: str, bodies: list[tuple[str, str, bytes]], rate: float | None):
    """POST each (event, delivery, body); paced at `rate`/s, or as fast as 64 connections go."""
    import aiohttp

    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def post(event, delivery, body):
            headers = signed_headers(body, event, delivery)
            SENT[delivery] = time.time()
            async with session.post(f"{url}/webhooks/github/", data=body, headers=headers) as r:
                statuses.append(r.status)

        start = time.monotonic()
        tasks = []
        for index, (event, delivery, body) in enumerate(bodies):
            if rate:
                await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            tasks.append(asyncio.create_task(post(event, delivery, body)))
        await asyncio.gather(*tasks)
    return statuses


def reference_calls(upstream: UpstreamProcess, runs: int) -> float:
    """The floor: the same number of calls to the upstream from a bare aiohttp client."""
    import aiohttp

    async def go() -> float:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            start = time.monotonic()

            async def call(n):
                headers = {"Idempotency-Key": f"reference-{n}"}
                async with session.post(f"{upstream.url}/slow", json={}, headers=headers) as r:
                    await r.read()

            await asyncio.gather(*(call(n) for n in range(runs)))
            return time.monotonic() - start

    elapsed = asyncio.run(go())
    upstream.reset()
    return elapsed


def wait_for_runs(workflow: str, expected: int, timeout_s: float = 300) -> None:
    from orchestrator.workflows.models import Run

    finished = ["succeeded", "failed", "cancelled"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = Run.objects.filter(workflow__name=workflow, status__in=finished)
        if runs.count() >= expected:
            return
        time.sleep(0.25)
    print(f"warning: {workflow}: not all {expected} runs finished within {timeout_s:.0f} s")


def burst_bodies(prefix: str, runs: int) -> list:
    return [
        ("pull_request", f"{prefix}-{n}", json.dumps(pr_payload(n)).encode()) for n in range(runs)
    ]


def stream_bodies(prefix: str, count: int) -> list:
    return [
        ("issues", f"{prefix}-{n}", json.dumps(issue_payload(n)).encode()) for n in range(count)
    ]


def concurrency_phase(
    upstream: UpstreamProcess, roots: list[int], url: str, runs: int, fakes: list[int]
) -> dict:
    """The burst alone, its memory, and the CPU it took per run, by role (as the stream's)."""
    sampler = stack.RssSampler(roots)
    sampler.start()
    before = stack.cpu_by_process(roots, fakes)
    first_sent = time.time()
    statuses = asyncio.run(send_webhooks(url, burst_bodies("burst", runs), rate=None))
    sent_s = time.time() - first_sent
    wait_for_runs(CONCURRENCY, runs)
    used = stack.cpu_per_role(before, stack.cpu_by_process(roots, fakes))
    sampler.stop()
    result = burst_result(upstream, "burst", first_sent, runs)
    result["cpu_ms_per_run"] = {
        name: round(s * 1000 / runs, 2) for name, s in sorted(used.items()) if s
    }
    return {**result, "accepted": sum(s == 202 for s in statuses), "sent_s": sent_s,
            "peak_rss_mb": sampler.peak_kb / 1024, "processes": sampler.peak_processes,
            "per_process": sampler.per_process}  # fmt: skip


def burst_result(upstream: UpstreamProcess, prefix: str, first_sent: float, runs: int) -> dict:
    from django.db.models import Max

    from orchestrator.workflows.models import Run

    mine = Run.objects.filter(workflow__name=CONCURRENCY, event__delivery_id__startswith=prefix)
    last = mine.aggregate(last=Max("finished_at"))["last"]
    last_started = mine.aggregate(last=Max("steps__started_at"))["last"]
    result = {
        "elapsed_s": (last.timestamp() - first_sent) if last else float("nan"),
        "last_finished": last.timestamp() if last else float("nan"),
        # Until then the burst is still arriving (webhooks stored, runs created, steps
        # claimed); after it, all its steps are in flight at the upstream.
        "last_started": last_started.timestamp() if last_started else float("nan"),
        "succeeded": mine.filter(status="succeeded").count(),
        "calls": upstream.calls(),
        "duplicates": upstream.duplicates(),
        "peak_in_flight": upstream.peak,
    }
    upstream.reset()
    return result


def pr_payload(n: int) -> dict:
    return {
        "action": "opened",
        "number": n,
        "pull_request": {"number": n, "title": f"Bench PR {n}", "draft": False},
        "repository": {"full_name": "acme/widgets"},
    }


def latency_phase(url: str, rate: int, seconds: int, roots: list, fakes: list) -> dict:
    """The stream alone, and the CPU it took per event, by role (this load generator apart)."""
    bodies = stream_bodies("alone", rate * seconds)
    before = stack.cpu_by_process(roots, fakes)
    asyncio.run(send_webhooks(url, bodies, rate=rate))
    wait_for_runs(LATENCY, len(bodies))
    used = stack.cpu_per_role(before, stack.cpu_by_process(roots, fakes))
    cpu_ms = {name: round(s * 1000 / len(bodies), 2) for name, s in sorted(used.items()) if s}
    return {**latencies("alone"), "cpu_ms_per_event": cpu_ms}


def latencies(prefix: str, window: tuple[float, float] | None = None) -> dict:
    """Stored -> first step started, per run of the latency workflow (optionally only for
    events received inside `window`, epoch seconds)."""
    from orchestrator.workflows.models import StepRun

    rows = StepRun.objects.filter(
        run__workflow__name=LATENCY,
        run__event__delivery_id__startswith=prefix,
        position=0,
        started_at__isnull=False,
    ).values_list(
        "run__event__received_at", "run__created_at", "started_at", "run__event__delivery_id"
    )
    if window:
        rows = [row for row in rows if window[0] <= row[0].timestamp() <= window[1]]
    total = [(started - received).total_seconds() * 1000 for received, _, started, _ in rows]
    to_run = [(created - received).total_seconds() * 1000 for received, created, _, _ in rows]
    from_sent = [
        (started.timestamp() - SENT[delivery]) * 1000
        for _, _, started, delivery in rows
        if delivery in SENT
    ]
    return {"count": len(total), "total": total, "to_run": to_run, "from_sent": from_sent}


def mixed_phase(upstream: UpstreamProcess, url: str, runs: int, rate: int, seconds: int) -> dict:
    """The stream at `rate`/s with the burst fired one second in; probes throughout."""
    stream = stream_bodies("mix-stream", rate * seconds)

    async def go() -> tuple[float, dict]:
        probes = {"/health/": [], "/admin/login/": []}
        done = asyncio.Event()
        streaming = asyncio.create_task(send_webhooks(url, stream, rate=rate))
        probing = asyncio.create_task(probe(url, probes, done))
        await asyncio.sleep(1.0)
        first_sent = time.time()
        await send_webhooks(url, burst_bodies("mix-burst", runs), rate=None)
        await streaming
        done.set()
        await probing
        return first_sent, probes

    first_sent, probes = asyncio.run(go())
    wait_for_runs(LATENCY, rate * seconds * 2)
    wait_for_runs(CONCURRENCY, runs * 2)
    burst = burst_result(upstream, "mix-burst", first_sent, runs)
    during = latencies("mix-stream", (first_sent, burst["last_finished"]))
    arriving = latencies("mix-stream", (first_sent, burst["last_started"]))
    in_flight = latencies("mix-stream", (burst["last_started"], burst["last_finished"]))
    stream = latencies("mix-stream")
    return {"burst": burst, "stream": stream, "during": during, "probes": probes,
            "arriving": arriving, "in_flight": in_flight}  # fmt: skip


async def probe(url: str, probes: dict, done: asyncio.Event) -> None:
    """GET each probe path every 0.25 s: (status, ms) per answer, status 0 on no answer."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not done.is_set():
            for path, answers in probes.items():
                start = time.monotonic()
                try:
                    async with session.get(url + path, allow_redirects=False) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                answers.append((status, (time.monotonic() - start) * 1000))
            await asyncio.sleep(0.25)


def issue_payload(n: int) -> dict:
    return {
        "action": "opened",
        "issue": {"number": n, "title": f"Bench issue {n}"},
        "repository": {"full_name": "acme/widgets"},
    }


def per_step_phase(options: dict, delay: float, fake):
    if not int(options.get("per-step", 0)):
        return None
    from bench.workflows_per_step import measure

    return measure(int(options["per-step"]), delay, fake)
