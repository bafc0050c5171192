"""A loopback stand-in for Jira Cloud's REST API v3, for tests and the `make run` demo.

A real aiohttp server on 127.0.0.1 in a daemon thread, so every byte the extension sends
crosses a socket. Endpoints (Basic auth `email:api_token` on every one):

    GET  /rest/api/3/myself                            the account (the health check)
    POST /rest/api/3/issue                             create; 201 {"id", "key", "self"}
    GET  /rest/api/3/issue/{key}?properties=a,b        the issue with those entity properties
    POST /rest/api/3/issue/{key}/comment               add an ADF comment; 201 the comment
    GET  /rest/api/3/issue/{key}/comment?expand=properties
    GET  /rest/api/3/issue/{key}/transitions           the transitions; POST one: 204
    POST /rest/api/3/search/jql                        {"jql": 'labels = "x"'}: {"issues", "isLast"}

Errors use Jira's shape `{"errorMessages": [...], "errors": {field: message}}`: 400 on bad
input, 401 on bad auth, 404 for an unknown issue, 429 with `Retry-After` and 5xx on demand:

    sandbox.fail_next(2, status=503)          # the next two calls answer 503
    sandbox.rate_limit_next(1, retry_after=2)  # the next call answers 429, Retry-After: 2
    sandbox.hold("add_comment")                # those calls wait (a run in flight) ...
    sandbox.release("add_comment")             # ... until released
    sandbox.calls("create_issue")              # recorded calls, in order
    sandbox.wait_for("add_comment", 2)         # block until two arrived
    sandbox.reset()

Run it alone (the demo does): `python -m contexten_jira.sandbox --port 8111`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .state import (
    STATUSES,
    TRANSITIONS,
    Issue,
    JiraInputError,
    JiraNotFound,
    JiraState,
)

API = "/rest/api/3"
DEMO_ISSUE = "ENG-42"  # the issue of the demo's jira:issue_created delivery


@dataclass
class Call:
    name: str
    method: str
    path: str
    json: Any
    user_agent: str = ""
    status: int = 0


class JiraSandbox:
    """The server, its data, the faults it is told to inject and the calls it saw."""

    EMAIL = "demo@example.com"
    API_TOKEN = "jira-sandbox-token"  # noqa: S105 - the sandbox's fixed test credential

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.reset()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        with self._lock:
            account = {"accountId": "5b10a2844c20165700ede21g", "emailAddress": self.EMAIL,
                       "displayName": "Contexten Demo", "active": True, "timeZone": "UTC",
                       "accountType": "atlassian"}  # fmt: skip
            self.state = JiraState(account)
            self._faults: list[tuple[int, float | None]] = []
            self._calls: list[Call] = []
            self._held: set[str] = set()
        self._release_all()

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._faults += [(status, None)] * count

    def rate_limit_next(self, count: int, retry_after: float = 1) -> None:
        with self._lock:
            self._faults += [(429, retry_after)] * count

    def hold(self, name: str) -> None:
        """Keep calls of operation `name` waiting (a run in flight) until `release(name)`."""
        with self._lock:
            self._held.add(name)

    def release(self, name: str) -> None:
        with self._lock:
            self._held.discard(name)
        self._release_all()

    def _release_all(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake_waiters)

    def _wake_waiters(self) -> None:
        self._released.set()
        self._released = asyncio.Event()

    def wait_for(self, name: str, count: int, timeout: float = 30) -> list[Call]:
        """Block until `count` calls of `name` arrived; AssertionError on the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls(name)
            if len(calls) >= count:
                return calls
            time.sleep(0.05)
        raise AssertionError(f"{count} {name} calls expected, saw {len(self.calls(name))}")

    def calls(self, name: str | None = None) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if name is None or call.name == name]

    def issues(self) -> list[Issue]:
        with self._lock:
            return list(self.state.issues.values())

    # --- serving -------------------------------------------------------------------------
    def start(self) -> JiraSandbox:
        ready = threading.Event()
        thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the Jira sandbox did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._listen())
        ready.set()
        self._loop.run_forever()

    def app(self) -> web.Application:
        """An aiohttp application serving this sandbox (any server can mount it)."""
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _listen(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        name = route_name(request.method, request.path)
        call = Call(name, request.method, request.path, None, request.headers.get("User-Agent", ""))
        with self._lock:
            self._calls.append(call)
        while self._is_held(name):
            await self._released.wait()
        with self._lock:
            response = self._answer(request, body, call)
        call.status = response.status
        return response

    def _is_held(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def _answer(self, request: web.Request, body: bytes, call: Call) -> web.Response:
        if not self._authorised(request.headers.get("Authorization", "")):
            return jira_error(401, ["You are not authenticated. Authentication required."])
        if self._faults:
            return fault_response(*self._faults.pop(0))
        if request.method == "POST":
            if request.content_type != "application/json":
                return jira_error(415, ["Unsupported Media Type: send application/json."])
            try:
                call.json = json.loads(body or b"null")
            except ValueError as exc:
                return jira_error(400, [f"Unexpected character in the JSON body: {exc}"])
        handler = ROUTES.get(call.name)
        if handler is None:
            return jira_error(404, [f"No Jira API at {request.method} {request.path}."])
        try:
            return handler(self, request, call.json)
        except JiraInputError as exc:
            answer = {"errorMessages": exc.messages, "errors": exc.errors}
            return web.json_response(answer, status=400)
        except JiraNotFound as exc:
            return jira_error(404, [str(exc)])

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return decoded == f"{self.EMAIL}:{self.API_TOKEN}"

    def issue_json(self, base: str, issue: Issue, properties: list[str] = ()) -> dict:
        answer = {"id": issue.id, "key": issue.key, "self": f"{base}{API}/issue/{issue.id}",
                  "fields": issue.fields}  # fmt: skip
        if properties:
            wanted = issue.properties if "*all" in properties else {}
            answer["properties"] = wanted or {
                key: issue.properties[key] for key in properties if key in issue.properties
            }
        return answer


def route_name(method: str, path: str) -> str:
    """Name the operation: `create_issue`, `add_comment`, ... or `unknown`."""
    parts = path.removeprefix(API).strip("/").split("/")
    shapes = {
        ("GET", ("myself",)): "myself",
        ("POST", ("issue",)): "create_issue",
        ("POST", ("search", "jql")): "search",
    }
    if (method, tuple(parts)) in shapes:
        return shapes[method, tuple(parts)]
    if len(parts) >= 2 and parts[0] == "issue":
        tail = tuple(parts[2:])
        return {
            ("GET", ()): "get_issue",
            ("POST", ("comment",)): "add_comment",
            ("GET", ("comment",)): "list_comments",
            ("GET", ("transitions",)): "list_transitions",
            ("POST", ("transitions",)): "transition",
        }.get((method, tail), "unknown")
    return "unknown"


def jira_error(status: int, messages: list[str]) -> web.Response:
    return web.json_response({"errorMessages": messages, "errors": {}}, status=status)


def fault_response(status: int, retry_after: float | None) -> web.Response:
    if status == 429:
        response = jira_error(429, ["Rate limit exceeded."])
        response.headers.update({"Retry-After": f"{retry_after:g}", "X-RateLimit-Remaining": "0"})
        return response
    return jira_error(status, ["The Jira sandbox was told to fail this call."])


def _myself(sandbox: JiraSandbox, request, body) -> web.Response:
    return web.json_response(sandbox.state.account)


def _create_issue(sandbox: JiraSandbox, request, body) -> web.Response:
    issue = sandbox.state.create_issue(body)
    return web.json_response(
        {"id": issue.id, "key": issue.key, "self": f"{base_url(request)}{API}/issue/{issue.id}"},
        status=201,
    )


def _get_issue(sandbox: JiraSandbox, request, body) -> web.Response:
    issue = sandbox.state.issue(request.path.split("/")[5])
    properties = [p for p in request.query.get("properties", "").split(",") if p]
    return web.json_response(sandbox.issue_json(base_url(request), issue, properties))


def _add_comment(sandbox: JiraSandbox, request, body) -> web.Response:
    comment = sandbox.state.add_comment(request.path.split("/")[5], body)
    public = {key: value for key, value in comment.items() if key != "properties"}
    return web.json_response({**public, "self": comment_url(sandbox, request, comment)}, status=201)


def _list_comments(sandbox: JiraSandbox, request, body) -> web.Response:
    issue = sandbox.state.issue(request.path.split("/")[5])
    expand = "properties" in request.query.get("expand", "").split(",")
    comments = [
        {**{k: v for k, v in c.items() if k != "properties"},
         **({"properties": [{"key": k, "value": v} for k, v in c["properties"].items()]}
            if expand else {})}
        for c in issue.comments
    ]  # fmt: skip
    return web.json_response(
        {"startAt": 0, "maxResults": 5000, "total": len(comments), "comments": comments}
    )


def comment_url(sandbox: JiraSandbox, request, comment: dict) -> str:
    return f"{base_url(request)}{request.path}/{comment['id']}"


def base_url(request: web.Request) -> str:
    """Where the caller reached us: the sandbox may be mounted by someone else's server."""
    return f"{request.scheme}://{request.host}"


def _list_transitions(sandbox: JiraSandbox, request, body) -> web.Response:
    sandbox.state.issue(request.path.split("/")[5])
    transitions = [
        {"id": tid, "name": name, "to": {"name": name, "id": STATUSES[name]}}
        for tid, name in TRANSITIONS.items()
    ]
    return web.json_response({"transitions": transitions})


def _transition(sandbox: JiraSandbox, request, body) -> web.Response:
    sandbox.state.transition(request.path.split("/")[5], body)
    return web.Response(status=204)


def _search(sandbox: JiraSandbox, request, body) -> web.Response:
    jql = body.get("jql") if isinstance(body, dict) else None
    if not isinstance(jql, str) or not jql.strip():
        raise JiraInputError(messages=["The JQL query is required."])
    issues = [sandbox.issue_json(base_url(request), issue) for issue in sandbox.state.search(jql)]
    return web.json_response({"issues": issues, "isLast": True})


def make_app() -> web.Application:
    """A sandbox holding the demo's issue, as an aiohttp application (for a server that hosts
    demo sandboxes)."""
    sandbox = JiraSandbox()
    sandbox.state.add_issue(DEMO_ISSUE, "Webhook retries create duplicate runs")
    app = sandbox.app()
    app["sandbox"] = sandbox
    return app


ROUTES = {
    "myself": _myself,
    "create_issue": _create_issue,
    "get_issue": _get_issue,
    "add_comment": _add_comment,
    "list_comments": _list_comments,
    "list_transitions": _list_transitions,
    "transition": _transition,
    "search": _search,
}
