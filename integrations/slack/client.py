"""Async Slack Web API client: pooled per event loop, breaker-guarded, cached channel ids.

Base URL and token come from SLACK_API_URL and SLACK_BOT_TOKEN. Slack answers most errors
with HTTP 200 and `{"ok": false, "error": "<code>"}`; rate limits answer 429 + Retry-After.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from orchestrator.core import cache
from orchestrator.core.http import Answer, PlatformClient, PlatformError, session_for

# Error codes that say Slack, not the request, is at fault: retry, and count as an outage.
JSON = {"Content-Type": "application/json; charset=utf-8"}
OUTAGE_CODES = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Conversation ids (public C…, private G…, direct D…); names are lower case, so never match.
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
LIST_PAGE = 200  # Slack recommends at most 200 per page
HISTORY_PAGE = 200
# How far back a retry looks for its own earlier post: 50 pages of 200 messages.
HISTORY_MAX_PAGES = 50


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

    async def find_message(self, channel_id: str, oldest: str, matches) -> dict | None:
        """The newest message in the channel since `oldest` for which `matches(message)` is
        true, paging conversations.history (metadata included) past the newest page."""
        cursor = ""
        for _ in range(HISTORY_MAX_PAGES):
            page = {"cursor": cursor} if cursor else {}
            data = await self.read("conversations.history", channel=channel_id, oldest=oldest,
                                   limit=HISTORY_PAGE, include_all_metadata=True,
                                   **page)  # fmt: skip
            found = next((m for m in data.get("messages", []) if matches(m)), None)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if found is not None or not cursor:
                return found
        return None

    async def channel_id(self, ref: str) -> str | None:
        """The conversation id for `ref`: an id as it is, a `#name` through conversations.list
        (paged, then cached in both levels). None when no channel has that name.

        Slack's conversations.info and .history take an id only; a name answers
        channel_not_found there, so every read by channel goes through this first.
        """
        if CHANNEL_ID.match(ref):
            return ref
        name = ref.removeprefix("#")

        async def fetch(stale: cache.Entry | None) -> cache.Entry:
            found = await self._list_channel_id(name)
            if found is None:
                raise ChannelNotFound(name)  # not cached: the channel may be created later
            return cache.Entry(found)

        try:
            return await cache.lookup(f"slack:channel-id:{settings.SLACK_API_URL}:{name}", fetch)
        except ChannelNotFound:
            return None

    async def _list_channel_id(self, name: str) -> str | None:
        cursor = ""
        while True:
            page = {"cursor": cursor} if cursor else {}
            data = await self.read("conversations.list", limit=LIST_PAGE, exclude_archived=True,
                                   types="public_channel,private_channel", **page)  # fmt: skip
            found = next((c["id"] for c in data.get("channels", []) if c.get("name") == name), None)
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
            if found is not None or not cursor:
                return found


class ChannelNotFound(LookupError):
    pass


async def slack() -> SlackClient:
    """The running loop's Slack client."""
    if not settings.SLACK_BOT_TOKEN:
        raise PlatformError("slack: SLACK_BOT_TOKEN is not set", permanent=True)
    headers = {"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"}
    session = await session_for("slack", settings.SLACK_API_URL, headers)
    return SlackClient(session, settings.SLACK_API_URL)
