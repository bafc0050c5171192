"""`make run` serves each extension's own sandbox (its manifest's `sandbox`) and points the
extension at it through `<NAME>_BASE_URL`; `make serve` never does (it has no such step)."""

import base64
import json
import socket
import subprocess
import sys
import time
import urllib.request

from orchestrator.core.management.commands.demo import (
    DEMO_PLAN,
    Command,
    demo_environment_and_plan,
)
from tests.conftest import BASE_DIR, free_port


def test_demo_adds_a_sandbox_child_and_base_url_for_each_extension_that_ships_one(monkeypatch):
    monkeypatch.delenv("JIRA_BASE_URL", raising=False)
    environ, plan = demo_environment_and_plan({})
    factory, port = plan["extensions"]["jira"]
    assert factory == "contexten_jira.sandbox.server.make_app"
    assert environ["JIRA_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert "github" not in plan["extensions"]  # built-ins share integrations.sandbox
    assert json.loads(environ[DEMO_PLAN]) == json.loads(json.dumps(plan))
    command = Command()
    command.plan = json.loads(environ[DEMO_PLAN])
    supervisor = command.make_supervisor(
        {"host": "127.0.0.1", "port": free_port(), "web_workers": 1, "runners": 1,
         "no_drill": True, "events_every": 2.5}
    )  # fmt: skip
    argv = supervisor.extra["jira sandbox"]
    assert argv[1:4] == ["-m", "extensions.sandbox_host", factory] and argv[-1] == str(port)


def test_an_operator_set_base_url_is_left_alone():
    environ, plan = demo_environment_and_plan({"JIRA_BASE_URL": "https://acme.atlassian.net"})
    assert "jira" not in plan["extensions"]
    assert environ["JIRA_BASE_URL"] == "https://acme.atlassian.net"


def test_the_sandbox_host_serves_the_manifest_factory():
    from contexten_jira.sandbox.server import JiraSandbox

    port = free_port()
    command = [sys.executable, "-m", "extensions.sandbox_host",
               "contexten_jira.sandbox.server.make_app", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, cwd=BASE_DIR)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_port(port, process)
        login = base64.b64encode(f"{JiraSandbox.EMAIL}:{JiraSandbox.API_TOKEN}".encode())
        request = urllib.request.Request(  # noqa: S310 - http to loopback
            f"{base}/rest/api/3/myself", headers={"Authorization": f"Basic {login.decode()}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            assert answer.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sandbox host exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the sandbox host did not listen on {port} within {timeout_s}s")
