"""Workflow engine benchmark: 1,000 slow Slack steps in flight, and trigger latency.

`python -m bench workflows [--runs=1000] [--delay=1] [--rate=200] [--seconds=10]
                           [--slack-pool=15] [--workers=6] [--runners=1] [--in-flight=500]
                           [--per-step=N]`

`--runners=K` sets WORKFLOW_RUNNERS: up to K runners drive steps at once, each in its own
worker with its own Slack pool, so give it `--workers` above K (dispatch needs workers too).

Against a fresh Postgres database (`bench_workflows`) and Redis, the production shape:
`manage.py serve` (uvicorn + qcluster) with GITHUB_WEBHOOK_SECRET set, the platform URLs pointed
at the fake platform server (tests/fakes/platforms.py, in this process, not counted in RSS).
1. reference: 1,000 chat.postMessage calls straight from an aiohttp client, all at once;
2. concurrency: `--runs` signed pull_request webhooks, each starting a run whose single
   slack.post_message step waits `--delay` s at the fake; time from the first webhook sent to
   the last run finished (DB timestamps), peak summed RSS of serve and all its children
   (sampled from /proc every 100 ms), messages created twice;
3. latency: signed issues webhooks paced at `--rate`/s for `--seconds` s; per run, the first
   step's started_at minus the event's received_at, split into stored→run created and run
   created→step started;
4. with `--per-step=N`, the rejected alternative: N steps, each its own django-q2 task that
   holds a worker through its call (bench/workflows_per_step.py).
"""

import asyncio
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PG_HOST = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB_NAME = "bench_workflows"
REDIS_URL = os.environ.get("BENCH_WORKFLOWS_REDIS_URL", "redis://127.0.0.1:6379/12")
SECRET = "bench-secret-" + "w" * 24
CONCURRENCY_WORKFLOW = {
    "name": "bench-concurrency",
    "trigger": {"event": "github.pull_request.opened"},
    "steps": [
        {
            "id": "notify",
            "action": "slack.post_message",
            "with": {"channel": "#eng", "text": "PR #{{ event.data.number }} opened"},
            "retry": {"max_attempts": 5, "initial": "1s", "max": "5s"},
        }
    ],
}
LATENCY_WORKFLOW = {
    "name": "bench-latency",
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
    runs = int(options.get("runs", 1000))
    delay = float(options.get("delay", 1))
    rate = int(options.get("rate", 200))
    seconds = int(options.get("seconds", 10))
    database_url = prepare_database()
    setup_django(database_url)
    from tests.fakes.platforms import FakePlatforms

    fake = FakePlatforms().start()
    env = server_env(database_url, fake, options)
    server, url = start_server(env)
    try:
        reference = reference_calls(fake, runs, delay)
        concurrency = concurrency_phase(fake, server, url, runs, delay)
        latency = latency_phase(fake, url, rate, seconds)
        per_step = None
        if int(options.get("per-step", 0)):
            from bench.workflows_per_step import measure

            per_step = measure(int(options["per-step"]), delay, fake)
    finally:
        stop_server(server)
        fake.stop()
    if per_step:
        print(
            f"alternative, one task per step: {per_step['count']} steps at {delay:g} s in "
            f"{per_step['elapsed_s']:.2f} s = {per_step['per_s']:.1f} steps/s "
            f"(the runner: {runs} in {concurrency['elapsed_s']:.2f} s = "
            f"{runs / concurrency['elapsed_s']:.1f} steps/s)"
        )
    return report(reference, concurrency, latency, options, runs, delay, rate, seconds)


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


def setup_django(database_url: str) -> None:
    """This process reads results and saves workflows through the ORM, like an operator."""
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        DJANGO_SETTINGS_MODULE="contexten_site.settings",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def server_env(database_url: str, fake, options: dict) -> dict:
    return {
        **os.environ,
        **fake.env(),
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + "k" * 40,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "SLACK_POOL_MAX": options.get("slack-pool", "15"),
        "Q_WORKERS": options.get("workers", "6"),
        "WORKFLOW_RUNNERS": options.get("runners", "1"),
        "WORKFLOW_MAX_IN_FLIGHT": options.get("in-flight", "500"),
    }


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):  # noqa: S310
                time.sleep(3)  # let qcluster finish starting its workers
                return server, url
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("error: manage.py serve did not answer within 90 s")


def stop_server(server: subprocess.Popen) -> None:
    import signal

    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def save(document: dict) -> None:
    from orchestrator.workflows import definitions

    definitions.create_workflow(document)


# --- RSS ----------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Peak of the summed VmRSS of a process and all its descendants."""

    def __init__(self, root_pid: int):
        super().__init__(daemon=True)
        self.root_pid, self.peak_kb, self.peak_processes = root_pid, 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pids = descendants(self.root_pid)
            total = sum(rss_kb(pid) for pid in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, len(pids)
            self.done.wait(0.1)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- load ---------------------------------------------------------------------------------
def signed_headers(body: bytes, event: str, delivery: str) -> dict:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


async def send_webhooks(url: str, bodies: list[tuple[str, str, bytes]], rate: float | None):
    """POST each (event, delivery, body); paced at `rate`/s, or as fast as 64 connections go."""
    import aiohttp

    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:

        async def post(event, delivery, body):
            headers = signed_headers(body, event, delivery)
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


def reference_calls(fake, runs: int, delay: float) -> float:
    """The floor: the same number of chat.postMessage calls from a bare aiohttp client."""
    import aiohttp

    fake.set_delay("slack", delay)

    async def go() -> float:
        headers = {"Authorization": f"Bearer {fake.SLACK_TOKEN}"}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            start = time.monotonic()

            async def call(n):
                body = {"channel": "#eng", "text": f"reference {n}"}
                async with session.post(f"{fake.slack_url}/chat.postMessage", json=body) as r:
                    await r.read()

            await asyncio.gather(*(call(n) for n in range(runs)))
            return time.monotonic() - start

    elapsed = asyncio.run(go())
    fake.reset()
    return elapsed


def wait_for_runs(workflow: str, expected: int, timeout_s: float = 300) -> None:
    from orchestrator.workflows.models import Run

    finished = ["succeeded", "failed", "cancelled"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = Run.objects.filter(workflow__name=workflow)
        if runs.filter(status__in=finished).count() >= expected:
            return
        time.sleep(0.25)
    print(f"warning: {workflow}: not all {expected} runs finished within {timeout_s:.0f} s")


def concurrency_phase(fake, server, url: str, runs: int, delay: float) -> dict:
    from django.db.models import Max

    from orchestrator.workflows.models import Run

    save(CONCURRENCY_WORKFLOW)
    fake.set_delay("slack", delay)
    bodies = [
        ("pull_request", f"bench-pr-{n}", json.dumps(pr_payload(n)).encode()) for n in range(runs)
    ]
    sampler = RssSampler(server.pid)
    sampler.start()
    first_sent = time.time()
    statuses = asyncio.run(send_webhooks(url, bodies, rate=None))
    sent_s = time.time() - first_sent
    wait_for_runs(CONCURRENCY_WORKFLOW["name"], runs)
    sampler.done.set()
    sampler.join()
    mine = Run.objects.filter(workflow__name=CONCURRENCY_WORKFLOW["name"])
    last = mine.aggregate(last=Max("finished_at"))["last"]
    result = {
        "accepted": sum(status == 202 for status in statuses),
        "sent_s": sent_s,
        "elapsed_s": (last.timestamp() - first_sent) if last else float("nan"),
        "succeeded": mine.filter(status="succeeded").count(),
        "peak_rss_mb": sampler.peak_kb / 1024,
        "processes": sampler.peak_processes,
        "posted": len(fake.created("slack")),
        "duplicates": sum(count - 1 for count in fake.duplicates("slack").values()),
        "peak_in_flight": fake.peak_in_flight(),
    }
    fake.set_delay("slack", 0)
    return result


def pr_payload(n: int) -> dict:
    return {
        "action": "opened",
        "number": n,
        "pull_request": {"number": n, "title": f"Bench PR {n}", "draft": False},
        "repository": {"full_name": "acme/widgets"},
    }


def latency_phase(fake, url: str, rate: int, seconds: int) -> dict:
    from orchestrator.workflows.models import StepRun

    save(LATENCY_WORKFLOW)
    count = rate * seconds
    bodies = [
        ("issues", f"bench-issue-{n}", json.dumps(issue_payload(n)).encode()) for n in range(count)
    ]
    asyncio.run(send_webhooks(url, bodies, rate=rate))
    wait_for_runs(LATENCY_WORKFLOW["name"], count)
    rows = StepRun.objects.filter(
        run__workflow__name=LATENCY_WORKFLOW["name"], position=0, started_at__isnull=False
    ).values_list("run__event__received_at", "run__created_at", "started_at")
    total = [(started - received).total_seconds() * 1000 for received, _, started in rows]
    to_run = [(created - received).total_seconds() * 1000 for received, created, _ in rows]
    to_step = [(started - created).total_seconds() * 1000 for _, created, started in rows]
    return {"count": len(total), "total": total, "to_run": to_run, "to_step": to_step}


def issue_payload(n: int) -> dict:
    return {
        "action": "opened",
        "issue": {"number": n, "title": f"Bench issue {n}"},
        "repository": {"full_name": "acme/widgets"},
    }


# --- report -------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def report(reference, concurrency, latency, options, runs, delay, rate, seconds) -> int:
    c = concurrency
    print(f"settings: {json.dumps(options) if options else 'defaults'}")
    print(f"reference: {runs} direct chat.postMessage calls at {delay:g} s: {reference:.2f} s")
    print(
        f"concurrency: {c['accepted']}/{runs} webhooks accepted in {c['sent_s']:.2f} s; "
        f"{c['succeeded']} runs succeeded; first webhook -> last run finished "
        f"{c['elapsed_s']:.2f} s ({c['elapsed_s'] / reference:.1f}x the reference); "
        f"peak RSS {c['peak_rss_mb']:.0f} MB over {c['processes']} processes; "
        f"{c['posted']} messages posted, {c['duplicates']} duplicates; "
        f"peak {c['peak_in_flight']} requests in flight at the fake"
    )
    for name, key in [("stored->step started", "total"), ("stored->run created", "to_run"),
                      ("run created->step started", "to_step")]:  # fmt: skip
        values = latency[key]
        print(
            f"latency {name}: n={len(values)} at {rate}/s for {seconds} s: "
            f"p50 {pct(values, 50):.1f} ms, p95 {pct(values, 95):.1f} ms, "
            f"p99 {pct(values, 99):.1f} ms, max {max(values, default=float('nan')):.1f} ms"
        )
    ok = (
        c["elapsed_s"] <= 10
        and c["peak_rss_mb"] < 2048
        and c["duplicates"] == 0
        and c["succeeded"] == runs
        and pct(latency["total"], 95) < 100
    )
    print(f"targets (<=10 s, <2 GB, no duplicates, p95 <100 ms): {'met' if ok else 'NOT met'}")
    if latency["total"]:
        print(f"latency median: {statistics.median(latency['total']):.1f} ms")
    return 0
