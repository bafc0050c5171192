"""The example legacy module (old style, import changed) through the real pipeline: signed
webhooks into the event store, a real qcluster dispatching, the runner running the handlers."""

import asyncio
import json
import signal

import pytest

from orchestrator.workflows.models import Run
from tests.integrations.webhooks import (
    compact,
    github_headers,
    linear_body,
    linear_headers,
    load,
    post,
    slack_headers,
)
from tests.waiting import wait_until
from tests.workflows.test_end_to_end import start_qcluster, stop

pytestmark = pytest.mark.usefixtures("webhook_secrets")


@pytest.fixture
def worker(example_registered, subprocess_env, fake_platforms, webhook_secrets):
    env = subprocess_env | fake_platforms.env()
    env |= {
        "GITHUB_WEBHOOK_SECRET": webhook_secrets.GITHUB_WEBHOOK_SECRET,
        "LINEAR_WEBHOOK_SECRET": webhook_secrets.LINEAR_WEBHOOK_SECRET,
        "SLACK_SIGNING_SECRET": webhook_secrets.SLACK_SIGNING_SECRET,
    }
    process = start_qcluster(env)
    yield process
    stop(process, signal.SIGKILL)  # a graceful stop waits out the runner's lifetime


def finished_runs(workflow: str) -> list[Run]:
    return list(Run.objects.filter(workflow__name=workflow, status__in=["succeeded", "failed"]))


def mention_body() -> bytes:
    payload = load("slack", "app_mention__default")
    payload["event"]["channel"] = "#eng"
    return compact(payload)


def test_a_slack_retry_delivered_twice_runs_the_legacy_handler_once(
    client, worker, fake_platforms, api_client
):
    body = mention_body()
    first = post(client, "/slack/events", body, slack_headers(body))
    retry_headers = slack_headers(body) | {"HTTP_X_SLACK_RETRY_NUM": "1"}
    retry = post(client, "/slack/events", body, retry_headers)
    assert (first.status_code, retry.status_code) == (202, 200)
    assert retry.json()["duplicate"] is True
    wait_until(lambda: finished_runs("legacy-slack-app_mention"), 60, "the mention run")
    [run] = finished_runs("legacy-slack-app_mention")
    assert run.status == "succeeded", run.steps.values_list("error", flat=True)
    [reply] = fake_platforms.calls("slack", "chat.postMessage")
    assert reply.json["text"] == "Hi <@U061F7AUR>!"
    assert reply.json["thread_ts"] == "1764321302.000200"
    listed = api_client.get("/api/runs/?workflow=legacy-slack-app_mention").json()
    [step] = listed["results"][0]["steps"]
    assert (step["status"], step["output"]) == (
        "succeeded",
        {"result": {"replied_to": "U061F7AUR"}},
    )
    # The same worker, other platforms (one qcluster start serves all three).
    check_github_label_runs_every_handler_for_the_key(client, fake_platforms)
    check_linear_issue_reaches_its_handler_as_a_linear_event(client)


def check_github_label_runs_every_handler_for_the_key(client, fake_platforms):
    body = compact(load("github", "pull_request__labeled"))
    response = post(client, "/github/events", body, github_headers("pull_request", body))
    assert response.status_code == 202, response.content
    wait_until(lambda: finished_runs("legacy-github-pull_request-labeled"), 60, "the run")
    [run] = finished_runs("legacy-github-pull_request-labeled")
    outputs = {step.step_id: step.output for step in run.steps.all()}
    payload = json.loads(body)
    assert outputs == {
        "h1_handle_label": {
            "result": {"number": payload["number"], "label": payload["label"]["name"]}
        },
        "h2_count_labels": {"result": {"labels": len(payload["pull_request"]["labels"])}},
    }
    label_posts = [
        call
        for call in fake_platforms.calls("slack", "chat.postMessage")
        if call.json["text"].startswith(f"PR #{payload['number']} got label")
    ]
    assert len(label_posts) == 1


def check_linear_issue_reaches_its_handler_as_a_linear_event(client):
    body = linear_body(load("linear", "issue__create"))
    response = post(client, "/linear/events", body, linear_headers(body))
    assert response.status_code == 202, response.content
    wait_until(lambda: finished_runs("legacy-linear-issue"), 60, "the Linear run")
    [run] = finished_runs("legacy-linear-issue")
    [step] = run.steps.all()
    assert step.output["result"] == {"action": "create", "title": json.loads(body)["data"]["title"]}


def test_simulate_event_drives_the_pipeline_and_answers_the_last_handlers_result(
    worker, fake_platforms
):
    from tests.legacy.example_app import app

    payload = load("github", "pull_request__labeled")
    result = asyncio.run(app.simulate_event("github", "pull_request:labeled", payload))
    assert result == {"labels": len(payload["pull_request"]["labels"])}
    run = Run.objects.get(workflow__name="legacy-github-pull_request-labeled")
    assert run.event.delivery_id.startswith("simulated-")
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 1
