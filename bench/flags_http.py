"""OFREP over HTTP: single-flag p99 against a trivial Django view on the same server.

The server is the product's ASGI app under uvicorn (one process, DEBUG off, the embedded
SQLite default), with `bench.flags_settings` adding `POST /bench/trivial`, a view that returns
a constant. Both endpoints take the same JSON body through the same middleware; rounds
alternate between them so drift on a shared machine hits both alike.
"""

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DB_PATH = BASE_DIR / "var" / "bench_flags.sqlite3"
CONNECTIONS = 4
BODY = json.dumps({"context": {"targetingKey": "user-42", "email": "x@example.com"}}).encode()
SETUP = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from orchestrator.flags.services import Actor, save_flag
from bench.flags import RULES_DOC
user = get_user_model().objects.create_user("bench", is_staff=True)
save_flag(RULES_DOC, actor=Actor("bench"))
print(Token.objects.create(user=user).key)
"""


def server_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return env | {
        "DJANGO_SETTINGS_MODULE": "bench.flags_settings",
        "SQLITE_PATH": str(DB_PATH),
        "DEBUG": "false",
        "SECRET_KEY": "bench-flags-" + "k" * 50,
        "LOG_LEVEL": "WARNING",
    }


def prepare(env: dict) -> str:
    """A fresh database with the benchmark's flag; answer an API token."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB_PATH}{suffix}").unlink(missing_ok=True)
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=BASE_DIR, check=True)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        env=env,
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return setup.stdout.strip().splitlines()[-1]


def start(env: dict, port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "uvicorn", "contexten_site.asgi:application", "--port", str(port),
        "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=BASE_DIR)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the benchmark server did not start")


def hammer(port: int, path: str, headers: dict, seconds: float) -> tuple[list[float], int]:
    """CONNECTIONS keep-alive clients POSTing for `seconds`; answer latencies (ms) and errors."""
    latencies: list[float] = []
    errors = [0]
    stop_at = time.monotonic() + seconds

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            connection.request("POST", path, BODY, headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            errors[0] += response.status != 200
        latencies.extend(mine)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(seconds: float, rounds: int) -> int:
    env = server_env()
    token = prepare(env)
    port = free_port()
    server = start(env, port)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    paths = {
        "trivial view": "/bench/trivial",
        "OFREP single": "/ofrep/v1/evaluate/flags/new-checkout",
    }
    results: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in paths}
    try:
        for path in paths.values():
            hammer(port, path, headers, 1)  # warm-up: compile, token cache, connections
        for _ in range(rounds):
            for name, path in paths.items():
                latencies, errors = hammer(port, path, headers, seconds)
                rate = len(latencies) / seconds
                results[name].append(
                    (percentile(latencies, 0.5), percentile(latencies, 0.99), rate, errors)
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report(results, seconds, rounds)


def report(results: dict, seconds: float, rounds: int) -> int:
    print(
        f"over HTTP: uvicorn, 1 process, {CONNECTIONS} keep-alive clients,"
        f" {rounds} rounds of {seconds:g}s per endpoint"
    )
    print(f"  {'endpoint':<14}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'errors':>8}")
    medians = {}
    for name, rows in results.items():
        p50, p99, rate = (statistics.median(row[i] for row in rows) for i in range(3))
        errors = sum(row[3] for row in rows)
        medians[name] = p99
        print(f"  {name:<14}{p50:>9.2f}{p99:>9.2f}{rate:>9.0f}{errors:>8}")
    ratio = medians["OFREP single"] / medians["trivial view"]
    verdict = "PASS" if ratio <= 2 else "FAIL"
    print(f"  target OFREP p99 <= 2x trivial view p99: {ratio:.2f}x {verdict}")
    return 0 if ratio <= 2 else 1
