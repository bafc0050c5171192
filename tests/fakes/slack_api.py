"""The fake Slack Web API: chat.postMessage, auth.test, conversations.info and .list.

Like Slack, errors answer HTTP 200 with `{"ok": false, "error": "<code>"}`; only rate
limits (429 + Retry-After) and outages use other statuses.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.platforms import Call, FakePlatforms

BOT = {"user_id": "U0BOTFAKE", "bot_id": "B0BOTFAKE", "team_id": "T0ACMEFAKE"}


def rate_limited(_limits, retry_after: float) -> web.Response:
    response = web.json_response({"ok": False, "error": "ratelimited"}, status=429)
    response.headers["Retry-After"] = str(max(int(retry_after), 0))
    return response


def handle(fake: FakePlatforms, call: Call, headers) -> web.Response:
    params = {**call.query, **(call.json if isinstance(call.json, dict) else {})}
    token = headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
    if not token:
        return _fail("not_authed")
    if token != fake.SLACK_TOKEN:
        return _fail("invalid_auth")
    handler = HANDLERS.get(call.name)
    if handler is None:
        return _fail("unknown_method", status=404)
    return handler(fake.state, params)


def _ok(**fields: Any) -> web.Response:
    response = web.json_response({"ok": True, **fields})
    response.headers["X-Slack-Req-Id"] = f"fake-{time.monotonic_ns():x}"
    return response


def _fail(error: str, status: int = 200) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def _post_message(state, params) -> web.Response:
    channel_id = state.channel_id(str(params.get("channel") or ""))
    if channel_id is None:
        return _fail("channel_not_found")
    if not params.get("text") and not params.get("blocks"):
        return _fail("no_text")
    metadata = _metadata(params.get("metadata"))
    if metadata is False:
        return _fail("invalid_metadata_format")
    ts = f"{int(time.time())}.{next(state.slack_ts):06d}"
    message = {
        "type": "message",
        "subtype": "bot_message",
        "text": params.get("text", ""),
        "user": BOT["user_id"],
        "bot_id": BOT["bot_id"],
        "ts": ts,
        "team": BOT["team_id"],
    }
    if params.get("thread_ts"):
        message["thread_ts"] = params["thread_ts"]
    if metadata:
        message["metadata"] = metadata
    state.messages.append({"channel": channel_id, **message})
    key = ((metadata or {}).get("event_payload") or {}).get("idempotency_key")
    state.note_created("slack", "message", key, {"channel": channel_id, **message})
    return _ok(channel=channel_id, ts=ts, message=message)


def _metadata(raw) -> dict | bool | None:
    """Form posts send metadata as a JSON string; False means malformed."""
    if raw in (None, ""):
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return False
    if not isinstance(raw, dict) or "event_type" not in raw:
        return False
    return raw


def _auth_test(state, params) -> web.Response:
    return _ok(url="https://acme.slack.com/", team="Acme", user="contexten", bot_id=BOT["bot_id"],
               user_id=BOT["user_id"], team_id=BOT["team_id"])  # fmt: skip


def _conversation(channel_id: str, name: str) -> dict:
    return {"id": channel_id, "name": name, "is_channel": True, "is_member": True,
            "is_archived": False, "created": 1_700_000_000}  # fmt: skip


def _conversations_info(state, params) -> web.Response:
    channel_id = state.channel_id(str(params.get("channel") or ""))
    if channel_id is None:
        return _fail("channel_not_found")
    return _ok(channel=_conversation(channel_id, state.channels[channel_id]))


def _conversations_list(state, params) -> web.Response:
    channels = [_conversation(cid, name) for cid, name in state.channels.items()]
    return _ok(channels=channels, response_metadata={"next_cursor": ""})


def _conversations_history(state, params) -> web.Response:
    channel_id = state.channel_id(str(params.get("channel") or ""))
    if channel_id is None:
        return _fail("channel_not_found")
    oldest = float(params.get("oldest") or 0)
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("true", "1")
    messages = [
        {k: v for k, v in m.items() if k != "channel" and (with_metadata or k != "metadata")}
        for m in reversed(state.messages)
        if m["channel"] == channel_id and float(m["ts"]) >= oldest
    ][: int(params.get("limit") or 100)]
    return _ok(messages=messages, has_more=False)


HANDLERS = {
    "conversations.history": _conversations_history,
    "chat.postMessage": _post_message,
    "auth.test": _auth_test,
    "conversations.info": _conversations_info,
    "conversations.list": _conversations_list,
}
