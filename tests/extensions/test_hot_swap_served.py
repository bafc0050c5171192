"""Hot-swap across real processes: `manage.py serve` (web + qcluster workers) follows the
registry without a restart. SPEC §8's echo extension, built from the SPEC text in two (then
three) versions, is installed from source folders and switched through /api/extensions/
while a run is in flight. Polled with deadlines, never timed."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from orchestrator.workflows import definitions
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus
from tests.conftest import BASE_DIR, free_port, start_served, wait_for_http
from tests.extensions.echo import build_echo

pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE_S = 60


def call(base_url: str, token: str, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(  # noqa: S310 - http to loopback
        f"{base_url}{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def until(condition, what: str):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {DEADLINE_S}s")


def install(env: dict, folder) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "extensions", "install", str(folder)],
        cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip


def finished_step(run_id: int) -> StepRun:
    until(
        lambda: Run.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).exists(),
        f"run {run_id} succeeding",
    )
    return StepRun.objects.get(run_id=run_id)


@pytest.fixture
def echo_served(subprocess_env, settings, tmp_path):
    """Served web + workers sharing this test's database and extensions folder."""
    settings.EXTENSIONS_DIR = tmp_path / "extensions"
    env = {**subprocess_env, "EXTENSIONS_DIR": str(settings.EXTENSIONS_DIR)}
    port = free_port()
    process = start_served(env, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/health/live", process=process)
        yield base_url, process, env
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def test_spec_echo_hot_swaps_with_a_run_in_flight_and_a_failed_setup_switches_back(
    echo_served, api_token, tmp_path
):
    base_url, process, env = echo_served
    install(env, build_echo(tmp_path, "1.0.0"))
    install(env, build_echo(tmp_path, "2.0.0"))
    definitions.create_workflow(
        {
            "name": "echo-it",
            "trigger": {"manual": True},
            "steps": [{"id": "say", "action": "echo.say",
                       "with": {"text": "{{ event.text }}", "seconds": "{{ event.seconds }}"}}],
        }
    )  # fmt: skip
    trigger = "/api/workflows/echo-it/trigger/"
    status, slow = call(
        base_url, api_token, "POST", trigger, {"event": {"text": "a", "seconds": 3}}
    )
    assert status == 201, slow
    until(
        lambda: StepRun.objects.filter(run_id=slow["id"], status=StepStatus.RUNNING).exists(),
        "the first run's step starting on a worker",
    )

    status, swapped = call(base_url, api_token, "POST", "/api/extensions/echo/upgrade/",
                           {"version": "2.0.0"})  # fmt: skip
    assert (status, swapped["message"]) == (200, "switched 1.0.0 -> 2.0.0")
    status, fresh = call(
        base_url, api_token, "POST", trigger, {"event": {"text": "b", "seconds": 0}}
    )

    old, new = finished_step(slow["id"]), finished_step(fresh["id"])
    assert (old.extension_version, old.output["by"]) == ("1.0.0", "1.0.0")
    assert (new.extension_version, new.output["by"]) == ("2.0.0", "2.0.0")
    status, runs = call(base_url, api_token, "GET", f"/api/runs/{fresh['id']}/")
    assert runs["steps"][0]["extension"] == "echo"
    assert runs["steps"][0]["extension_version"] == "2.0.0"

    # A version whose setup fails is switched back by itself; new runs stay on 2.0.0.
    broken = build_echo(tmp_path, "3.0.0")
    init = broken / "my_echo" / "__init__.py"
    init.write_text(init.read_text().replace(
        "extension = Extension(", "def boom():\n    raise RuntimeError('bad 3')\n\n"
        "extension = Extension(setup=boom, "))  # fmt: skip
    install(env, broken)
    status, refused = call(base_url, api_token, "POST", "/api/extensions/echo/upgrade/",
                           {"version": "3.0.0"})  # fmt: skip
    assert status == 409 and "setup failed (RuntimeError: bad 3)" in refused["error"]
    status, after = call(
        base_url, api_token, "POST", trigger, {"event": {"text": "c", "seconds": 0}}
    )
    assert finished_step(after["id"]).output["by"] == "2.0.0"
    status, detail = call(base_url, api_token, "GET", "/api/extensions/echo/")
    assert detail["active_version"] == "2.0.0"
    assert detail["installed_versions"] == ["1.0.0", "2.0.0", "3.0.0"]
    assert process.poll() is None  # the same served process throughout: nothing restarted
