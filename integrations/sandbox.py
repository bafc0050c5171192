"""A real local HTTP server that speaks GitHub REST, Linear GraphQL and the Slack Web API.

Tests and benchmarks point the platform clients at it through GITHUB_API_URL, LINEAR_API_URL
and SLACK_API_URL, so every byte goes over a real socket: no mocks. It is an aiohttp server
on 127.0.0.1 in a background thread with its own event loop, so 1,000 concurrent slow
requests cost 1,000 coroutines, not 1,000 threads.

Base URLs (one port, one prefix per platform):

    GitHub  {fake.url}/github         GITHUB_API_URL  (like GitHub Enterprise's /api/v3)
    Linear  {fake.url}/linear/graphql LINEAR_API_URL
    Slack   {fake.url}/slack/api      SLACK_API_URL

Endpoints, with the real response shapes (see integrations/<platform>/sandbox.py):

    GitHub  POST /repos/{o}/{r}/issues                 issues.create
            POST /repos/{o}/{r}/issues/{n}/comments    issues.createComment
            GET  /repos/{o}/{r}/issues/{n}/comments    issues.listComments
            POST /repos/{o}/{r}/issues/{n}/labels      issues.addLabels
            GET  /repos/{o}/{r}                        repos.get
            GET  /repos/{o}/{r}/pulls                  pulls.list
            GET  /repos/{o}/{r}/issues                 issues.list (PRs included, as on GitHub)
            GET  /repos/{o}/{r}/commits/{ref}/check-runs  checks.listForRef
      GETs carry an ETag; a matching If-None-Match answers 304 and costs no rate limit.
      Every answer carries X-RateLimit-Limit/Remaining/Reset/Used/Resource.
    Linear  POST /graphql, operations found by root field: issueCreate, commentCreate,
            issue(id), comment(id), teams(filter), team(id), viewer. Arguments come from
            `variables` only.
    Slack   POST /api/chat.postMessage (JSON or form), /api/auth.test,
            /api/conversations.info, /api/conversations.list, /api/conversations.history

Tokens (checked on every call): GitHub `Authorization: Bearer|token <github_token>`, Linear
`Authorization: <linear_key>` (or Bearer), Slack `Authorization: Bearer <slack_token>` or a
`token` form field. Defaults: PlatformSandbox.GITHUB_TOKEN, .LINEAR_KEY, .SLACK_TOKEN.

Programming it (thread-safe, call from the test thread):

    fake.set_delay("slack", 1.0)            # every Slack answer waits 1 s
    fake.fail_next("github", 2, status=502) # the next 2 GitHub calls answer 502
    fake.rate_limit_next("slack", 1, retry_after=2)  # 429 + Retry-After (Linear: RATELIMITED)
    fake.set_down("linear")                 # every call answers 503 until set_down(.., False)
    fake.reset()                            # forget calls, faults, delays and created items

Seeing what happened:

    fake.calls("slack", "chat.postMessage") # recorded Call(platform, name, method, path,
                                            #   query, json, headers, status), in order
    fake.created("slack")                   # messages/issues/comments actually created
    fake.duplicates()                       # {idempotency key: count} for keys created twice
    fake.wait_for_calls("slack", "chat.postMessage", 3, timeout=10)
    fake.peak_in_flight()                   # most requests held at once since reset()
    fake.env()                              # env vars for a subprocess (URLs and tokens)

Idempotency keys the fake understands: Slack `metadata.event_payload.idempotency_key`,
Linear the client-chosen `input.id`, GitHub a `contexten:idempotency-key=KEY` marker in the
body. Seeded data: repo acme/widgets, Linear team ENG, Slack channels #eng, #general,
#alerts; add more with add_repo(), add_issue(), add_pull(), add_check_run(), add_team(),
add_channel().

pytest (tests/fakes/fixtures.py): `fake_platforms` (a clean server, settings pointed at it,
breakers and lookup caches reset) and `run_action` (`await run_action(name, params,
attempt=1, key=...)`, the way the engine runs an action).

Run it alone for a benchmark: `python -m integrations.sandbox [--port N] [--delay S]`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from integrations.github import sandbox as github_api
from integrations.linear import sandbox as linear_api
from integrations.sandbox_state import PlatformState
from integrations.slack import sandbox as slack_api

PLATFORMS = ("github", "linear", "slack")


@dataclass
class Call:
    """One request the fake received."""

    platform: str
    name: str
    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int | None = None
    remote: str = ""  # the caller's address (the scale-out run counts calls per host)
    at: float = 0.0  # time.monotonic() when it arrived (rates without a second clock)


@dataclass
class Fault:
    # "status", "rate_limit", "reset" (the connection is cut before any work) or "lost"
    # (the request is carried out, then the connection is cut: the caller never hears)
    kind: str
    status: int = 503
    retry_after: float = 1.0
    name: str | None = None  # only calls with this name, when set


@dataclass
class Behaviour:
    delay: float = 0.0
    down: bool = False
    faults: list[Fault] = field(default_factory=list)


class PlatformSandbox:
    """The server plus its programmable behaviour and recorded calls."""

    # The sandbox's own tokens: it accepts these and nothing else.
    GITHUB_TOKEN = "ghp_fake_token"  # noqa: S105
    LINEAR_KEY = "lin_api_fake_key"
    SLACK_TOKEN = "xoxb-fake-token"  # noqa: S105

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._behaviour: dict[str, Behaviour] = defaultdict(Behaviour)
        self.state = PlatformState()
        self._in_flight = self._peak = self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def github_url(self) -> str:
        return f"{self.url}/github"

    @property
    def linear_url(self) -> str:
        return f"{self.url}/linear/graphql"

    @property
    def slack_url(self) -> str:
        return f"{self.url}/slack/api"

    def start(self) -> PlatformSandbox:
        """Serve in a daemon thread; answer once the socket listens."""
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve_forever, args=(started,), name="fake-platforms", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake platform server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._runner = None

    async def _shut_down(self) -> None:
        """Stop the site, then cancel what its handlers left behind (a delay being slept)."""
        await self._runner.cleanup()
        rest = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def _serve_forever(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start_site())
        started.set()
        self._loop.run_forever()
        self._loop.close()

    async def _start_site(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{platform:github|linear|slack}/{tail:.*}", self._handle)
        # A handler still sleeping out a long delay (a caller killed mid-call) must not hold
        # up stop() for aiohttp's default 60 s.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def env(self) -> dict[str, str]:
        """Settings for a child process (a worker, a served control plane)."""
        return {
            "GITHUB_API_URL": self.github_url,
            "LINEAR_API_URL": self.linear_url,
            "SLACK_API_URL": self.slack_url,
            "GITHUB_TOKEN": self.GITHUB_TOKEN,
            "LINEAR_API_KEY": self.LINEAR_KEY,
            "SLACK_BOT_TOKEN": self.SLACK_TOKEN,
            # core.http_request refuses loopback unless allowed (the SSRF guard).
            "HTTP_REQUEST_ALLOWLIST": self.host,
        }

    # --- programming -------------------------------------------------------------------
    def set_delay(self, platform: str, seconds: float) -> None:
        with self._lock:
            self._behaviour[_known(platform)].delay = seconds

    def set_down(self, platform: str, down: bool = True) -> None:
        with self._lock:
            self._behaviour[_known(platform)].down = down

    def fail_next(self, platform: str, n: int = 1, *, status: int = 503, name=None) -> None:
        with self._lock:
            faults = self._behaviour[_known(platform)].faults
            faults.extend(Fault("status", status=status, name=name) for _ in range(n))

    def rate_limit_next(self, platform: str, n: int = 1, *, retry_after: float = 1, name=None):
        with self._lock:
            faults = self._behaviour[_known(platform)].faults
            faults.extend(Fault("rate_limit", retry_after=retry_after, name=name) for _ in range(n))

    def reset_next(self, platform: str, n: int = 1, *, after: bool = False, name=None) -> None:
        """Cut the next `n` connections; `after=True` carries each request out first."""
        with self._lock:
            faults = self._behaviour[_known(platform)].faults
            faults.extend(Fault("lost" if after else "reset", name=name) for _ in range(n))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._behaviour.clear()
            self.state = PlatformState()
            self._generation += 1
            self._in_flight = self._peak = 0

    def add_repo(self, full_name: str, **fields) -> dict:
        with self._lock:
            return self.state.add_repo(full_name, **fields)

    def add_pull(self, full_name: str, **fields) -> dict:
        with self._lock:
            return self.state.add_pull(full_name, **fields)

    def add_issue(self, full_name: str, **fields) -> dict:
        with self._lock:
            return self.state.add_issue(full_name, **fields)

    def add_comment(self, full_name: str, number: int, body: str, **fields) -> dict:
        with self._lock:
            repo = self.state.repo(*full_name.split("/"))
            issue = self.state.issue(repo["full_name"], number)
            return github_api.add_comment(self.state, repo["full_name"], issue, body, **fields)

    def add_check_run(self, full_name: str, ref: str, **fields) -> dict:
        with self._lock:
            return self.state.add_check_run(full_name, ref, **fields)

    def add_team(self, key: str, name: str) -> dict:
        with self._lock:
            return self.state.add_team(key, name)

    def add_channel(self, name: str) -> str:
        with self._lock:
            return self.state.add_channel(name)

    # --- observing ---------------------------------------------------------------------
    def calls(self, platform: str | None = None, name: str | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self._calls
                if (platform is None or call.platform == platform)
                and (name is None or call.name == name)
            ]

    def created(self, platform: str | None = None) -> list[dict]:
        with self._lock:
            return [
                item
                for item in self.state.created
                if platform is None or item["platform"] == platform
            ]

    def duplicates(self, platform: str | None = None) -> dict[str, int]:
        """Idempotency keys that produced more than one created item."""
        keys = Counter(item["key"] for item in self.created(platform) if item["key"])
        return {key: count for key, count in keys.items() if count > 1}

    def wait_for_calls(self, platform: str, name: str, n: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(platform, name)
            if len(found) >= n:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {n} {platform} {name} calls, got {len(found)}")

    # --- serving -----------------------------------------------------------------------
    def peak_in_flight(self) -> int:
        """Most requests the server held at once since the last reset."""
        with self._lock:
            return self._peak

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        platform = request.match_info["platform"]
        path = "/" + request.match_info["tail"]
        generation = self._generation  # requests from before a reset() do not count
        self._in_flight += 1  # only the server loop touches these two
        self._peak = max(self._peak, self._in_flight)
        try:
            call = await self._record(request, platform, path)
            if generation != self._generation:
                # A call from an earlier test, reset while it waited out its delay: it must
                # not create anything in the current test's state.
                response = web.Response(status=503, text="the fake was reset mid-request")
            else:
                response = await self._answer(request, call)
        finally:
            if generation == self._generation:
                self._in_flight -= 1
        call.status = response.status
        return response

    async def _record(self, request: web.Request, platform: str, path: str) -> Call:
        body = await request.read()
        call = Call(
            platform=platform,
            name=_operation_name(platform, request.method, path, body),
            method=request.method,
            path=path,
            query=dict(request.query),
            json=_decode_body(request.content_type, body),
            headers=dict(request.headers),
            remote=request.remote or "",
            at=time.monotonic(),
        )
        with self._lock:
            self._calls.append(call)
            delay = self._behaviour[platform].delay
        if delay:
            await asyncio.sleep(delay)
        return call

    async def _answer(self, request: web.Request, call: Call) -> web.StreamResponse:
        fault = self._take_fault(call)
        if fault is not None and fault.kind not in ("reset", "lost"):
            return _fault_response(self.state, call.platform, fault)
        handler = {"github": github_api, "linear": linear_api, "slack": slack_api}[call.platform]
        if fault is None or fault.kind == "lost":
            with self._lock:
                response = handler.handle(self, call, request.headers)
            if fault is None:
                return response
        request.transport.abort()  # a connection reset: the client reads no answer at all
        return web.Response(status=599, text="connection cut by the fake")

    def _take_fault(self, call: Call) -> Fault | None:
        with self._lock:
            behaviour = self._behaviour[call.platform]
            if behaviour.down:
                return Fault("status", status=503)
            for index, fault in enumerate(behaviour.faults):
                if fault.name is None or fault.name == call.name:
                    return behaviour.faults.pop(index)
        return None


def _known(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; known: {', '.join(PLATFORMS)}")
    return platform


def _operation_name(platform: str, method: str, path: str, body: bytes) -> str:
    if platform == "github":
        return github_api.operation_name(method, path)
    if platform == "linear":
        return linear_api.operation_name(body)
    return path.removeprefix("/api/")


def _decode_body(content_type: str, body: bytes) -> Any:
    if not body:
        return None
    if content_type == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def _fault_response(state: PlatformState, platform: str, fault: Fault) -> web.Response:
    if fault.kind == "rate_limit":
        return {
            "github": github_api.rate_limited,
            "linear": linear_api.rate_limited,
            "slack": slack_api.rate_limited,
        }[platform](state.github_limits, fault.retry_after)
    if platform == "slack":
        return web.json_response({"ok": False, "error": "fatal_error"}, status=fault.status)
    return web.json_response({"message": "Service Unavailable (fake fault)"}, status=fault.status)


# --- `make run`: the sandbox in place of the real platforms --------------------------------
# platform -> (its sandbox module, the setting holding its webhook secret)
DEMO_PLATFORMS = {
    "github": ("integrations.github.sandbox", "GITHUB_WEBHOOK_SECRET"),
    "linear": ("integrations.linear.sandbox", "LINEAR_WEBHOOK_SECRET"),
    "slack": ("integrations.slack.sandbox", "SLACK_SIGNING_SECRET"),
}


def demo_environment(port: int, current: dict[str, str]) -> dict[str, str]:
    """Settings that point a control plane at a sandbox on `port`: API URLs, tokens, and a
    webhook secret for each platform that has none (so the demo stream can sign)."""
    sandbox = PlatformSandbox(port=port)
    env = sandbox.env()
    for _, secret_setting in DEMO_PLATFORMS.values():
        if not current.get(secret_setting) and not current.get(f"{secret_setting}_FILE"):
            env[secret_setting] = f"demo-{secret_setting.lower()}-{secrets.token_hex(8)}"
    return env


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted, printing the env a control plane needs to use it."""
    import argparse

    parser = argparse.ArgumentParser(description="fake GitHub/Linear/Slack API server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds every answer waits")
    parser.add_argument("--quiet", action="store_true", help="do not print the settings")
    parser.add_argument(
        "--drill",
        default="",
        metavar="PLATFORM:EVERY:FOR",
        help=f"take PLATFORM down for FOR s every EVERY s ('demo': {DEMO_DRILL})",
    )
    options = parser.parse_args(argv)
    fake = PlatformSandbox(port=options.port).start()
    for platform in PLATFORMS:
        fake.set_delay(platform, options.delay)
    if not options.quiet:
        print(json.dumps(fake.env()), flush=True)
    try:
        if options.drill:
            run_drills(fake, *parse_drill(options.drill))
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
    return 0


# `make run`'s drill: Slack carries the demo's replies and the escalation notices, so its
# outage shows the most (breaker, alert, recovery, the notice delivered after it).
DEMO_DRILL = "slack:300:45"


def parse_drill(text: str) -> tuple[str, float, float]:
    platform, every, length = (DEMO_DRILL if text == "demo" else text).split(":")
    return _known(platform), float(every), float(length)


def run_drills(
    fake: PlatformSandbox, platform: str, every_s: float, for_s: float, cycles: int | None = None
) -> None:
    """The demo's outage drill: the platform goes down for a while, now and then, so a new
    user sees the breaker open, an alert fire, recovery run and everything clear again."""
    first = min(every_s, 90.0)  # the first one while the user is still looking
    time.sleep(first)
    for _ in itertools.repeat(None) if cycles is None else range(cycles):
        print(f"sandbox: drill: {platform} is down for {for_s:.0f} s", file=sys.stderr, flush=True)
        fake.set_down(platform)
        time.sleep(for_s)
        fake.set_down(platform, False)
        print(f"sandbox: drill: {platform} is back", file=sys.stderr, flush=True)
        time.sleep(max(every_s - for_s, 1.0))


if __name__ == "__main__":
    raise SystemExit(main())
