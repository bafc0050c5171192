"""Through the real webhook: signed deliveries become runs; real qcluster workers are killed
mid-step and the sweeper re-drives their work."""

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from orchestrator.events.dispatch import dispatch_event
from orchestrator.workflows import sweeper
from orchestrator.workflows.models import Run, StepRun
from tests.waiting import wait_until

FIXTURES = Path(django_settings.BASE_DIR) / "integrations" / "github" / "fixtures"
SECRET = "e2e-webhook-secret"


def github_webhook(client, fixture: str, delivery: str, **changes) -> int:
    """POST a real GitHub fixture, signed in this helper; answer the stored event id."""
    event_name = fixture.split("__")[0]
    payload = json.loads((FIXTURES / f"{fixture}.json").read_text()) | changes
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/github/",
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT=event_name,
        HTTP_X_GITHUB_DELIVERY=delivery,
        HTTP_X_HUB_SIGNATURE_256=signature,
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def slack_post(fake, **fields) -> dict:
    return {
        "id": "notify",
        "action": "core.http_request",
        "with": {
            "method": "POST",
            "url": f"{fake.slack_url}/chat.postMessage",
            "headers": {"Authorization": f"Bearer {fake.SLACK_TOKEN}"},
            "json": {"channel": "#eng", "text": "PR #{{ event.data.number }} opened"},
        },
        **fields,
    }


@pytest.fixture
def signed(settings):
    settings.GITHUB_WEBHOOK_SECRET = SECRET


def test_a_signed_webhook_runs_the_workflow_in_process(
    client, signed, save_workflow, drive, fake_platforms
):
    save_workflow(
        {"name": "pr", "trigger": {"event": "github.pull_request.opened"},
         "steps": [slack_post(fake_platforms)]}
    )  # fmt: skip
    event_id = github_webhook(client, "pull_request__opened", "delivery-1")
    dispatch_event(event_id)
    drive()
    run = Run.objects.get()
    assert (run.status, run.event_id) == ("succeeded", event_id)
    [call] = fake_platforms.calls("slack", "chat.postMessage")
    assert call.json["text"] == "PR #42 opened"


def start_qcluster(env: dict) -> subprocess.Popen:
    """A real worker cluster in its own process group, so it can be killed whole."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_a_worker_killed_mid_step_is_redriven_by_the_sweeper(
    client, signed, save_workflow, subprocess_env, fake_platforms, settings
):
    env = subprocess_env | fake_platforms.env() | {"GITHUB_WEBHOOK_SECRET": SECRET}
    save_workflow(
        {"name": "pr", "trigger": {"event": "github.pull_request.opened"},
         "steps": [slack_post(fake_platforms, timeout="60s")]}
    )  # fmt: skip
    fake_platforms.set_delay("slack", 30)  # the first call hangs until the worker dies
    first = start_qcluster(env)
    try:
        github_webhook(client, "pull_request__opened", "delivery-kill")
        fake_platforms.wait_for_calls("slack", "chat.postMessage", 1, timeout=60)
        assert StepRun.objects.get().status == "running"
    finally:
        stop(first, signal.SIGKILL)
    fake_platforms.set_delay("slack", 0)
    settings.WORKFLOW_HEARTBEAT_TIMEOUT = 1
    time.sleep(1.5)  # let the dead worker's heartbeat age past the timeout
    assert sweeper.sweep()["redriven"] == 1
    second = start_qcluster(env)
    try:
        wait_until(lambda: Run.objects.get().status == "succeeded", 60, "the re-driven run")
    finally:
        stop(second)
    step = StepRun.objects.get()
    assert (step.status, step.attempts) == ("succeeded", 2)
    assert len(fake_platforms.calls("slack", "chat.postMessage")) >= 1
