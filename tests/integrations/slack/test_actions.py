"""slack.post_message against the fake Slack Web API (a real local server)."""

import pytest

from orchestrator.workflows.actions import ActionError

POST = "chat.postMessage"


async def test_post_message_answers_channel_id_and_ts(run_action, fake_platforms):
    output = await run_action("slack.post_message", {"channel": "#eng", "text": "hello"})
    (call,) = fake_platforms.calls("slack", POST)
    (created,) = fake_platforms.created("slack")
    assert output == {"channel": created["item"]["channel"], "ts": created["item"]["ts"]}
    assert output["channel"].startswith("C")
    assert call.headers["Authorization"] == f"Bearer {fake_platforms.SLACK_TOKEN}"
    assert call.json["text"] == "hello"
    assert call.json["metadata"]["event_payload"]["idempotency_key"] == "run-1-step"


async def test_post_message_to_unknown_channel_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#nowhere", "text": "x"})
    assert caught.value.permanent
    assert "channel_not_found" in str(caught.value)


async def test_post_message_without_text_or_blocks_is_refused_before_calling(
    run_action, fake_platforms
):
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng"})
    assert caught.value.permanent
    assert "needs text or blocks" in str(caught.value)
    assert fake_platforms.calls("slack") == []


async def test_rate_limit_answers_transient_error_with_retry_after(run_action, fake_platforms):
    fake_platforms.rate_limit_next("slack", 1, retry_after=3)
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert not caught.value.permanent
    assert caught.value.retry_after == 3
    assert fake_platforms.created("slack") == []


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_error_is_transient(run_action, fake_platforms, status):
    fake_platforms.fail_next("slack", 1, status=status)
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert not caught.value.permanent
    assert caught.value.status == status


async def test_retry_after_a_lost_answer_does_not_post_twice(run_action, fake_platforms):
    first = await run_action("slack.post_message", {"channel": "#eng", "text": "once"})
    again = await run_action("slack.post_message", {"channel": "#eng", "text": "once"}, attempt=2)
    assert again == first
    assert len(fake_platforms.created("slack")) == 1
    assert fake_platforms.duplicates() == {}


async def test_retry_that_never_posted_posts_now(run_action, fake_platforms):
    output = await run_action("slack.post_message", {"channel": "#eng", "text": "x"}, attempt=3)
    assert [m["item"]["ts"] for m in fake_platforms.created("slack")] == [output["ts"]]


async def test_slow_answer_times_out_as_transient_error(run_action, fake_platforms, settings):
    settings.PLATFORM_HTTP_TIMEOUT = 0.2
    fake_platforms.set_delay("slack", 1.0)
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


async def test_wrong_token_is_permanent(run_action, fake_platforms, settings):
    settings.SLACK_BOT_TOKEN = "xoxb-not-the-right-one"
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert caught.value.permanent
    assert "invalid_auth" in str(caught.value)


async def test_missing_token_fails_without_calling(run_action, fake_platforms, settings):
    settings.SLACK_BOT_TOKEN = ""
    with pytest.raises(ActionError, match="SLACK_BOT_TOKEN is not set"):
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert fake_platforms.calls("slack") == []


async def test_retry_to_a_named_channel_after_a_transient_failure_posts_once(
    run_action, fake_platforms
):
    fake_platforms.fail_next("slack", 1, status=503, name=POST)
    with pytest.raises(ActionError) as caught:
        await run_action("slack.post_message", {"channel": "#eng", "text": "x"})
    assert not caught.value.permanent
    output = await run_action("slack.post_message", {"channel": "#eng", "text": "x"}, attempt=2)
    [message] = fake_platforms.created("slack")
    assert output == {"channel": message["item"]["channel"], "ts": message["item"]["ts"]}
    # The name was resolved through conversations.list; history was read by id only.
    history = fake_platforms.calls("slack", "conversations.history")
    assert [call.json["channel"] for call in history] == [output["channel"]]
    assert [call.status for call in fake_platforms.calls("slack")][1:] == [200, 200, 200]


async def test_retry_finds_its_post_past_the_newest_page_of_history(run_action, fake_platforms):
    first = await run_action("slack.post_message", {"channel": "#eng", "text": "mine"}, key="k0")
    for n in range(1, 251):  # 250 newer messages push it past the first page of 200
        await run_action("slack.post_message", {"channel": "#eng", "text": "other"}, key=f"k{n}")
    again = await run_action("slack.post_message", {"channel": "#eng", "text": "mine"},
                             attempt=2, key="k0")  # fmt: skip
    assert again == first
    assert len(fake_platforms.calls("slack", "conversations.history")) == 2
    assert fake_platforms.duplicates() == {}


async def test_channel_names_are_resolved_once_then_cached(run_action, fake_platforms):
    for attempt in (2, 3):
        await run_action("slack.post_message", {"channel": "#general", "text": "x"},
                         attempt=attempt, key=f"k{attempt}")  # fmt: skip
    assert len(fake_platforms.calls("slack", "conversations.list")) == 1


async def test_retry_to_a_channel_id_skips_the_name_lookup(run_action, fake_platforms):
    channel_id = fake_platforms.state.channel_id("eng")
    await run_action("slack.post_message", {"channel": channel_id, "text": "x"}, attempt=2)
    assert fake_platforms.calls("slack", "conversations.list") == []
    assert len(fake_platforms.created("slack")) == 1
