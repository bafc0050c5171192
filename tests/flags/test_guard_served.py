"""The guard as it runs in production: `manage.py serve` (web + qcluster), the scheduled job
firing on its own, workflow steps failing against the fake GitHub, Slack told by a worker."""

from orchestrator.flags import guard, services
from orchestrator.flags.models import Flag
from orchestrator.workflows import definitions, engine
from orchestrator.workflows.models import StepRun
from tests.conftest import free_port, start_served, wait_for_http
from tests.waiting import wait_until

PAST = "2020-01-01T00:00:00Z"


def failing_workflow_and_guarded_flag():
    workflow = definitions.create_workflow(
        {
            "name": "file-issue",
            "trigger": {"event": "github.push"},
            "steps": [
                {
                    "id": "issue",
                    "action": "github.create_issue",
                    "with": {"repo": "acme/widgets", "title": "probe"},
                    "retry": {"max_attempts": 1},
                }
            ],
        }
    )
    services.save_flag(
        {
            "key": "new-checkout",
            "enabled": True,
            "rollout": {"percentage": 20, "plan": [{"percentage": 40, "at": PAST}]},
            "guard": {"max_error_rate": 0.25, "source": "github", "min_samples": 3},
        },
        actor=services.Actor("operator"),
    )
    return workflow


def test_served_workers_roll_back_a_flag_when_github_fails(subprocess_env, fake_platforms):
    # Migration 0002 made the schedule, but earlier transactional tests flush every table.
    guard.ensure_schedule()
    fake_platforms.set_down("github")
    workflow = failing_workflow_and_guarded_flag()
    env = subprocess_env | fake_platforms.env() | {"FLAGS_SLACK_CHANNEL": "#alerts"}
    port = free_port()
    process = start_served(env, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", process=process)
        for _ in range(4):
            engine.create_run(workflow, trigger="manual")
        wait_until(
            lambda: StepRun.objects.filter(status="failed").count() == 4, 60, "4 failed steps"
        )
        # django-q2's scheduler first looks 30 s after the cluster starts, then every 30 s.
        wait_until(lambda: Flag.objects.get().rollout_paused, 120, "the guard pausing the rollout")
        # The worker announces after its commit: give it a moment before stopping it.
        wait_until(lambda: fake_platforms.created("slack"), 20, "Slack being told", every_s=0.5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    flag = Flag.objects.get()
    latest = flag.versions.get(version=flag.version)
    assert (latest.action, latest.actor) == ("guard-rollback", "guard")
    assert "for integration github" in latest.reason
    [message] = [item["item"] for item in fake_platforms.created("slack")]
    assert "new-checkout" in message["text"] and "rolled back" in message["text"]
