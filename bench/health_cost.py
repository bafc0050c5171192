"""What watching costs: ingest throughput with and without metrics, checks and pushes.

`python -m bench health_cost [--rounds=2] [--seconds=10] [--connections=64] [--detect-every=30]`

The ingest benchmark's server and load (bench/ingest.py: uvicorn, 2 workers, Postgres, Redis,
wrk POSTing the 22 KB pull_request signed), run alternately in one session against:
- **without**: METRICS_ENABLED=false, nobody on the dashboard, no detection;
- **with**: metrics recorded and flushed (the defaults), a staff browser's websocket on
  /dashboard/ receiving pushes, the detection job in its own process every `--detect-every`
  seconds (default 30: the product's schedule), and /metrics scraped every 5 s.
Target (issue 10): "with" loses under 5 % of the "without" rate (medians of the rounds).

Throughput on a shared 2-core machine swings by tens of percent between phases, so the run
also accounts the CPU time the product spends per accepted webhook (web processes, the
detection process and the database's backends for this database, from /proc): a figure other
jobs on the machine hardly move. Variants run in alternating order (ABBA) so the event table's
growth and autovacuum do not favour whichever runs first.
"""

import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import httpx

from bench import ingest

PASSWORD = "bench-pass-" + "p" * 12
# It says when its first round is done: its start-up (Django's imports, several seconds of
# CPU) is not part of watching, and must not be charged to the measured phase.
DETECTION_LOOP = (
    "import time\nfrom orchestrator.health import detect\n"
    "detect.run_detection()\nprint('detection-ready', flush=True)\n"
    "while True:\n    time.sleep({every})\n    detect.run_detection()\n"
)
# Seconds between detection rounds: the product's default (HEALTH_CHECK_INTERVAL_SECONDS)
# unless --detect-every says otherwise (5 for a harsher watch).
DETECT_EVERY = {"seconds": 30.0}


def main(argv: list[str]) -> int:
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    rounds, seconds = int(options.get("rounds", 2)), int(options.get("seconds", 10))
    connections = int(options.get("connections", 64))
    variants = options.get("variants", "without,with").split(",")
    DETECT_EVERY["seconds"] = float(options.get("detect-every", 30))
    ingest.DB_NAME = "bench_health_cost"  # its own database: never the ingest benchmark's
    body = ingest.FIXTURE.read_bytes()
    body = ingest.json.dumps(ingest.json.loads(body), separators=(",", ":")).encode()
    database_url = ingest.prepare_database(body)
    make_staff(database_url)
    rates: dict[str, list[float]] = {variant: [] for variant in variants}
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    for number in range(1, rounds + 1):
        for variant in variants if number % 2 else reversed(variants):
            phase, cpu_ms = run_variant(variant, database_url, body, seconds, connections, number)
            rates[variant].append(phase.rate)
            cpu[variant].append(cpu_ms)
            print(f"   round {number} {variant:>9}: {ingest.fmt(phase)}; "
                  f"{cpu_ms:.2f} CPU ms per webhook", flush=True)  # fmt: skip
    return report(rates, cpu)


def make_staff(database_url: str) -> None:
    code = (
        "from django.contrib.auth import get_user_model as g\n"
        "u, _ = g().objects.get_or_create(username='bench', defaults={'is_staff': True})\n"
        f"u.is_staff = True; u.set_password('{PASSWORD}'); u.save()\n"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ingest.BASE_DIR,
                   env=ingest.server_env(database_url), check=True)  # fmt: skip


def run_variant(variant, database_url, body, seconds, connections, number):
    extra = {"METRICS_ENABLED": "false"} if variant == "without" else {}
    server, url = start_server(database_url, extra)
    try:
        ingest.warm_up(url, body)
        watching = contextlib.nullcontext()
        if variant != "without":
            watching = observers(url, database_url, variant)
        with watching as watchers:
            before = product_cpu_s(server.pid, watchers)
            tag = f"{variant.replace('+', '-')}{number}"  # delivery ids take no "+"
            phase = ingest.run_http(url, body, seconds, connections, "wrk", tag)
            spent = product_cpu_s(server.pid, watchers) - before
        return phase, spent * 1000 / max(phase.count, 1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def start_server(database_url: str, extra: dict):
    from orchestrator.core.supervisor import web_command

    port = ingest.free_port()
    env = {**ingest.server_env(database_url), **extra}
    server = subprocess.Popen(web_command("127.0.0.1", port, 2), cwd=ingest.BASE_DIR, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{url}/health/live", timeout=2)
            return server, url
        time.sleep(0.3)
    server.kill()
    raise SystemExit("error: the web server did not answer within 60 s")


@contextlib.contextmanager
def observers(url: str, database_url: str, variant: str):
    """Per variant: a dashboard viewer, the detection job, a Prometheus-like scraper
    ("with" is all three; "viewer+detection" and the like pair them)."""
    parts = {"viewer", "scrape", "detection"} if variant == "with" else set(variant.split("+"))
    stop = threading.Event()
    pushes = {"count": 0}
    threads, detection = [], None
    if "viewer" in parts:
        cookie = session_cookie(url)
        watch = lambda: asyncio.run(view(url, cookie, stop, pushes))  # noqa: E731
        threads.append(threading.Thread(target=watch))
    if "scrape" in parts:
        threads.append(threading.Thread(target=scrape, args=(url, stop)))
    if "detection" in parts:
        detection = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c",
             DETECTION_LOOP.format(every=DETECT_EVERY["seconds"])],
            cwd=ingest.BASE_DIR, env=ingest.server_env(database_url),
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        while (line := detection.stdout.readline()) and "detection-ready" not in line:
            pass  # its start-up: not measured
        threading.Thread(target=detection.stdout.read, daemon=True).start()  # keep draining
    for thread in threads:
        thread.start()
    try:
        yield [] if detection is None else [detection.pid]
    finally:
        stop.set()
        if detection is not None:
            detection.terminate()
            detection.wait(timeout=30)
        for thread in threads:
            thread.join(timeout=30)
        print(f"   (the viewer received {pushes['count']} pushes)", flush=True)


def session_cookie(url: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        client.post("/admin/login/?next=/admin/", headers={"Referer": f"{url}/admin/login/"},
                    data={"username": "bench", "password": PASSWORD,
                          "csrfmiddlewaretoken": token})  # fmt: skip
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


async def view(url: str, cookie: str, stop: threading.Event, pushes: dict) -> None:
    import websockets

    ws_url = url.replace("http://", "ws://") + "/ws/dashboard/"
    headers = {"Cookie": cookie, "Origin": url}
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as socket:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(socket.recv(), 1.0)
                pushes["count"] += 1


def scrape(url: str, stop: threading.Event) -> None:
    while not stop.wait(5):
        httpx.get(f"{url}/metrics", timeout=10).raise_for_status()


# --- CPU accounting from /proc (Linux) ----------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it exited meanwhile
            continue
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
                             command)  # fmt: skip
    return table


def product_cpu_s(server_pid: int, watcher_pids: list[int] | None) -> float:
    """CPU seconds used so far by the web server's process tree, the watchers' trees and
    this benchmark database's Postgres backends (live processes only: a phase's processes
    outlive it)."""
    table = process_table()
    roots = {server_pid, *(watcher_pids or [])}
    ours = set()
    for pid in table:
        ancestor = pid
        while ancestor > 1 and ancestor not in roots:
            ancestor = table.get(ancestor, (0,))[0]
        if ancestor in roots:
            ours.add(pid)
    backend = f" {ingest.DB_NAME} "
    ours |= {pid for pid, (_, _, command) in table.items()
             if command.startswith("postgres:") and backend in command}  # fmt: skip
    return sum(table[pid][1] for pid in ours)


def report(rates: dict[str, list[float]], cpu: dict[str, list[float]]) -> int:
    for variant, values in rates.items():
        print(f"   {variant}: median {statistics.median(values):,.0f}/s, "
              f"{statistics.median(cpu[variant]):.2f} CPU ms per webhook", flush=True)  # fmt: skip
    if "with" not in rates or "without" not in rates:
        return 0
    without, with_ = statistics.median(rates["without"]), statistics.median(rates["with"])
    cost = 1 - with_ / without
    cpu_cost = statistics.median(cpu["with"]) / statistics.median(cpu["without"]) - 1
    print(f"   ingest without watching: {without:,.0f}/s; with: {with_:,.0f}/s;"
          f" throughput cost {cost * 100:.1f} %; CPU per webhook {cpu_cost * 100:+.1f} %"
          " (target < 5 %)", flush=True)  # fmt: skip
    return 0 if cost < 0.05 else 1
