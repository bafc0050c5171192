"""The fake Slack Web API: chat.postMessage, auth.test, conversations.info, .list, .history.

As strict as Slack where it matters:
- errors answer HTTP 200 with `{"ok": false, "error": "<code>"}`; only rate limits (429 +
  Retry-After) and outages use other statuses;
- chat.postMessage takes a channel id or `#name`, but conversations.info and .history take an
  id only (a name answers channel_not_found);
- conversations.list and .history page with `limit` and an opaque `cursor`
  (`response_metadata.next_cursor`), newest messages first, 100 per page unless asked.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from integrations.sandbox import Call, PlatformSandbox

BOT = {"user_id": "U0BOTFAKE", "bot_id": "B0BOTFAKE", "team_id": "T0ACMEFAKE"}


def rate_limited(_limits, retry_after: float) -> web.Response:
    response = web.json_response({"ok": False, "error": "ratelimited"}, status=429)
    response.headers["Retry-After"] = str(max(int(retry_after), 0))
    return response


def handle(fake: PlatformSandbox, call: Call, headers) -> web.Response:
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


def _channel_by_id(state, params) -> str | None:
    """Slack's conversations.* read methods take a conversation id only: a `#name` (or a bare
    name) answers channel_not_found there, even when a channel of that name exists."""
    ref = str(params.get("channel") or "")
    return ref if ref in state.channels else None


def _conversations_info(state, params) -> web.Response:
    channel_id = _channel_by_id(state, params)
    if channel_id is None:
        return _fail("channel_not_found")
    return _ok(channel=_conversation(channel_id, state.channels[channel_id]))


def _page(items: list, params, default_limit: int, max_limit: int) -> tuple[list, str]:
    """Cursor paging as Slack does it: an opaque cursor, `next_cursor` empty on the last page."""
    try:
        limit = min(max(int(params.get("limit") or default_limit), 1), max_limit)
        start = (
            int(base64.b64decode(params["cursor"]).decode().removeprefix("next:"))
            if params.get("cursor")
            else 0
        )
    except (ValueError, UnicodeDecodeError):
        return [], "invalid_cursor"
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""


def _conversations_list(state, params) -> web.Response:
    channels = [_conversation(cid, name) for cid, name in state.channels.items()]
    chunk, cursor = _page(channels, params, default_limit=100, max_limit=1000)
    if cursor == "invalid_cursor":
        return _fail("invalid_cursor")
    return _ok(channels=chunk, response_metadata={"next_cursor": cursor})


def _conversations_history(state, params) -> web.Response:
    channel_id = _channel_by_id(state, params)
    if channel_id is None:
        return _fail("channel_not_found")
    oldest = float(params.get("oldest") or 0)
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("true", "1")
    messages = [
        {k: v for k, v in m.items() if k != "channel" and (with_metadata or k != "metadata")}
        for m in reversed(state.messages)
        if m["channel"] == channel_id and float(m["ts"]) >= oldest
    ]
    chunk, cursor = _page(messages, params, default_limit=100, max_limit=999)
    if cursor == "invalid_cursor":
        return _fail("invalid_cursor")
    return _ok(messages=chunk, has_more=bool(cursor), response_metadata={"next_cursor": cursor})


HANDLERS = {
    "conversations.history": _conversations_history,
    "chat.postMessage": _post_message,
    "auth.test": _auth_test,
    "conversations.info": _conversations_info,
    "conversations.list": _conversations_list,
}


# --- demo deliveries (`make run`'s event stream, integrations/demo_stream.py) -------------
def demo_delivery(secret: str, n: int) -> tuple[str, bytes, dict[str, str]]:
    """A signed `app_mention` in the sandbox's #eng, as Slack's Events API sends it."""
    from integrations.sandbox_state import PlatformState, demo_fixture, hmac_hex

    payload = demo_fixture("slack", "app_mention__default")
    now = time.time()
    payload["event_id"] = f"EvDEMO{time.time_ns()}"
    payload["event_time"] = int(now)
    event = payload["event"]
    event["channel"] = PlatformState().channel_id("#eng")
    event["ts"] = event["event_ts"] = f"{now:.6f}"
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(now))
    signed = b"v0:" + timestamp.encode() + b":" + body
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + hmac_hex(secret, signed),
    }
    return "/webhooks/slack/", body, headers
