"""Slack workflow actions.

Idempotency: chat.postMessage has no idempotency key, so each message carries the step's key
in its message metadata (`event_type: contexten_step`). On a retry (attempt > 1) the action
first reads the channel's recent history with metadata and answers the message already
posted, if any, instead of posting it twice.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field, model_validator

from extensions.api import ActionContext, action
from integrations.slack.client import slack

METADATA_EVENT = "contexten_step"
HISTORY_WINDOW_S = 24 * 3600


class PostMessageInput(BaseModel):
    channel: str = Field(min_length=1, description="channel id or #name")
    text: str | None = None
    blocks: list[dict] | None = None
    thread_ts: str | None = None
    unfurl_links: bool | None = None

    @model_validator(mode="after")
    def _text_or_blocks(self):
        if not self.text and not self.blocks:
            raise ValueError("needs text or blocks")
        return self


@action("slack.post_message", input_model=PostMessageInput, platform="slack")
async def post_message(params: PostMessageInput, context: ActionContext) -> dict:
    """Post a message; answer {"channel": channel id, "ts": message timestamp}."""
    client = await slack()
    key = context.idempotency_key
    if context.attempt > 1:
        posted = await find_posted(client, params.channel, key)
        if posted is not None:
            return posted
    fields = params.model_dump(exclude_none=True)
    fields["metadata"] = {
        "event_type": METADATA_EVENT,
        "event_payload": {"idempotency_key": key, "run_id": str(context.run_id),
                          "step_id": context.step_id},
    }  # fmt: skip
    message = await client.post_message(fields)
    return {"channel": message.channel, "ts": message.ts}


async def find_posted(client, channel: str, key: str) -> dict | None:
    """The message an earlier attempt of this step already posted, if Slack has it."""
    channel_id = (await client.channel(channel))["id"]
    oldest = f"{time.time() - HISTORY_WINDOW_S:.6f}"
    for message in await client.recent_messages(channel_id, oldest):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("idempotency_key") == key:
            return {"channel": channel_id, "ts": message["ts"]}
    return None
