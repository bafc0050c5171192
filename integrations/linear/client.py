"""Async Linear GraphQL client: pooled per event loop, breaker-guarded, cached team lookups.

Base URL and key come from LINEAR_API_URL and LINEAR_API_KEY. Linear reports most errors in
the GraphQL `errors` list; rate limits answer HTTP 400 with code RATELIMITED and the reset
time in epoch milliseconds (X-RateLimit-Requests-Reset).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from orchestrator.core import cache
from orchestrator.core.http import Answer, PlatformClient, PlatformError, error_message, session_for

PERMANENT_CODES = {
    "INVALID_INPUT",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "AUTHENTICATION_ERROR",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "USAGE_LIMIT_EXCEEDED",
}

ISSUE_FIELDS = "id identifier url title"
ISSUE_CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    f"{{ issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}"
)
ISSUE_BY_ID = f"query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}"
COMMENT_CREATE = (
    "mutation CommentCreate($input: CommentCreateInput!) "
    "{ commentCreate(input: $input) { success comment { id url } } }"
)
COMMENT_BY_ID = "query Comment($id: String!) { comment(id: $id) { id url } }"
TEAMS = "query Teams($key: String) { teams(filter: {key: {eq: $key}}) { nodes { id key name } } }"


class LinearIssue(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    identifier: str
    url: str
    title: str = ""


class LinearComment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    url: str = ""


class LinearClient(PlatformClient):
    platform = "linear"

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict:
        answer = await self.call("POST", "", json={"query": query, "variables": variables})
        return answer.data["data"]

    def check(self, answer: Answer) -> PlatformError | None:
        errors = answer.data.get("errors") if isinstance(answer.data, dict) else None
        if not errors:
            return super().check(answer)
        code = ((errors[0] or {}).get("extensions") or {}).get("code", "")
        message = f"linear: {error_message(answer.data)}" + (f" ({code})" if code else "")
        if code == "RATELIMITED":
            return PlatformError(message, retry_after=reset_seconds(answer.headers), status=429)
        if code in PERMANENT_CODES or answer.status in (400, 401, 403):
            return PlatformError(message, permanent=True, status=answer.status)
        return PlatformError(message, status=answer.status, outage=True)

    async def create_issue(self, fields: dict[str, Any]) -> LinearIssue:
        data = await self.graphql(ISSUE_CREATE, {"input": fields})
        return LinearIssue.model_validate(data["issueCreate"]["issue"])

    async def issue(self, issue_id: str) -> LinearIssue | None:
        """The issue with this id or identifier, or None when there is none."""
        data = await self.find(ISSUE_BY_ID, issue_id)
        return LinearIssue.model_validate(data["issue"]) if data.get("issue") else None

    async def comment(self, comment_id: str) -> LinearComment | None:
        data = await self.find(COMMENT_BY_ID, comment_id)
        return LinearComment.model_validate(data["comment"]) if data.get("comment") else None

    async def find(self, query: str, entity_id: str) -> dict:
        """Run a by-id query; an "Entity not found" answer is an empty result, not an error."""
        try:
            return await self.graphql(query, {"id": entity_id})
        except PlatformError as exc:
            if exc.permanent and "not found" in str(exc).lower():
                return {}
            raise

    async def create_comment(self, fields: dict[str, Any]) -> LinearComment:
        data = await self.graphql(COMMENT_CREATE, {"input": fields})
        return LinearComment.model_validate(data["commentCreate"]["comment"])

    async def team_id(self, key: str | None) -> str:
        """The id of the team with this key (cached), or of the only team when key is None."""

        async def fetch(stale: cache.Entry | None) -> cache.Entry:
            nodes = (await self.graphql(TEAMS, {"key": key}))["teams"]["nodes"]
            return cache.Entry([node["id"] for node in nodes])

        ids = await cache.lookup(f"linear:team:{settings.LINEAR_API_URL}:{key or '*'}", fetch)
        if len(ids) == 1:
            return ids[0]
        problem = f"has no team {key!r}" if key else "has several teams: name one (LINEAR_TEAM)"
        raise PlatformError(f"linear: the workspace {problem}", permanent=True)


def reset_seconds(headers: dict[str, str]) -> float | None:
    """Seconds until Linear's request budget resets (its header is epoch milliseconds)."""
    for name in ("X-RateLimit-Requests-Reset", "X-RateLimit-Complexity-Reset"):
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
        if value and value.isdigit():
            return max(int(value) / 1000 - time.time(), 0.0)
    return None


async def linear() -> LinearClient:
    """The running loop's Linear client."""
    if not settings.LINEAR_API_KEY:
        raise PlatformError("linear: LINEAR_API_KEY is not set", permanent=True)
    key = settings.LINEAR_API_KEY
    # Personal API keys go bare; OAuth access tokens as Bearer.
    headers = {"Authorization": key if key.startswith("lin_api_") else f"Bearer {key}"}
    session = await session_for("linear", settings.LINEAR_API_URL, headers)
    return LinearClient(session, settings.LINEAR_API_URL)
