"""The Jira extension end to end across processes: `manage.py serve` (web + a real qcluster)
against the Jira sandbox. It is configured through the configuration store, runs a workflow
from a signed webhook, hot-swaps to a second version built from the same source with a run
in flight, and is uninstalled; no served process restarts."""

import json
import time

import httpx
import pytest
from building import JIRA_SOURCE, jira_version
from django.core.management import CommandError, call_command
from jira_testing import SECRET, body_of, http_headers, load

TRIAGE = """\
name: jira-triage
trigger:
  event: jira.issue.created
steps:
  - id: ack
    action: jira.add_comment
    with:
      issue: "{{ event.data.issue.key }}"
      body: "Picked up {{ event.data.issue.key }}"
  - id: start
    needs: [ack]
    action: jira.transition_issue
    with:
      issue: "{{ event.data.issue.key }}"
      status: In Progress
"""


@pytest.fixture
def configured(sandbox, jira_config, staff_user):
    """The `jira` configuration stored through the configuration store, as an operator would."""
    from extensions.config import store

    for key in ("ENG-1", "ENG-2", "ENG-3"):
        sandbox.state.add_issue(key, f"Issue {key}")
    data = {**jira_config, "webhook_secret": SECRET}
    store.save("jira", data, author=staff_user.username, reason="e2e: the Jira sandbox")
    return data


def api(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Token {token}"}, timeout=30)


def deliver(http: httpx.Client, issue_key: str) -> int:
    """A signed jira:issue_created delivery about `issue_key`; answer the stored event id."""
    payload = load("jira:issue_created__default")
    payload["issue"] = {**payload["issue"], "key": issue_key}
    body = body_of(payload)
    response = http.post("/webhooks/jira/", content=body, headers=http_headers(body))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def run_for(http: httpx.Client, event_id: int, status: str = "succeeded", timeout: float = 60):
    """Poll /api/runs/ until the run of `event_id` reaches `status` (AssertionError if not)."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        runs = http.get("/api/runs/", params={"workflow": "jira-triage"}).json()["results"]
        seen = next((run for run in runs if run.get("event") == event_id), None)
        if seen and seen["status"] == status:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"run of event {event_id} never reached {status}: {json.dumps(seen)}")


def versions_of(run: dict) -> dict[str, tuple[str, str]]:
    return {s["step_id"]: (s["extension"], s["extension_version"]) for s in run["steps"]}


def comment_marker(sandbox, key: str) -> dict:
    [comment] = next(issue for issue in sandbox.issues() if issue.key == key).comments
    return comment["properties"]["contexten"]


def test_configured_installed_swapped_and_uninstalled_across_processes(
    served, sandbox, configured, api_token, tmp_path, settings
):
    base_url, process = served
    settings.EXTENSIONS_DIR = tmp_path / "extensions"
    http = api(base_url, api_token)
    assert http.post("/api/workflows/", content=TRIAGE,
                     headers={"Content-Type": "application/yaml"}).status_code == 201  # fmt: skip

    # 1.0.0, from `make install` (a workspace member): a signed webhook runs the workflow.
    first = run_for(http, deliver(http, "ENG-1"))
    assert versions_of(first) == {"ack": ("jira", "1.0.0"), "start": ("jira", "1.0.0")}
    assert comment_marker(sandbox, "ENG-1")["version"] == "1.0.0"
    assert sandbox.state.issue("ENG-1").fields["status"]["name"] == "In Progress"

    # Installing the source folder again is refused (1.0.0 is installed); 1.1.0, built from
    # the same source with the version bumped, installs beside it.
    with pytest.raises(CommandError, match=r"jira 1\.0\.0 is already installed"):
        call_command("extensions", "install", str(JIRA_SOURCE))
    call_command("extensions", "install", str(jira_version(tmp_path / "jira-1.1.0", "1.1.0")))

    # A run in flight on 1.0.0 (its comment held in the sandbox), then the hot-swap.
    sandbox.hold("add_comment")
    in_flight = deliver(http, "ENG-2")
    sandbox.wait_for("add_comment", 2)
    swapped = http.post("/api/extensions/jira/upgrade/", json={"version": "1.1.0"})
    assert swapped.status_code == 200, swapped.text
    assert swapped.json()["message"] == "switched 1.0.0 -> 1.1.0"
    after = deliver(http, "ENG-3")
    try:
        sandbox.wait_for("add_comment", 3)
    except AssertionError as exc:  # say where the third run stands (it flaked under load)
        runs = http.get("/api/runs/", params={"workflow": "jira-triage"}).json()["results"]
        raise AssertionError(f"{exc}; runs: {json.dumps(runs)[:4000]}") from None
    sandbox.release("add_comment")

    old, new = run_for(http, in_flight), run_for(http, after)
    assert versions_of(old) == {"ack": ("jira", "1.0.0"), "start": ("jira", "1.0.0")}
    assert versions_of(new) == {"ack": ("jira", "1.1.0"), "start": ("jira", "1.1.0")}
    # The code that ran is the pinned version's: it marks its writes with its own version.
    assert comment_marker(sandbox, "ENG-2")["version"] == "1.0.0"
    assert comment_marker(sandbox, "ENG-3")["version"] == "1.1.0"
    agents = {c.path.split("/")[5]: c.user_agent for c in sandbox.calls("transition")}
    assert agents == {"ENG-1": "contexten-jira/1.0.0", "ENG-2": "contexten-jira/1.0.0",
                      "ENG-3": "contexten-jira/1.1.0"}  # fmt: skip

    # Uninstall is refused while an enabled workflow uses the actions, and names it.
    refused = http.delete("/api/extensions/jira/")
    assert refused.status_code == 409, refused.text
    assert "jira-triage" in refused.text
    disabled = http.put("/api/workflows/jira-triage/", content=TRIAGE + "enabled: false\n",
                        headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert disabled.status_code == 200, disabled.text
    assert http.delete("/api/extensions/jira/").status_code in (200, 204)
    body = body_of(load("jira:issue_created__default"))
    gone = http.post("/webhooks/jira/", content=body, headers=http_headers(body))
    assert gone.status_code == 404
    assert process.poll() is None  # the same served process throughout
