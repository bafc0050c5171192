"""`/api/workflows/` and `/api/runs/`: YAML and JSON documents, versions, triggers, filters."""

import json

import pytest

from orchestrator.workflows.models import Run, StepRun, Workflow, WorkflowVersion

YAML_DOC = """\
name: hello
trigger:
  event: github.pull_request.*
steps:
  - id: say
    action: core.log
    with:
      message: "hello {{ event.data.who }}"
"""


def json_doc(message="hi", **extra):
    return {
        "name": "hello",
        "trigger": {"event": "github.pull_request.*"},
        "steps": [{"id": "say", "action": "core.log", "with": {"message": message}}],
        **extra,
    }


def post_yaml(client, text, content_type="application/yaml"):
    return client.post("/api/workflows/", data=text, content_type=content_type)


@pytest.mark.parametrize("content_type", ["application/yaml", "text/yaml"])
def test_a_yaml_document_creates_version_one(api_client, content_type):
    response = post_yaml(api_client, YAML_DOC, content_type)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["version"], body["enabled"]) == ("hello", 1, True)
    assert WorkflowVersion.objects.get().source == YAML_DOC


def test_a_json_document_creates_the_workflow(api_client):
    response = api_client.post("/api/workflows/", json_doc(), format="json")
    assert response.status_code == 201
    assert response.json()["document"]["steps"][0]["action"] == "core.log"


def test_each_put_stores_a_new_version_and_versions_lists_them(api_client):
    api_client.post("/api/workflows/", json_doc("one"), format="json")
    response = api_client.put("/api/workflows/hello/", json_doc("two"), format="json")
    assert (response.status_code, response.json()["version"]) == (200, 2)
    put_yaml = api_client.put(
        "/api/workflows/hello/", data=YAML_DOC, content_type="application/yaml"
    )
    assert put_yaml.json()["version"] == 3
    versions = api_client.get("/api/workflows/hello/versions/").json()
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert versions[2]["document"]["steps"][0]["with"]["message"] == "one"
    assert versions[0]["created_by"] == "operator"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("name: [", "application/yaml", "document is not valid YAML or JSON"),
        ("- a\n- b\n", "application/yaml", "document must be a mapping"),
        ("{nope", "application/json", "JSON parse error"),
        (json.dumps(json_doc() | {"trigger": {"schedule": "99 * * * *"}}), "application/json",
         "trigger.schedule: bad cron expression"),
        (json.dumps(json_doc("{{ oops")), "application/json", "steps.say.with.message: bad"),
        ("", "application/json", "send the workflow document itself"),
    ],
)  # fmt: skip
def test_a_bad_document_is_a_400_with_one_line_and_nothing_stored(
    api_client, body, content_type, message
):
    response = api_client.post("/api/workflows/", data=body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Workflow.objects.count() == 0


def test_creating_a_taken_name_is_a_400_that_points_at_put(api_client):
    api_client.post("/api/workflows/", json_doc(), format="json")
    response = api_client.post("/api/workflows/", json_doc(), format="json")
    assert response.status_code == 400
    assert "PUT /api/workflows/hello/" in response.json()["error"]
    assert WorkflowVersion.objects.count() == 1


def test_a_bad_put_keeps_the_current_version(api_client):
    api_client.post("/api/workflows/", json_doc(), format="json")
    bad = json_doc() | {"steps": [{"id": "x", "action": "nope.nope"}]}
    response = api_client.put("/api/workflows/hello/", bad, format="json")
    assert response.status_code == 400
    assert "unknown action 'nope.nope'" in response.json()["error"]
    assert Workflow.objects.get().current_version.number == 1


def test_a_put_cannot_rename(api_client):
    api_client.post("/api/workflows/", json_doc(), format="json")
    response = api_client.put("/api/workflows/hello/", json_doc() | {"name": "bye"}, format="json")
    assert response.status_code == 400
    assert "names cannot change" in response.json()["error"]


def test_trigger_starts_a_manual_run_with_the_given_event(api_client):
    api_client.post("/api/workflows/", json_doc("{{ event.data.who }}"), format="json")
    response = api_client.post(
        "/api/workflows/hello/trigger/", {"event": {"data": {"who": "ann"}}}, format="json"
    )
    assert response.status_code == 201
    run = response.json()
    assert (run["workflow"], run["trigger"], run["version"]) == ("hello", "manual", 1)
    assert [s["status"] for s in run["steps"]] == ["ready"]
    assert Run.objects.get().input == {"data": {"who": "ann"}}


def test_triggering_a_disabled_or_missing_workflow_is_refused(api_client):
    api_client.post("/api/workflows/", json_doc(enabled=False), format="json")
    assert api_client.post("/api/workflows/hello/trigger/").status_code == 409
    assert api_client.post("/api/workflows/nope/trigger/").status_code == 404
    assert Run.objects.count() == 0


def test_runs_filter_by_workflow_and_status_with_steps_inline(api_client):
    api_client.post("/api/workflows/", json_doc(), format="json")
    api_client.post("/api/workflows/", json_doc() | {"name": "other"}, format="json")
    for name in ["hello", "hello", "other"]:
        api_client.post(f"/api/workflows/{name}/trigger/", format="json")
    first = Run.objects.filter(workflow__name="hello").order_by("id").first()
    api_client.post(f"/api/runs/{first.pk}/cancel/")
    listed = api_client.get("/api/runs/?workflow=hello").json()["results"]
    assert len(listed) == 2
    cancelled = api_client.get("/api/runs/?workflow=hello&status=cancelled").json()["results"]
    assert [r["id"] for r in cancelled] == [first.pk]
    assert cancelled[0]["steps"][0] | {"output": None} == cancelled[0]["steps"][0]
    assert set(cancelled[0]["steps"][0]) >= {"step_id", "status", "attempts", "output", "error"}


def test_the_run_list_answers_what_the_run_serializer_answers(api_client):
    from orchestrator.workflows.api import RUNS, RunSerializer

    api_client.post("/api/workflows/", json_doc(), format="json")
    for _ in range(3):
        api_client.post("/api/workflows/hello/trigger/", format="json")
    first = Run.objects.order_by("id").first()
    api_client.post(f"/api/runs/{first.pk}/cancel/")
    StepRun.objects.filter(run=first).update(output={"ok": [1, "x"]}, attempts=2)
    listed = api_client.get("/api/runs/?workflow=hello").json()["results"]
    expected = api_client.get(f"/api/runs/{first.pk}/").json()
    assert [run["id"] for run in listed] == list(RUNS.values_list("id", flat=True))
    assert listed[-1] == expected
    generic = RunSerializer(RUNS.all(), many=True).data
    assert listed == [dict(run) | {"steps": [dict(s) for s in run["steps"]]} for run in generic]


def test_an_unknown_status_filter_is_a_400(api_client):
    response = api_client.get("/api/runs/?status=done")
    assert response.status_code == 400
    assert "status: unknown 'done'" in response.json()["error"]


def test_cancel_and_retry_answer_409_when_the_state_does_not_allow_it(api_client):
    api_client.post("/api/workflows/", json_doc(), format="json")
    run_id = api_client.post("/api/workflows/hello/trigger/", format="json").json()["id"]
    assert api_client.post(f"/api/runs/{run_id}/retry/").status_code == 409
    cancelled = api_client.post(f"/api/runs/{run_id}/cancel/")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert api_client.post(f"/api/runs/{run_id}/cancel/").status_code == 409
    retried = api_client.post(f"/api/runs/{run_id}/retry/")
    assert (retried.status_code, retried.json()["status"]) == (200, "running")


def test_the_api_needs_a_staff_token(client):
    assert client.get("/api/workflows/").status_code in (401, 403)
    assert client.post(
        "/api/workflows/", json_doc(), content_type="application/json"
    ).status_code in (401, 403)


def test_the_demo_workflows_seed_once_and_validate(db):
    from django_q.models import Schedule

    from integrations.github.demo import WEEKDAY_REPO_REPORT
    from integrations.linear.demo import PR_OPENED_TO_LINEAR
    from integrations.slack.demo import SLACK_MENTION_REPLY
    from orchestrator.workflows.demo import seed_workflow_texts

    texts = [PR_OPENED_TO_LINEAR, SLACK_MENTION_REPLY, WEEKDAY_REPO_REPORT]
    assert seed_workflow_texts(texts) == "workflows: 3 created, 0 kept"
    assert seed_workflow_texts(texts) == "workflows: 0 created, 3 kept"
    assert set(Workflow.objects.values_list("name", flat=True)) == {
        "pr-opened-to-linear",
        "slack-mention-reply",
        "weekday-repo-report",
    }
    assert Schedule.objects.get(name="workflow:weekday-repo-report").cron == "0 9 * * 1-5"
