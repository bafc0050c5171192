"""linear.create_issue and linear.create_comment against the fake Linear GraphQL API."""

import uuid

import pytest

from integrations.linear.actions import client_id
from orchestrator.workflows.actions import ActionError


async def test_create_issue_answers_id_identifier_and_url(run_action, fake_platforms):
    output = await run_action("linear.create_issue", {"title": "Review PR #7"})
    assert output["identifier"] == "ENG-1"
    assert output["url"].startswith("https://linear.app/")
    assert output["id"] == client_id("run-1-step", "issue")
    (call,) = fake_platforms.calls("linear", "issueCreate")
    assert call.headers["Authorization"] == fake_platforms.LINEAR_KEY
    assert call.json["variables"]["input"]["title"] == "Review PR #7"


def test_client_id_is_a_stable_uuid_per_key():
    assert client_id("run-1-a", "issue") == client_id("run-1-a", "issue")
    assert client_id("run-1-a", "issue") != client_id("run-1-b", "issue")
    assert uuid.UUID(client_id("run-1-a", "issue")).version == 5


async def test_retry_after_a_lost_answer_answers_the_same_issue(run_action, fake_platforms):
    first = await run_action("linear.create_issue", {"title": "T"})
    again = await run_action("linear.create_issue", {"title": "T"}, attempt=2)
    assert again == first
    assert len(fake_platforms.created("linear")) == 1


async def test_team_key_picks_that_team(run_action, fake_platforms):
    fake_platforms.add_team("OPS", "Operations")
    output = await run_action("linear.create_issue", {"title": "T", "team": "OPS"})
    assert output["identifier"] == "OPS-1"


async def test_unknown_team_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError) as caught:
        await run_action("linear.create_issue", {"title": "T", "team": "NOPE"})
    assert caught.value.permanent
    assert "no team 'NOPE'" in str(caught.value)


async def test_several_teams_without_a_default_is_permanent(run_action, fake_platforms):
    fake_platforms.add_team("OPS", "Operations")
    with pytest.raises(ActionError, match="several teams") as caught:
        await run_action("linear.create_issue", {"title": "T"})
    assert caught.value.permanent


async def test_rate_limited_answers_retry_after_from_reset_header(run_action, fake_platforms):
    fake_platforms.rate_limit_next("linear", 1, retry_after=4)
    with pytest.raises(ActionError) as caught:
        await run_action("linear.create_issue", {"title": "T"})
    assert not caught.value.permanent
    assert 2 < caught.value.retry_after <= 4


async def test_server_error_is_transient(run_action, fake_platforms):
    fake_platforms.fail_next("linear", 1, status=502)
    with pytest.raises(ActionError) as caught:
        await run_action("linear.create_issue", {"title": "T"})
    assert not caught.value.permanent
    assert caught.value.status == 502


async def test_wrong_key_is_permanent(run_action, fake_platforms, settings):
    settings.LINEAR_API_KEY = "lin_api_wrong"
    with pytest.raises(ActionError) as caught:
        await run_action("linear.create_issue", {"title": "T"})
    assert caught.value.permanent
    assert "AUTHENTICATION_ERROR" in str(caught.value)


async def test_create_comment_by_identifier(run_action, fake_platforms):
    issue = await run_action("linear.create_issue", {"title": "T"}, key="run-1-ticket")
    output = await run_action(
        "linear.create_comment", {"issue_id": issue["identifier"], "body": "Merged"}
    )
    assert output["id"] == client_id("run-1-step", "comment")
    assert output["url"].startswith(issue["url"])


async def test_comment_retry_after_a_lost_answer_does_not_comment_twice(run_action, fake_platforms):
    issue = await run_action("linear.create_issue", {"title": "T"}, key="run-1-ticket")
    params = {"issue_id": issue["id"], "body": "once"}
    first = await run_action("linear.create_comment", params)
    again = await run_action("linear.create_comment", params, attempt=2)
    assert again == first
    assert len([c for c in fake_platforms.created("linear") if c["kind"] == "comment"]) == 1


async def test_comment_on_unknown_issue_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError) as caught:
        await run_action("linear.create_comment", {"issue_id": "ENG-999", "body": "x"})
    assert caught.value.permanent
