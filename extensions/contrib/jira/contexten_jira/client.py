"""An async client for the parts of Jira Cloud's REST API v3 the actions use.

Built on the host's pooled client base (`extensions.api.PlatformClient`): one session per
event loop sized by `JIRA_POOL_MAX`, the `jira` circuit breaker around every call, and
`Retry-After` honoured. Auth is Basic `email:api_token` (Atlassian API tokens). Errors are
one `PlatformError`: 400/401/403/404 are permanent, in Jira's own words (`errorMessages` and
field `errors`); 408, 409, 425, 429 and 5xx are transient, and a 429 carries `Retry-After`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from extensions.api import (
    ActionError,
    PlatformAnswer,
    PlatformClient,
    PlatformError,
    retry_after_seconds,
    session_for,
)
from pydantic import BaseModel, ConfigDict

from ._version import VERSION

API = "/rest/api/3"
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

    def headers(self) -> dict[str, str]:
        pair = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        return {
            "Authorization": f"Basic {pair}",
            "Accept": "application/json",
            "User-Agent": f"contexten-jira/{VERSION}",
        }


class JiraClient(PlatformClient):
    """One Jira site, through the running loop's pooled `jira` session."""

    platform = "jira"

    def browse_url(self, key: str) -> str:
        return f"{self.base_url.removesuffix(API)}/browse/{key}"

    def check(self, answer: PlatformAnswer) -> PlatformError | None:
        """Jira's error answer as one PlatformError: permanent unless retrying can help."""
        if answer.status < 400:
            return None
        message = f"jira answered HTTP {answer.status}: {jira_message(answer.data)}"
        if answer.status in TRANSIENT_STATUSES:
            retry_after = retry_after_seconds(answer.headers)
            return PlatformError(message, retry_after=retry_after, status=answer.status,
                                 outage=answer.status >= 500)  # fmt: skip
        return PlatformError(message, permanent=True, status=answer.status)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return (await self.call(method, path, **kwargs)).data

    async def myself(self) -> dict:
        return await self.json("GET", "/myself")

    async def create_issue(self, fields: dict, properties: list[dict]) -> JiraIssue:
        body = {"fields": fields, "properties": properties}
        return JiraIssue.model_validate(await self.json("POST", "/issue", json=body))

    async def issue(self, key: str, fields: str = "status") -> JiraIssue:
        return JiraIssue.model_validate(await self.json("GET", f"/issue/{key}?fields={fields}"))

    async def search(self, jql: str) -> list[JiraIssue]:
        body = {"jql": jql, "fields": ["summary", "labels"], "maxResults": 2}
        answer = await self.json("POST", "/search/jql", json=body)
        return [JiraIssue.model_validate(item) for item in answer.get("issues", [])]

    async def add_comment(self, key: str, body: dict, properties: list[dict]) -> JiraComment:
        payload = {"body": body, "properties": properties}
        return JiraComment.model_validate(
            await self.json("POST", f"/issue/{key}/comment", json=payload)
        )

    async def comments(self, key: str) -> list[JiraComment]:
        answer = await self.json("GET", f"/issue/{key}/comment?expand=properties&maxResults=5000")
        return [JiraComment.model_validate(item) for item in answer.get("comments", [])]

    async def transitions(self, key: str) -> list[dict]:
        return (await self.json("GET", f"/issue/{key}/transitions")).get("transitions", [])

    async def transition(self, key: str, transition_id: str) -> None:
        body = {"transition": {"id": transition_id}}
        await self.call("POST", f"/issue/{key}/transitions", json=body)


def jira_message(data: Any) -> str:
    """`errorMessages` and field `errors` in one line, in Jira's own words."""
    if not isinstance(data, dict):
        return "no details" if data is None else str(data)[:200]
    parts = [str(message) for message in data.get("errorMessages") or []]
    parts += [f"{name}: {text}" for name, text in (data.get("errors") or {}).items()]
    return "; ".join(parts) or "no details"


async def jira_client(config: dict[str, Any]) -> JiraClient:
    """The running loop's client for the configured site."""
    credentials = Credentials.from_config(config)
    base_url = credentials.base_url + API
    session = await session_for("jira", base_url, credentials.headers())
    return JiraClient(session, base_url)
