"""A Slack outage under load, end to end in one process: the real runner, the real detection
job and the fake Slack server failing on demand.

1. The outage opens the breaker after a bounded number of calls, moves health to warn/fail,
   fires one alert per check with no repeat inside its interval, and runs the matching
   recovery action, recorded with its outcome.
2. The outage ends: recovery closes the breaker, the backlog drains (each message once), and
   the recovery is announced once.
"""

import pytest
from django.conf import settings as django_settings

from orchestrator.health import breakers, detect, state
from orchestrator.health.models import (
    Alert,
    Escalation,
    Incident,
    RecoveryAction,
    RecoveryExecution,
)
from orchestrator.workflows import definitions, engine, runner
from orchestrator.workflows.models import Run

RUNS = 100
POSTS = ("chat.postMessage", "conversations.list", "conversations.history")


@pytest.fixture
def drive(transactional_db, settings, monkeypatch):
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    return runner.run_ready_steps


def start_runs(n: int) -> None:
    workflow = definitions.create_workflow(
        {"name": "notify", "trigger": {"manual": True},
         "steps": [{"id": "post", "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": "run {{ run.id }}"},
                    "retry": {"max_attempts": 5, "initial": "100ms", "max": "1s"}}]}
    )  # fmt: skip
    for _ in range(n):
        engine.create_run(workflow, trigger="manual")


def slack_calls(fake) -> int:
    return sum(len(fake.calls("slack", name)) for name in POSTS)


def posted_texts(fake) -> list[str]:
    return sorted(
        m["item"]["text"] for m in fake.created("slack") if m["item"]["text"].startswith("run ")
    )


def test_an_outage_is_bounded_detected_alerted_healed_and_announced_once(
    client, staff_user, fake_platforms, drive, settings
):
    settings.HEALTH_ESCALATION_CHANNEL = "#alerts"
    # The seeded entry, without its cooldown (transactional tests flush seeded rows away).
    RecoveryAction.objects.update_or_create(
        name="close-breaker-when-platform-answers",
        defaults={"trigger_check": "*:breaker", "trigger_status": "warn",
                  "action": "reset_breaker", "params": {"when_api_answers": True},
                  "cooldown_seconds": 0, "max_attempts": 20},
    )  # fmt: skip
    fake_platforms.set_down("slack")
    start_runs(RUNS)
    drive()  # every step tries, the breaker opens, the rest wait it out

    # 1. a bounded number of calls reached Slack while it was down
    calls = [(c.name, c.status) for c in fake_platforms.calls("slack")]
    assert breakers.breaker_state("slack") == "open", calls
    bound = django_settings.SLACK_POOL_MAX + django_settings.BREAKER_HALF_OPEN_PROBES
    calls_while_down = slack_calls(fake_platforms)
    assert calls_while_down <= bound < RUNS

    for _ in range(3):  # hysteresis needs two rounds; the third must not repeat the alert
        detect.run_detection()
    body = client.get("/health/").json()
    assert body["status"] == "fail"
    assert body["checks"]["slack:breaker"][0]["status"] == "warn"
    assert body["checks"]["slack:responseTime"][0]["status"] == "fail"
    firing = Alert.objects.filter(state="firing", group="slack")
    assert sorted(firing.values_list("key", flat=True)) == [
        "check:slack:breaker", "check:slack:responseTime"
    ]  # fmt: skip
    assert set(firing.values_list("notifications", flat=True)) == {1}
    chat = Escalation.objects.filter(channel="chat")
    # one grouped notice for both checks (forecasts of the waiting backlog are their own group)
    assert chat.filter(kind="alert.firing", alert__group="slack").count() == 1
    failed = RecoveryExecution.objects.filter(outcome="failed", check_name="slack:breaker")
    record = list(RecoveryExecution.objects.values_list("recovery__name", "outcome", "detail"))
    assert failed.exists(), (record, list(Incident.objects.values_list("key", "state")))
    assert failed.exists() and "slack still failing" in failed.first().detail
    assert chat.filter(kind="recovery.failed").exists()

    # 2. Slack answers again: recovery closes the breaker, the backlog drains once each
    fake_platforms.set_down("slack", False)
    detect.run_detection()
    assert breakers.breaker_state("slack") == "closed"
    healed = RecoveryExecution.objects.get(outcome="succeeded", check_name="slack:breaker")
    assert "slack breaker closed" in healed.detail
    drive()
    assert posted_texts(fake_platforms) == sorted(
        f"run {run.pk}" for run in Run.objects.filter(workflow__name="notify")
    )
    assert fake_platforms.duplicates() == {}
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}

    for _ in range(3):
        detect.run_detection()
    drive()  # deliver the notices themselves
    assert not Alert.objects.filter(state="firing", group="slack").exists()  # others: not ours
    assert not Incident.objects.filter(state="open", key__startswith="slack:").exists()
    snapshot = state.current_state()
    assert snapshot["mttr_seconds"] is not None
    assert 0 < snapshot["recovery_success_rate"] < 1
    # each alert's resolution announced exactly once, through Slack itself
    lines = [
        line for m in fake_platforms.created("slack") for line in m["item"]["text"].splitlines()
    ]
    resolved = sorted(line.split()[1] for line in lines if line.startswith("[RESOLVED] slack:"))
    assert resolved == ["slack:breaker", "slack:responseTime"]
    assert Alert.objects.filter(group="slack", resolution_notified=True).count() == 2
