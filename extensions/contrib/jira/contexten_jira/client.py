"""An async client for the parts of Jira Cloud's REST API v3 the actions use.

Auth is Basic `email:api_token` (Atlassian API tokens). Errors become one `ActionError`:
400/401/403/404 are permanent (Jira's own words from `errorMessages` and `errors`, field by
field); 408, 409, 425, 429 and 5xx are transient, and a 429 carries `Retry-After` so the
engine waits as long as Jira asked.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from extensions.api import ActionError
from pydantic import BaseModel, ConfigDict

from ._version import VERSION

API = "/rest/api/3"
TIMEOUT_SECONDS = 30
TRANSIENT_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}


class JiraIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    key: str
    fields: dict[str, Any] = {}


class JiraComment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    properties: list[dict[str, Any]] = []


@dataclass(frozen=True)
class Credentials:
    """Where Jira is and who we are there, from the extension's configuration."""

    base_url: str
    email: str
    api_token: str

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Credentials:
        """Read and check the three fields; a missing one is a permanent error naming it."""
        values = {name: str(config.get(name) or "").strip() for name in cls.__annotations__}
        missing = [name for name, value in values.items() if not value]
        if missing:
            names = ", ".join(f"config.jira.{name}" for name in missing)
            raise ActionError(f"jira: {names} not set", permanent=True)
        if not values["base_url"].startswith(("http://", "https://")):
            raise ActionError("jira: config.jira.base_url must be an http(s) URL", permanent=True)
        values["base_url"] = values["base_url"].rstrip("/")
        return cls(**values)

    def authorization(self) -> str:
        pair = f"{self.email}:{self.api_token}".encode()
        return "Basic " + base64.b64encode(pair).decode()


class JiraClient:
    """One Jira site, one pooled aiohttp session per event loop."""

    def __init__(self, session: aiohttp.ClientSession, credentials: Credentials):
        self.session = session
        self.credentials = credentials

    def browse_url(self, key: str) -> str:
        return f"{self.credentials.base_url}/browse/{key}"

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; answer the decoded JSON or raise ActionError."""
        url = f"{self.credentials.base_url}{API}{path}"
        headers = {
            "Authorization": self.credentials.authorization(),
            "Accept": "application/json",
            "User-Agent": f"contexten-jira/{VERSION}",
        }
        try:
            async with self.session.request(method, url, headers=headers, **kwargs) as response:
                data = await response.json(content_type=None) if await response.read() else None
                status, response_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ActionError(f"jira {method} {path}: {type(exc).__name__}: {exc}") from None
        if status >= 400:
            raise status_error(method, path, status, response_headers, data)
        return data

    async def myself(self) -> dict:
        return await self.call("GET", "/myself")

    async def create_issue(self, fields: dict, properties: list[dict]) -> JiraIssue:
        created = await self.call(
            "POST", "/issue", json={"fields": fields, "properties": properties}
        )
        return JiraIssue.model_validate(created)

    async def issue(self, key: str, fields: str = "status") -> JiraIssue:
        return JiraIssue.model_validate(await self.call("GET", f"/issue/{key}?fields={fields}"))

    async def search(self, jql: str) -> list[JiraIssue]:
        body = {"jql": jql, "fields": ["summary", "labels"], "maxResults": 2}
        answer = await self.call("POST", "/search/jql", json=body)
        return [JiraIssue.model_validate(item) for item in answer.get("issues", [])]

    async def add_comment(self, key: str, body: dict, properties: list[dict]) -> JiraComment:
        answer = await self.call(
            "POST", f"/issue/{key}/comment", json={"body": body, "properties": properties}
        )
        return JiraComment.model_validate(answer)

    async def comments(self, key: str) -> list[JiraComment]:
        answer = await self.call("GET", f"/issue/{key}/comment?expand=properties&maxResults=5000")
        return [JiraComment.model_validate(item) for item in answer.get("comments", [])]

    async def transitions(self, key: str) -> list[dict]:
        return (await self.call("GET", f"/issue/{key}/transitions")).get("transitions", [])

    async def transition(self, key: str, transition_id: str) -> None:
        body = {"transition": {"id": transition_id}}
        await self.call("POST", f"/issue/{key}/transitions", json=body)


def status_error(method: str, path: str, status: int, headers, data: Any) -> ActionError:
    """Jira's error answer as one ActionError: permanent unless retrying can help."""
    message = f"jira {method} {path} answered HTTP {status}: {jira_message(data)}"
    if status in TRANSIENT_STATUSES:
        return ActionError(message, retry_after=retry_after(headers), status=status)
    return ActionError(message, permanent=True, status=status)


def jira_message(data: Any) -> str:
    """`errorMessages` and field `errors` in one line, in Jira's own words."""
    if not isinstance(data, dict):
        return "no details" if data is None else str(data)[:200]
    parts = [str(message) for message in data.get("errorMessages") or []]
    parts += [f"{name}: {text}" for name, text in (data.get("errors") or {}).items()]
    return "; ".join(parts) or "no details"


def retry_after(headers, now: float | None = None) -> float | None:
    """Seconds from `Retry-After` (seconds or an HTTP date); None when absent or unreadable."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(when.timestamp() - (time.time() if now is None else now), 0.0)


# --- sessions: one per event loop (a session is bound to the loop that made it) ----------
_sessions: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession]] = {}
POOL_MAX = 10


def new_session(limit: int = POOL_MAX, timeout: float = TIMEOUT_SECONDS) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def jira_client(config: dict[str, Any]) -> JiraClient:
    """The running loop's client for the configured site."""
    credentials = Credentials.from_config(config)
    loop = asyncio.get_running_loop()
    entry = _sessions.get(id(loop))
    if entry is None or entry[0] is not loop or entry[1].closed:
        for loop_id, (old_loop, _) in list(_sessions.items()):
            if old_loop.is_closed():
                del _sessions[loop_id]
        entry = _sessions[id(loop)] = (loop, new_session())
    return JiraClient(entry[1], credentials)
