"""A loopback upstream for `core.http_request` benchmarks: answers after a delay and counts.

Every request to `/slow` waits `delay` seconds, then answers 200. Requests are counted by
their `Idempotency-Key` header (core.http_request sends a key stable across a step's
attempts), so a call made twice shows up as a key seen twice. It runs in a thread with its
own event loop, so 1,000 requests held at once cost 1,000 coroutines.
"""

import asyncio
import threading
from collections import Counter

from aiohttp import web


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
