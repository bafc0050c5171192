"""Runner processes under a real `manage.py serve`: they exist beside web and workers, they
drive the steps (not the qcluster workers), and a runner killed mid-step is taken over."""

import os
import signal

import pytest

from orchestrator.workflows import doorbell, engine
from orchestrator.workflows.models import Run, StepRun, Workflow
from tests.conftest import free_port, start_served, wait_for_http
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def runner_pids(serve_pid: int) -> set[int]:
    """The supervisor's runner children (titled `contexten runner <n>`)."""
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115 - one read
            argv = open(f"/proc/{entry}/cmdline", "rb").read()  # noqa: SIM115
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == serve_pid and fields[0] != "Z" and b"contexten runner" in argv:
            found.add(int(entry))
    return found


def claimant_pid(step: StepRun) -> int:
    """Runner ids are `<host>-<pid>-<random>`; claims are `<runner id>:<token>`."""
    return int(step.claimed_by.split(":", 1)[0].split("-")[-2])


@pytest.fixture
def serve_with(subprocess_env, fake_platforms):
    started = []

    def start(**settings):
        env = {**subprocess_env, **fake_platforms.env(), **settings}
        port = free_port()
        process = start_served(env, port)
        started.append(process)
        wait_for_http(f"http://127.0.0.1:{port}/health/live", 120, process=process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=60)


def hook_workflow(save_workflow, fake, **step_fields) -> Workflow:
    url = f"{fake.slack_url}/chat.postMessage"
    step = {"id": "hook", "action": "core.http_request",
            "with": {"method": "POST", "url": url, "json": {"channel": "#eng", "text": "hi"},
                     "headers": {"Authorization": f"Bearer {fake.SLACK_TOKEN}"}},
            **step_fields}  # fmt: skip
    save_workflow({"name": "hook", "trigger": {"manual": True}, "steps": [step]})
    return Workflow.objects.select_related("current_version").get()


def test_serve_starts_runner_processes_and_they_drive_the_steps(
    serve_with, save_workflow, fake_platforms
):
    serve = serve_with(WORKFLOW_RUNNERS="2")
    runners = wait_until(
        lambda: len(runner_pids(serve.pid)) == 2 and runner_pids(serve.pid),
        90,
        "two runner processes",
    )
    wait_until(lambda: doorbell.runner_processes_alive() == 2, 90, "two runner presences")
    fake_platforms.set_delay("slack", 3)  # long enough to see who holds each step
    workflow = hook_workflow(save_workflow, fake_platforms)
    for n in range(6):
        engine.create_run(workflow, trigger="manual", input={"n": n})
    fake_platforms.wait_for_calls("slack", "chat.postMessage", 6, timeout=60)
    claimants = {claimant_pid(step) for step in StepRun.objects.filter(status="running")}
    assert claimants and claimants <= runners, "runner processes drive the steps, not workers"
    finished = ["succeeded", "failed"]
    wait_until(lambda: Run.objects.filter(status__in=finished).count() == 6, 90, "6 runs")
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 6


def test_a_runner_killed_mid_step_is_restarted_and_its_step_taken_over(
    serve_with, save_workflow, fake_platforms
):
    serve = serve_with(WORKFLOW_RUNNERS="1", WORKFLOW_HEARTBEAT_TIMEOUT="8")
    wait_until(lambda: doorbell.runner_processes_alive() == 1, 90, "a runner presence")
    fake_platforms.set_delay("slack", 60)  # the first call hangs until its runner is killed
    workflow = hook_workflow(save_workflow, fake_platforms)
    engine.create_run(workflow, trigger="manual")
    fake_platforms.wait_for_calls("slack", "chat.postMessage", 1, timeout=60)
    victim = claimant_pid(StepRun.objects.get())
    os.kill(victim, signal.SIGKILL)
    fake_platforms.set_delay("slack", 0)
    wait_until(lambda: Run.objects.get().status == "succeeded", 90, "the run to succeed")
    assert StepRun.objects.get().attempts == 2
    assert victim not in runner_pids(serve.pid)
    assert len(runner_pids(serve.pid)) == 1, "the supervisor started the runner again"
    assert serve.poll() is None, "a dead runner is restarted, not a reason to stop serving"
    keys = {c.headers.get("Idempotency-Key") for c in fake_platforms.calls("slack")}
    assert len(keys) == 1, "the retry carries the first attempt's idempotency key"


def test_ring_queues_no_runner_task_while_a_runner_process_is_alive(settings):
    doorbell.keep_presence("proc:test", "holder", 5)
    assert doorbell.runner_processes_alive() == 1
    assert doorbell.ring(force=True) is False
    doorbell.drop_presence("proc:test", "holder")
    assert doorbell.runner_processes_alive() == 0
