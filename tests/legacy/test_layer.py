"""The compatibility layer in-process: old types, keys, registration, retries, the command."""

import asyncio
import io
import json
import warnings

import pytest
from django.core.management import CommandError, call_command

from extensions.legacy import CodegenApp, ContextenApp, keys, registry
from extensions.legacy.app import LegacyKeyWarning
from extensions.legacy.models import LegacyHandler
from extensions.legacy.types import (
    LinearEvent,
    PullRequestLabeledEvent,
    PullRequestOpenedEvent,
    PushEvent,
    SlackEvent,
)
from orchestrator.workflows import runner
from orchestrator.workflows.models import Run, Workflow
from tests.integrations.webhooks import load
from tests.workflows.conftest import store_event

ENV = "GITHUB_ACCESS_TOKEN=ghp_0123456789\nLINEAR_ACCESS_TOKEN=lin_api_0123456789\n"
ENV += "LINEAR_TEAM_ID=team-1\nSLACK_BOT_TOKEN=xoxb-0123456789\nSLACK_SIGNING_SECRET=s3cret-value\n"


def test_old_type_names_validate_real_payloads():
    labeled = PullRequestLabeledEvent.model_validate(load("github", "pull_request__labeled"))
    opened = PullRequestOpenedEvent.model_validate(load("github", "pull_request__opened"))
    push = PushEvent.model_validate(load("github", "push__main"))
    issue = LinearEvent.model_validate(load("linear", "issue__create"))
    comment = LinearEvent.model_validate(load("linear", "comment__create"))
    mention = SlackEvent.model_validate(load("slack", "app_mention__default")["event"])
    assert labeled.label.name and opened.pull_request.title and push.ref == "refs/heads/main"
    assert issue.data.title and issue.created_at and comment.data.body
    assert (mention.type, mention.user) == ("app_mention", "U061F7AUR")


def test_contexten_app_is_codegen_app_and_several_handlers_share_a_key():
    app = ContextenApp("two")
    assert ContextenApp is CodegenApp

    @app.github.event("push")
    def first(event):
        return 1

    @app.github.event("push")
    def second(event):
        return 2

    assert [ref.func for ref in app.handlers()] == [first, second]


def test_a_typo_in_a_key_warns_and_names_the_known_keys():
    app = CodegenApp("typo")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.github.event("pull_request:labelled")(lambda event: None)
        app.slack.event("app_mention")(lambda event: None)
    [warning] = caught
    assert warning.category is LegacyKeyWarning
    assert "did you mean 'pull_request:labeled'" in str(warning.message)
    assert "pull_request:unlabeled" in str(warning.message)


def test_keys_map_to_the_stored_event_types():
    assert keys.event_pattern("github", "pull_request:labeled") == "github.pull_request.labeled"
    assert keys.event_pattern("github", "push") == "github.push"
    assert keys.event_pattern("linear", "IssueLabel") == "linear.issue_label.*"
    assert keys.event_pattern("slack", "app_mention") == "slack.app_mention"


def test_simulate_event_refuses_an_unknown_provider():
    with pytest.raises(ValueError, match="Unknown provider: jira"):
        asyncio.run(CodegenApp("x").simulate_event("jira", "issue", {}))


def test_the_slack_client_is_a_real_web_client_on_the_configured_url(settings):
    from slack_sdk import WebClient

    settings.SLACK_API_URL, settings.SLACK_BOT_TOKEN = "http://127.0.0.1:9/slack/api", "xoxb-1"
    client = CodegenApp("c").slack.client
    assert isinstance(client, WebClient)
    assert (client.base_url, client.token) == ("http://127.0.0.1:9/slack/api/", "xoxb-1")


FLAKY_CALLS = []


def flaky(event: dict):
    FLAKY_CALLS.append(event["ref"])
    if len(FLAKY_CALLS) == 1:
        raise ConnectionError("upstream hiccup")
    return {"ref": event["ref"]}


def test_a_failing_handler_is_retried_and_its_run_succeeds(transactional_db, monkeypatch, settings):
    app = CodegenApp("flaky")
    app.github.event("push")(flaky)
    registry.register(app.handlers())
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    FLAKY_CALLS.clear()
    store_event("github.push", load("github", "push__main"))
    runner.run_ready_steps()
    run = Run.objects.get(workflow__name="legacy-github-push")
    [step] = run.steps.all()
    assert (run.status, step.attempts, len(FLAKY_CALLS)) == ("succeeded", 2, 2)
    assert step.output == {"result": {"ref": "refs/heads/main"}}


def test_registering_twice_keeps_one_row_and_one_workflow_version(example_registered):
    from tests.legacy.example_app import app

    again = registry.register(app.handlers(), app_name=app.name)
    assert again.created == [] and set(again.workflows.values()) == {"kept"}
    assert LegacyHandler.objects.count() == 4
    workflow = Workflow.objects.get(name="legacy-github-pull_request-labeled")
    assert workflow.versions.count() == 1
    assert [s["id"] for s in workflow.document["steps"]] == ["h1_handle_label", "h2_count_labels"]


def migrate(tmp_path, *modules, **options):
    env = tmp_path / "old.env"
    env.write_text(ENV)
    out = io.StringIO()
    call_command(
        "migrate_legacy",
        "--env",
        str(env),
        "--handlers",
        *modules,
        "--write-env",
        str(tmp_path / "new.env"),
        stdout=out,
        **options,
    )
    return out.getvalue()


def test_migrate_legacy_maps_the_env_registers_handlers_and_reports(tmp_path, db):
    report = json.loads(
        migrate(
            tmp_path,
            "tests.legacy.example_app",
            json=True,
            github_webhook_secret="gh-hook",
            linear_webhook_secret="lin-hook",
        )
    )
    written = (tmp_path / "new.env").read_text()
    assert (
        "GITHUB_TOKEN=ghp_0123456789" in written and "LINEAR_API_KEY=lin_api_0123456789" in written
    )
    assert "GITHUB_WEBHOOK_SECRET=gh-hook" in written and "LINEAR_TEAM_ID=team-1" in written
    assert report["mapped"]["GITHUB_TOKEN"]["from"] == "GITHUB_ACCESS_TOKEN"
    assert report["missing"] == []
    assert {(r["provider"], r["key"], r["status"]) for r in report["handlers"]} == {
        ("github", "pull_request:labeled", "registered"),
        ("linear", "Issue", "registered"),
        ("slack", "app_mention", "registered"),
    }
    assert LegacyHandler.objects.count() == 4 and Workflow.objects.count() == 3


def test_migrate_legacy_dry_run_changes_nothing(tmp_path, db):
    out = migrate(tmp_path, "tests.legacy.example_app", dry_run=True)
    assert "missing GITHUB_WEBHOOK_SECRET" in out and "would register" in out
    assert not (tmp_path / "new.env").exists() and not LegacyHandler.objects.exists()


@pytest.mark.parametrize(
    ("modules", "options", "message"),
    [
        (
            ["tests.legacy.example_app", "tests.legacy.broken_app"],
            {"github_webhook_secret": "s", "linear_webhook_secret": "s"},
            "cannot import handler module tests.legacy.broken_app: "
            "RuntimeError: missing configuration; nothing was registered",
        ),
        (
            ["tests.legacy.typo_app"],
            {"github_webhook_secret": "s"},
            "unknown github handler key 'pull_request:labelled' "
            "(did you mean 'pull_request:labeled'?)",
        ),
        (
            ["tests.legacy.example_app"],
            {},
            "GITHUB_WEBHOOK_SECRET is needed to verify the "
            "webhooks the old app accepted unsigned; pass --github-webhook-secret",
        ),
        (["tests.legacy.no_such_module"], {}, "cannot import handler module tests.legacy.no_such"),
    ],
)
def test_migrate_legacy_refuses_bad_input_in_one_line_and_changes_nothing(
    tmp_path, db, modules, options, message
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacyKeyWarning)
        with pytest.raises(CommandError) as refused:
            migrate(tmp_path, *modules, **options)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "new.env").exists()
    assert not LegacyHandler.objects.exists() and not Workflow.objects.exists()
