"""Async HTTP clients for 1,000 slow platform calls in one process: httpx vs aiohttp.

`python -m bench http_clients [--quick]`. The fake platform server runs in its own process
(so it does not share this one's GIL) and answers every Slack call after 1 s. Each scenario
sends N concurrent calls through one pooled client and reports wall time (median of the
repeats), CPU seconds and the process's peak RSS. The last scenario goes through the
project's own Slack client (aiohttp plus breaker bookkeeping and error classification).

The HTTP/2 scenarios use a second server, hypercorn speaking cleartext HTTP/2 with 100
streams per connection (what GitHub and Slack front ends typically allow), since aiohttp's
server speaks only HTTP/1.1; the aiohttp row against it is that server's reference.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
DELAY_S = 1.0


def start_fake() -> tuple[subprocess.Popen, dict]:
    process = subprocess.Popen(
        [sys.executable, "-m", "integrations.sandbox", "--delay", str(DELAY_S)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    env = json.loads(process.stdout.readline())
    return process, env


async def with_httpx(url: str, headers: dict, calls: int, pool: int) -> None:
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:
        answers = await asyncio.gather(*(client.post(url) for _ in range(calls)))
    assert all(a.status_code == 200 for a in answers)


async def with_aiohttp(url: str, headers: dict, calls: int, pool: int) -> None:
    connector = aiohttp.TCPConnector(limit=pool)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as s:

        async def one() -> int:
            async with s.post(url) as answer:
                await answer.read()
                return answer.status

        statuses = await asyncio.gather(*(one() for _ in range(calls)))
    assert set(statuses) == {200}


async def with_project_client(url: str, headers: dict, calls: int, pool: int) -> None:
    from django.conf import settings

    from integrations.slack.client import slack

    settings.SLACK_POOL_MAX = pool
    client = await slack()
    await asyncio.gather(*(client.api("auth.test") for _ in range(calls)))


async def with_httpx_h2(url: str, headers: dict, calls: int, pool: int) -> None:
    limits = httpx.Limits(max_connections=pool)
    async with httpx.AsyncClient(
        http1=False, http2=True, limits=limits, timeout=120, headers=headers
    ) as client:
        answers = await asyncio.gather(*(client.post(url) for _ in range(calls)))
    assert all(a.status_code == 200 and a.http_version == "HTTP/2" for a in answers)


async def slow_asgi_app(scope, receive, send) -> None:
    """Answer every request after DELAY_S, like the fake platforms do."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await asyncio.sleep(DELAY_S)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


def serve_h2(port: str) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind, config.backlog, config.accesslog = [f"127.0.0.1:{port}"], 2048, None
    config.h2_max_concurrent_streams = 100
    asyncio.run(serve(slow_asgi_app, config))


def start_h2_server() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    code = f"from bench.http_clients import serve_h2; serve_h2({port!r})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/slow"


def measure(runner, url, headers, calls, pool, repeats) -> dict:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(runner(url, headers, calls, pool))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "wall_s": round(statistics.median(walls), 2),
        "cpu_s": round(statistics.median(cpus), 2),
    }


def setup_django(env: dict) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contexten_site.settings")
    os.environ.setdefault("SQLITE_PATH", str(ROOT / "var" / "bench_http_clients.sqlite3"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "health", verbosity=0)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO


SCENARIOS = [  # (label, runner, calls, pool)
    ("aiohttp, pool 1000", with_aiohttp, 1000, 1000),
    ("httpx, pool 1000", with_httpx, 1000, 1000),
    ("aiohttp, pool 100", with_aiohttp, 1000, 100),
    ("httpx, pool 100", with_httpx, 1000, 100),
    ("aiohttp, pool 15 (SPEC Slack max)", with_aiohttp, 150, 15),
    ("httpx, pool 15 (SPEC Slack max)", with_httpx, 150, 15),
    ("project Slack client, pool 1000", with_project_client, 1000, 1000),
]
H2_SCENARIOS = [
    ("httpx HTTP/2, 15 connections", with_httpx_h2, 1000, 15),
    ("aiohttp HTTP/1.1 on the same server, pool 1000", with_aiohttp, 1000, 1000),
]


def report(label: str, result: dict, calls: int) -> None:
    rate = calls / result["wall_s"]
    print(f"{label:48} {calls:>6} {result['wall_s']:>7} {result['cpu_s']:>6} {rate:>8.0f}",
          flush=True)  # fmt: skip


def main(argv: list[str]) -> int:
    repeats = 1 if "--quick" in argv else 3
    fake, env = start_fake()
    try:
        setup_django(env)
        url = f"{env['SLACK_API_URL']}/auth.test"
        headers = {"Authorization": f"Bearer {env['SLACK_BOT_TOKEN']}"}
        print(f"{'scenario':48} {'calls':>6} {'wall s':>7} {'cpu s':>6} {'calls/s':>8}")
        for label, runner, calls, pool in SCENARIOS:
            report(label, measure(runner, url, headers, calls, pool, repeats), calls)
        h2_server, h2_url = start_h2_server()
        try:
            for label, runner, calls, pool in H2_SCENARIOS:
                report(label, measure(runner, h2_url, headers, calls, pool, repeats), calls)
        finally:
            h2_server.terminate()
            h2_server.wait(10)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the client process: {peak_mb:.0f} MB (upstream delay {DELAY_S:g} s)")
    finally:
        fake.terminate()
        fake.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
