"""The admin: documents edited as YAML (each save a version), runs as step timelines."""

import pytest

from orchestrator.workflows import engine
from orchestrator.workflows.models import Run, Workflow, WorkflowVersion

DOC = """\
name: hello
trigger:
  manual: true
steps:
  - id: say
    action: core.log
    with:
      message: "{text}"
"""


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_adding_a_workflow_in_the_admin_stores_version_one(admin_client):
    response = admin_client.post(
        "/admin/workflows/workflow/add/", {"document_text": DOC.format(text="hi")}
    )
    assert response.status_code == 302, response.content[:2000]
    assert Workflow.objects.get().current_version.number == 1


def test_a_bad_document_in_the_admin_shows_the_one_line_error(admin_client):
    bad = DOC.format(text="hi").replace("core.log", "core.nope")
    response = admin_client.post("/admin/workflows/workflow/add/", {"document_text": bad})
    assert response.status_code == 200
    assert "steps.say.action: unknown action" in response.content.decode()
    assert Workflow.objects.count() == 0


def test_each_admin_save_is_a_new_version_and_restore_makes_another(admin_client):
    admin_client.post("/admin/workflows/workflow/add/", {"document_text": DOC.format(text="a")})
    workflow = Workflow.objects.get()
    change = f"/admin/workflows/workflow/{workflow.pk}/change/"
    assert "message: a" in admin_client.get(change).content.decode()
    admin_client.post(change, {"document_text": DOC.format(text="b")})
    first = WorkflowVersion.objects.get(number=1)
    response = admin_client.post(
        "/admin/workflows/workflowversion/",
        {"action": "restore", "_selected_action": [first.pk]},
    )
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.current_version.number == 3
    assert workflow.document["steps"][0]["with"]["message"] == "a"
    version_page = admin_client.get(f"/admin/workflows/workflowversion/{first.pk}/change/")
    assert version_page.status_code == 200
    assert 'name="document_text"' not in version_page.content.decode()


def test_runs_list_and_timeline_render_and_actions_cancel_then_retry(admin_client):
    admin_client.post("/admin/workflows/workflow/add/", {"document_text": DOC.format(text="a")})
    run = engine.create_run(Workflow.objects.get(), trigger="manual")
    assert admin_client.get("/admin/workflows/run/?status=running").status_code == 200
    page = admin_client.get(f"/admin/workflows/run/{run.pk}/change/").content.decode()
    assert "say" in page and "core.log" in page
    admin_client.post(
        "/admin/workflows/run/", {"action": "cancel_runs", "_selected_action": [run.pk]}
    )
    assert Run.objects.get().status == "cancelled"
    admin_client.post(
        "/admin/workflows/run/", {"action": "retry_runs", "_selected_action": [run.pk]}
    )
    assert Run.objects.get().status == "running"
