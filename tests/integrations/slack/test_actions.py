"""slack.post_message against the fake Slack Web API."""

import pytest

from orchestrator.workflows.actions import ActionError


async def test_post_message_answers_channel_id_and_ts(run_action, fake_platforms):
    output = await run_action("slack.post_message", {"channel": "#eng", "text": "hello"})
    (call,) = fake_platforms.calls("slack", "chat.postMessage")
    assert output == {"channel": "C00000001", "ts": call_ts(fake_platforms)}
    assert call.headers["Authorization"] == f"Bearer {fake_platforms.SLACK_TOKEN}"
    assert call.json["metadata"]["event_payload"]["idempotency_key"] == "run-1-step"


def call_ts(fake):
    return fake.created("slack")[0]["item"]["ts"]
