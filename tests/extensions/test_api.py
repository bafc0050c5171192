"""REST for extensions (SPEC §8), and what a disabled extension keeps: its webhooks."""

import pytest

from extensions import lifecycle
from extensions.models import Extension, ExtensionHistory
from orchestrator.events.dispatch import dispatch_event
from orchestrator.events.models import Event, Status
from tests.integrations.webhooks import compact, github_headers, load, post, webhook_secrets

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["webhook_secrets"]


def test_list_and_detail_show_versions_actions_and_health(api_client):
    listed = api_client.get("/api/extensions/").json()
    names = [item["name"] for item in listed]
    assert {"core", "github", "linear", "slack"} <= set(names)
    github = api_client.get("/api/extensions/github/").json()
    assert github["enabled"] is True and github["webhook"] is True
    assert github["installed_versions"] == [github["active_version"]]
    assert "github.create_issue" in github["actions"]


def test_unknown_extension_and_version_answer_4xx_in_one_line(api_client):
    assert api_client.get("/api/extensions/nope/").status_code == 404
    api_client.get("/api/extensions/")
    answer = api_client.post("/api/extensions/github/upgrade/", {"version": "9.9.9"},
                             format="json")  # fmt: skip
    assert answer.status_code == 400
    assert "github has no installed version '9.9.9'" in answer.json()["error"]
    answer = api_client.post("/api/extensions/github/upgrade/", {}, format="json")
    assert answer.status_code == 400 and answer.json()["error"].startswith("version:")


def test_uninstall_in_use_answers_409_naming_the_workflow(api_client):
    from orchestrator.workflows import definitions

    definitions.create_workflow(
        {"name": "notify", "trigger": {"manual": True},
         "steps": [{"id": "s", "action": "slack.post_message",
                    "with": {"channel": "#a", "text": "x"}}]}
    )  # fmt: skip
    answer = api_client.delete("/api/extensions/slack/")
    assert answer.status_code == 409
    assert "used by enabled workflows: notify" in answer.json()["error"]
    assert not Extension.objects.get(name="slack").removed


def test_disabled_extension_stores_webhooks_and_dispatches_them_once_enabled(
    api_client, client, webhook_secrets
):
    assert api_client.post("/api/extensions/github/disable/").json()["message"] == "disabled"
    body = compact(load("github", "push__main"))
    answer = post(client, "/webhooks/github/", body, github_headers("push", body))
    assert answer.status_code == 202
    event_id = answer.json()["id"]
    assert dispatch_event(event_id) == "held"
    assert Event.objects.get(pk=event_id).status == Status.RECEIVED

    assert api_client.post("/api/extensions/github/enable/").json()["message"] == "enabled"
    assert dispatch_event(event_id) == "done"
    changes = list(
        ExtensionHistory.objects.filter(extension="github").values_list("change", flat=True)
    )
    assert changes[:2] == ["enable", "disable"]


def test_enabling_rings_for_every_held_event(webhook_secrets, client):
    lifecycle.sync_discovered()
    lifecycle.set_enabled("github", False)
    body = compact(load("github", "push__main"))
    post(client, "/webhooks/github/", body, github_headers("push", body))
    assert lifecycle.redispatch_held("github") == 1
