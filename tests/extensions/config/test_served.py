"""Across real processes: `manage.py serve` (uvicorn + a qcluster of worker processes).

A change made through the served web process reaches the workers without a restart: a step
rendered by a worker shows the new value. Polled with a deadline, never timed.
"""

import json
import time
import urllib.request

import pytest

from orchestrator.workflows import definitions
from orchestrator.workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE_S = 60  # a slow CI machine's bound on "eventually"; the promise itself is 2 s


def call(base_url: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - http to loopback
        f"{base_url}{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def rendered_by_a_worker(base_url: str, token: str) -> str | None:
    """Trigger a run through the web process; answer what its worker-rendered step logged."""
    run_id = call(base_url, token, "POST", "/api/workflows/greet/trigger/")["id"]
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
            step = run.steps.get()
            return (step.output or {}).get("message") or step.error
        time.sleep(0.1)
    return None


def eventually_rendered(base_url: str, token: str, expected: str) -> list[str | None]:
    """Run after run until a worker renders `expected`; answer what each run rendered."""
    seen = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and expected not in seen:
        seen.append(rendered_by_a_worker(base_url, token))
    return seen


def test_a_configuration_change_and_its_rollback_reach_the_served_workers(served, api_token):
    base_url, process = served
    definitions.create_workflow(
        {
            "name": "greet",
            "trigger": {"manual": True},
            "steps": [
                {
                    "id": "say",
                    "action": "core.log",
                    "with": {"message": "{{ config.core.shared.greeting }}"},
                }
            ],
        }
    )
    first = call(
        base_url, api_token, "PUT", "/api/config/core/", {"data": {"shared": {"greeting": "first"}}}
    )
    assert first["version"] == 1
    assert eventually_rendered(base_url, api_token, "first")[-1] == "first"

    # The workers now hold "first" in their caches; only invalidation can show them this.
    call(
        base_url,
        api_token,
        "PUT",
        "/api/config/core/",
        {"data": {"shared": {"greeting": "second"}}},
    )
    seen = eventually_rendered(base_url, api_token, "second")
    assert seen[-1] == "second", seen
    assert set(seen) <= {"first", "second"}

    back = call(base_url, api_token, "POST", "/api/config/core/rollback/", {"version": 1})
    assert back["version"] == 3
    seen = eventually_rendered(base_url, api_token, "first")
    assert seen[-1] == "first", seen
    assert process.poll() is None, "the served process restarted or died"
