"""Async Slack Web API client: pooled per event loop, breaker-guarded, cached channel lookups.

Base URL and token come from SLACK_API_URL and SLACK_BOT_TOKEN. Slack answers most errors
with HTTP 200 and `{"ok": false, "error": "<code>"}`; rate limits answer 429 + Retry-After.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from orchestrator.core import cache
from orchestrator.core.http import Answer, PlatformClient, PlatformError, session_for

# Error codes that say Slack, not the request, is at fault: retry, and count as an outage.
JSON = {"Content-Type": "application/json; charset=utf-8"}
OUTAGE_CODES = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class PostedMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    channel: str
    ts: str


class SlackClient(PlatformClient):
    platform = "slack"

    async def api(self, method: str, **params: Any) -> dict:
        """Call a Web API write method with a JSON body; answer the whole `ok` body."""
        answer = await self.call("POST", f"/{method}", data=json.dumps(params), headers=JSON)
        return answer.data

    async def read(self, method: str, **params: Any) -> dict:
        """Call a read method form-encoded (Slack refuses JSON bodies for some of them)."""
        form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
        return (await self.call("POST", f"/{method}", data=form)).data

    def check(self, answer: Answer) -> PlatformError | None:
        error = super().check(answer)
        if error is not None or not isinstance(answer.data, dict) or answer.data.get("ok"):
            return error
        code = str(answer.data.get("error", "unknown_error"))
        message = f"slack: {code}"
        if code == "ratelimited":
            return PlatformError(message, retry_after=1.0, status=429)
        if code in OUTAGE_CODES:
            return PlatformError(message, status=answer.status, outage=True)
        return PlatformError(message, permanent=True, status=answer.status)

    async def post_message(self, fields: dict[str, Any]) -> PostedMessage:
        return PostedMessage.model_validate(await self.api("chat.postMessage", **fields))

    async def recent_messages(self, channel: str, oldest: str = "0") -> list[dict]:
        """The channel's latest messages, metadata included (for finding our own posts)."""
        data = await self.read("conversations.history", channel=channel, oldest=oldest,
                              limit=100, include_all_metadata=True)  # fmt: skip
        return data.get("messages", [])

    async def channel(self, ref: str) -> dict:
        """The channel (by id or #name), from the two-level cache."""

        async def fetch(stale: cache.Entry | None) -> cache.Entry:
            return cache.Entry((await self.read("conversations.info", channel=ref))["channel"])

        return await cache.lookup(f"slack:channel:{settings.SLACK_API_URL}:{ref}", fetch)


async def slack() -> SlackClient:
    """The running loop's Slack client."""
    if not settings.SLACK_BOT_TOKEN:
        raise PlatformError("slack: SLACK_BOT_TOKEN is not set", permanent=True)
    headers = {"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"}
    session = await session_for("slack", settings.SLACK_API_URL, headers)
    return SlackClient(session, settings.SLACK_API_URL)
