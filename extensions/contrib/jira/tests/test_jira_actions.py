"""Jira actions against the sandbox: ADF bodies, idempotent retries, errors classified."""

import pytest
from extensions.api import ActionContext, ActionError

from contexten_jira import actions
from contexten_jira.actions import idempotency_label

# The client goes through the `jira` circuit breaker, whose state is in the database here.
pytestmark = pytest.mark.usefixtures("breakers")


async def run(spec, params: dict, config: dict, *, attempt: int = 1, key: str = "run-7-ticket"):
    context = ActionContext(run_id=7, step_id="ticket", attempt=attempt, idempotency_key=key,
                            config=config, extension="jira", extension_version="1.0.0")  # fmt: skip
    return await spec.handler(spec.input_model.model_validate(params), context)


async def test_create_issue_sends_adf_description_label_and_hidden_property(sandbox, jira_config):
    params = {"summary": "Deploy failed", "description": "Line one\nline two\n\nNext paragraph"}
    out = await run(actions.create_issue, params, jira_config)
    [issue] = sandbox.issues()
    assert out == {"id": issue.id, "key": "ENG-1", "url": f"{sandbox.url}/browse/ENG-1"}
    assert issue.fields["issuetype"]["name"] == "Task"
    assert [block["type"] for block in issue.fields["description"]["content"]] == ["paragraph"] * 2
    assert idempotency_label("run-7-ticket") in issue.fields["labels"]
    assert issue.properties["contexten"]["idempotency_key"] == "run-7-ticket"


async def test_create_issue_retry_after_a_lost_answer_finds_the_first_issue(sandbox, jira_config):
    first = await run(actions.create_issue, {"summary": "Once"}, jira_config)
    again = await run(actions.create_issue, {"summary": "Once"}, jira_config, attempt=2)
    assert again == first
    assert len(sandbox.issues()) == 1
    assert len(sandbox.calls("create_issue")) == 1


async def test_create_issue_other_step_keys_make_other_issues(sandbox, jira_config):
    await run(actions.create_issue, {"summary": "A"}, jira_config, key="run-1-a")
    await run(actions.create_issue, {"summary": "B"}, jira_config, key="run-1-b", attempt=2)
    assert [issue.key for issue in sandbox.issues()] == ["ENG-1", "ENG-2"]


async def test_create_issue_bad_input_is_permanent_with_jiras_field_messages(sandbox, jira_config):
    params = {"summary": "x", "project": "NOPE", "issue_type": "Saga"}
    with pytest.raises(ActionError) as caught:
        await run(actions.create_issue, params, jira_config)
    assert caught.value.permanent and caught.value.status == 400
    assert "project: Specify a valid project ID or key" in str(caught.value)
    assert "issuetype: Specify a valid issue type" in str(caught.value)


async def test_label_with_a_space_is_refused_by_jira_and_permanent(sandbox, jira_config):
    with pytest.raises(ActionError, match="contains spaces") as caught:
        await run(actions.create_issue, {"summary": "x", "labels": ["two words"]}, jira_config)
    assert caught.value.permanent


async def test_bad_api_token_is_permanent_401(sandbox, jira_config):
    with pytest.raises(ActionError, match="HTTP 401") as caught:
        await run(actions.create_issue, {"summary": "x"}, {**jira_config, "api_token": "wrong"})
    assert caught.value.permanent


async def test_rate_limit_is_transient_with_jiras_retry_after(sandbox, jira_config):
    sandbox.rate_limit_next(1, retry_after=7)
    with pytest.raises(ActionError) as caught:
        await run(actions.create_issue, {"summary": "x"}, jira_config)
    assert (caught.value.permanent, caught.value.retry_after, caught.value.status) == (
        False,
        7,
        429,
    )


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_transient(sandbox, jira_config, status):
    sandbox.fail_next(1, status=status)
    with pytest.raises(ActionError) as caught:
        await run(actions.create_issue, {"summary": "x"}, jira_config)
    assert not caught.value.permanent and caught.value.status == status
    assert sandbox.issues() == []


async def test_unreachable_jira_is_transient(jira_config):
    config = {**jira_config, "base_url": "http://127.0.0.1:9"}
    with pytest.raises(ActionError, match="ClientConnectorError") as caught:
        await run(actions.create_issue, {"summary": "x"}, config)
    assert not caught.value.permanent


async def test_missing_configuration_names_the_fields(jira_config):
    config = {**jira_config, "email": "", "api_token": None}
    with pytest.raises(ActionError, match=r"config\.jira\.email, config\.jira\.api_token not set"):
        await run(actions.create_issue, {"summary": "x"}, config)


async def test_add_comment_is_adf_and_a_retry_finds_the_earlier_comment(sandbox, jira_config):
    await run(actions.create_issue, {"summary": "Host"}, jira_config)
    first = await run(actions.add_comment, {"issue": "ENG-1", "body": "Seen"}, jira_config)
    again = await run(actions.add_comment, {"issue": "ENG-1", "body": "Seen"}, jira_config,
                      attempt=2)  # fmt: skip
    [issue] = sandbox.issues()
    assert again == first and len(issue.comments) == 1
    assert issue.comments[0]["body"]["content"][0]["content"] == [{"type": "text", "text": "Seen"}]
    assert first["url"].endswith(f"/browse/ENG-1?focusedCommentId={first['id']}")


async def test_comment_on_a_missing_issue_is_permanent_404(sandbox, jira_config):
    with pytest.raises(ActionError, match="Issue does not exist") as caught:
        await run(actions.add_comment, {"issue": "ENG-404", "body": "x"}, jira_config)
    assert caught.value.permanent and caught.value.status == 404


async def test_transition_moves_once_and_is_a_no_op_when_already_there(sandbox, jira_config):
    await run(actions.create_issue, {"summary": "Work"}, jira_config)
    moved = await run(actions.transition_issue, {"issue": "ENG-1", "status": "in progress"},
                      jira_config)  # fmt: skip
    again = await run(actions.transition_issue, {"issue": "ENG-1", "status": "In Progress"},
                      jira_config, attempt=2)  # fmt: skip
    assert moved == {"issue": "ENG-1", "status": "In Progress", "changed": True}
    assert again == {"issue": "ENG-1", "status": "In Progress", "changed": False}
    assert len(sandbox.calls("transition")) == 1


async def test_transition_to_an_unknown_status_names_the_reachable_ones(sandbox, jira_config):
    await run(actions.create_issue, {"summary": "Work"}, jira_config)
    with pytest.raises(ActionError, match="can move to: Done, In Progress, To Do") as caught:
        await run(actions.transition_issue, {"issue": "ENG-1", "status": "Shipped"}, jira_config)
    assert caught.value.permanent
