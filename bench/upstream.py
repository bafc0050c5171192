"""A loopback upstream for `core.http_request` benchmarks: answers after a delay and counts.

Every request to `/slow` waits `delay` seconds, then answers 200. Requests are counted by
their `Idempotency-Key` header (core.http_request sends a key stable across a step's
attempts), so a call made twice shows up as a key seen twice. It runs in a thread with its
own event loop, so 1,000 requests held at once cost 1,000 coroutines.

`UpstreamProcess` runs it in a process of its own (`python -m bench.upstream`), read through
`/_stats` and `/_reset`: the workflow benchmark's load generator would otherwise share one
GIL with the upstream, and its own work slowed the answers it measures.
"""

import asyncio
import json
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path

from aiohttp import web

BASE_DIR = Path(__file__).resolve().parent.parent  # where `-m bench.upstream` resolves


class Upstream:
    def __init__(self, delay: float = 1.0):
        self.delay = delay
        self.keys: Counter[str] = Counter()
        self.in_flight = self.peak = 0
        self.lock = threading.Lock()
        self.port = 0
        self._loop = asyncio.new_event_loop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Upstream":
        started = threading.Event()
        threading.Thread(target=self._serve, args=(started,), daemon=True).start()
        started.wait(10)
        return self

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/slow", self._slow)
        app.router.add_get("/_stats", self._stats)
        app.router.add_post("/_reset", self._reset)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    async def _slow(self, request: web.Request) -> web.Response:
        await request.read()
        with self.lock:
            self.keys[request.headers.get("Idempotency-Key", "")] += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.in_flight -= 1
        return web.json_response({"ok": True})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"calls": self.calls(), "duplicates": self.duplicates(), "peak": self.peak}
        )

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({})

    def reset(self) -> None:
        with self.lock:
            self.keys.clear()
            self.peak = self.in_flight

    def calls(self) -> int:
        with self.lock:
            return sum(self.keys.values())

    def duplicates(self) -> int:
        with self.lock:
            return sum(count - 1 for count in self.keys.values() if count > 1)


class UpstreamProcess:
    """The same upstream in a child process, with the same reading interface."""

    def __init__(self, delay: float = 1.0):
        self.delay = delay
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "UpstreamProcess":
        argv = [sys.executable, "-m", "bench.upstream", f"--delay={self.delay}"]
        self.process = subprocess.Popen(argv, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def _get(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(self.url + path, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.loads(response.read())

    def reset(self) -> None:
        self._get("/_reset", method="POST")

    def calls(self) -> int:
        return self._get("/_stats")["calls"]

    def duplicates(self) -> int:
        return self._get("/_stats")["duplicates"]

    @property
    def peak(self) -> int:
        return self._get("/_stats")["peak"]


def main(argv: list[str]) -> int:
    """Serve until terminated; print the port on the first line."""
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    upstream = Upstream(float(options.get("delay", 1))).start()
    print(upstream.port, flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
