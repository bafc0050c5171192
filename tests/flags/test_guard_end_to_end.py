"""Guarded rollout end to end: a platform outage fails real workflow steps against the fake
GitHub server, the guard job rolls the flag back, and the fake Slack server hears about it."""

import pytest

from orchestrator.flags import guard, services
from orchestrator.flags.models import Flag
from orchestrator.workflows import definitions, engine, runner
from orchestrator.workflows.models import StepRun

PAST, FUTURE = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"


@pytest.fixture
def drive(transactional_db, settings, monkeypatch):
    """Run the real step runner in this process until nothing is due."""
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    return runner.run_ready_steps


def workflow_on(platform_action: str, params: dict):
    return definitions.create_workflow(
        {
            "name": "outage-probe",
            "trigger": {"event": "github.push"},
            "steps": [
                {
                    "id": "call",
                    "action": platform_action,
                    "with": params,
                    "retry": {"max_attempts": 1},
                }
            ],
        }
    )


def run_times(workflow, drive, n: int) -> list[str]:
    for _ in range(n):
        engine.create_run(workflow, trigger="manual")
    drive()
    return sorted(
        StepRun.objects.filter(status__in=["succeeded", "failed"]).values_list("status", flat=True)
    )


def guarded_flag(source: str) -> None:
    services.save_flag(
        {
            "key": "new-checkout",
            "enabled": True,
            "rollout": {
                "percentage": 10,
                "plan": [{"percentage": 25, "at": PAST}, {"percentage": 50, "at": FUTURE}],
            },
            "guard": {"max_error_rate": 0.25, "source": source, "min_samples": 3},
        },
        actor=services.Actor("operator"),
    )


def test_github_outage_rolls_the_flag_back_and_slack_is_told(fake_platforms, drive, settings):
    settings.HEALTH_ESCALATION_CHANNEL = "#alerts"
    workflow = workflow_on("github.create_issue", {"repo": "acme/widgets", "title": "probe"})
    guarded_flag("github")

    assert run_times(workflow, drive, 3) == ["succeeded"] * 3
    assert guard.run_guards() == ["new-checkout: plan step due; ramp to 25.0% (guard held)"]

    fake_platforms.set_down("github")
    assert run_times(workflow, drive, 4).count("failed") == 4
    [line] = guard.run_guards()
    assert line.startswith("new-checkout: rolled back (guard breached")

    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.rollout_paused) == (10.0, True)
    why = flag.versions.get(version=flag.version).reason
    assert "error rate 4/7 = 57% over the 25% limit for integration github" in why
    assert "restored version 1" in why
    drive()  # the notice is a run of the escalation workflow
    [message] = [item["item"] for item in fake_platforms.created("slack")]
    assert "new-checkout" in message["text"] and "rolled back" in message["text"]
    assert message["channel"] == fake_platforms.state.channel_id("#alerts")


def test_slack_outage_still_rolls_back_and_the_notice_is_retried_until_posted_once(
    fake_platforms, drive, settings
):
    """Slack is both the failing platform and the announcer: the rollback stands, and the
    notice (a run of the escalation workflow) is retried until Slack takes it, once."""
    from orchestrator.health.models import Escalation
    from orchestrator.workflows.models import Run

    settings.HEALTH_ESCALATION_CHANNEL = "#alerts"
    workflow = workflow_on("slack.post_message", {"channel": "#eng", "text": "probe"})
    guarded_flag("slack")
    fake_platforms.set_down("slack")
    assert run_times(workflow, drive, 3).count("failed") == 3

    guard.run_guards()

    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.rollout_paused) == (0.0, True)
    assert "integration slack" in flag.versions.get(version=flag.version).reason
    chat = Escalation.objects.get(kind="flag.rolled_back", channel="chat")
    assert chat.outcome == "queued" and chat.run_id is not None
    assert fake_platforms.created("slack") == []

    fake_platforms.set_down("slack", False)
    fake_platforms.fail_next("slack", 1, status=503, name="chat.postMessage")  # still flaky
    drive()
    run = Run.objects.get(pk=chat.run_id)
    step = run.steps.get()
    assert (run.status, step.attempts) == ("succeeded", 2)
    [message] = [item["item"] for item in fake_platforms.created("slack")]
    assert "new-checkout" in message["text"] and "rolled back" in message["text"]
    assert message["channel"] == fake_platforms.state.channel_id("#alerts")
    assert fake_platforms.duplicates() == {}
