"""The guard job against real rows: workflow step outcomes, shared breakers, health checks."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from orchestrator.flags import guard, services
from orchestrator.flags.models import Flag
from orchestrator.workflows import definitions, engine
from orchestrator.workflows.models import StepRun, StepStatus

# Transactional: the database channel layer closes the connection its sync calls used.
pytestmark = pytest.mark.django_db(transaction=True)
PAST, FUTURE = "2020-01-01T00:00:00Z", "2100-01-01T00:00:00Z"


def guarded(guard_doc: dict | None, plan: list[dict], percentage: float = 10) -> dict:
    return {
        "key": "new-checkout",
        "enabled": True,
        "rollout": {"percentage": percentage, "plan": plan},
        "guard": guard_doc,
    }


def step_outcomes(action: str, params: dict, *, failed: int, succeeded: int) -> None:
    """Real runs of a real workflow whose steps finished now with these outcomes."""
    workflow = definitions.create_workflow(
        {
            "name": "wf-" + action.replace(".", "-"),
            "trigger": {"event": "github.push"},
            "steps": [{"id": "s", "action": action, "with": params}],
        }
    )
    for index in range(failed + succeeded):
        run = engine.create_run(workflow, trigger="manual")
        status = StepStatus.FAILED if index < failed else StepStatus.SUCCEEDED
        StepRun.objects.filter(run=run).update(status=status, finished_at=timezone.now())


GITHUB_ISSUE = ("github.create_issue", {"repo": "acme/web", "title": "t"})


def test_guard_holds_so_due_steps_apply_and_the_ramped_from_version_is_good(make_flag):
    make_flag(
        guarded(
            {"max_error_rate": 0.2, "source": "github"},
            [{"percentage": 30, "at": PAST}, {"percentage": 60, "at": FUTURE}],
        )
    )
    step_outcomes(*GITHUB_ISSUE, failed=1, succeeded=9)
    assert guard.run_guards() == ["new-checkout: plan step due; ramp to 30.0% (guard held)"]
    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.version, flag.last_good_version) == (30.0, 2, 1)
    assert flag.rollout_plan == [{"percentage": 60.0, "at": "2100-01-01T00:00:00Z"}]
    assert flag.versions.get(version=2).actor == "guard"
    assert guard.run_guards() == []  # nothing else due


def test_error_rate_breach_rolls_back_to_last_good_version_and_pauses(make_flag):
    make_flag(
        guarded({"max_error_rate": 0.2, "source": "github"}, [{"percentage": 30, "at": PAST}])
    )
    guard.run_guards()  # v1 -> v2 at 30 %, v1 good
    step_outcomes(*GITHUB_ISSUE, failed=4, succeeded=6)
    assert len(guard.run_guards()) == 1
    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.rollout_paused, flag.version) == (10.0, True, 3)
    row = flag.versions.get(version=3)
    assert (row.action, row.actor) == ("guard-rollback", "guard")
    assert "error rate 4/10 = 40% over the 20% limit for integration github" in row.reason
    assert "restored version 1" in row.reason and "plan paused" in row.reason
    assert guard.run_guards() == []  # paused: the guard leaves it alone


def test_errors_of_another_integration_do_not_count(make_flag):
    make_flag(guarded({"max_error_rate": 0.2, "source": "slack"}, [{"percentage": 30, "at": PAST}]))
    step_outcomes(*GITHUB_ISSUE, failed=10, succeeded=0)
    guard.run_guards()
    assert float(Flag.objects.get().rollout_percentage) == 30.0


def test_workflow_guard_counts_only_that_workflow(make_flag):
    make_flag(guarded({"max_error_rate": 0.2, "workflow": "wf-github-create_issue"}, []))
    step_outcomes(*GITHUB_ISSUE, failed=5, succeeded=0)
    [line] = guard.run_guards()
    assert "workflow wf-github-create_issue" in line


def test_a_version_that_held_for_a_whole_window_is_the_one_restored(make_flag):
    from orchestrator.flags.models import FlagVersion

    make_flag(guarded({"max_error_rate": 0.2, "source": "github", "window_seconds": 60}, []))
    FlagVersion.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    guard.run_guards()  # version 1 has held for a whole window: good
    assert Flag.objects.get().last_good_version == 1
    services.ramp("new-checkout", 60, actor=services.Actor("operator"))  # by hand
    step_outcomes(*GITHUB_ISSUE, failed=5, succeeded=0)
    guard.run_guards()
    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.rollout_paused) == (10.0, True)
    assert "restored version 1" in flag.versions.get(version=3).reason


def test_a_young_version_is_not_yet_good(make_flag):
    make_flag(guarded({"max_error_rate": 0.2, "source": "github", "window_seconds": 60}, []))
    guard.run_guards()
    assert Flag.objects.get().last_good_version is None


def test_too_few_samples_never_breach(make_flag):
    make_flag(guarded({"max_error_rate": 0.2, "source": "github", "min_samples": 5}, []))
    step_outcomes(*GITHUB_ISSUE, failed=4, succeeded=0)
    assert guard.run_guards() == []
    assert Flag.objects.get().version == 1


def test_breach_without_a_good_version_stops_the_rollout_at_zero(make_flag):
    make_flag(guarded({"max_error_rate": 0.1, "source": "github", "min_samples": 1}, []))
    step_outcomes(*GITHUB_ISSUE, failed=1, succeeded=0)
    guard.run_guards()
    flag = Flag.objects.get()
    assert (float(flag.rollout_percentage), flag.rollout_paused) == (0.0, True)
    assert "no good version yet" in flag.versions.get(version=2).reason


def test_open_breaker_is_a_breach(make_flag, settings, transactional_db):
    from orchestrator.health import breakers

    settings.BREAKER_MIN_CALLS, settings.BREAKER_SYNC_MS = 2, 0
    breakers.reset_local()
    make_flag(guarded({"breaker": "linear"}, [{"percentage": 30, "at": PAST}]))
    for _ in range(4):
        async_to_sync(breakers.record)("linear", False)
    assert breakers.breaker_state("linear") == "open"
    [line] = guard.run_guards()
    assert "linear circuit breaker is open" in line
    breakers.reset("linear")


def failing_check() -> list[dict]:
    return [{"status": "fail", "output": "disk full"}]


def test_failing_health_is_a_breach_when_the_guard_watches_health(make_flag, monkeypatch):
    from orchestrator.health import checks

    monkeypatch.setitem(
        checks.CHECKS, "disk:utilization", ("tests.flags.test_guard.failing_check", False)
    )
    make_flag(guarded({"health": True}, [{"percentage": 30, "at": PAST}]))
    [line] = guard.run_guards()
    assert "health is fail (disk:utilization)" in line


def test_disabled_or_paused_flags_are_left_alone(make_flag):
    make_flag({**guarded(None, [{"percentage": 30, "at": PAST}]), "enabled": False})
    assert guard.run_guards() == []
    services.set_enabled("new-checkout", True, actor=services.Actor("t"))
    services.set_paused("new-checkout", True, actor=services.Actor("t"))
    assert guard.run_guards() == []
    services.set_paused("new-checkout", False, actor=services.Actor("t"))
    assert len(guard.run_guards()) == 1


def test_a_failed_announcement_never_undoes_the_rollback(make_flag, settings, caplog):
    settings.SLACK_API_URL = "http://127.0.0.1:9"  # nothing listens: the post fails
    settings.SLACK_BOT_TOKEN = "xoxb-test"
    make_flag(guarded({"max_error_rate": 0.1, "source": "github", "min_samples": 1}, []))
    step_outcomes(*GITHUB_ISSUE, failed=3, succeeded=0)
    guard.run_guards()
    assert Flag.objects.get().rollout_paused is True
    assert "flags.guard.notice-failed" in caplog.text


async def test_rollback_is_announced_on_the_dashboard_group(settings):
    """Listen as the dashboard consumer does, in one event loop, while the job runs."""
    from channels.layers import get_channel_layer

    settings.SLACK_API_URL = "http://127.0.0.1:9"
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("dashboard", channel)
    await sync_to_async(breach_and_guard)()
    message = await asyncio.wait_for(layer.receive(channel), timeout=10)
    assert message["type"] == "dashboard.update"
    payload = message["payload"]
    assert (payload["kind"], payload["flag"]) == ("flag.rolled_back", "new-checkout")
    assert "error rate 3/3" in payload["why"]


def breach_and_guard() -> None:
    """Runs on sync_to_async's thread: close its connection, or it outlives the test DB."""
    from django.db import connection

    try:
        services.save_flag(
            guarded({"max_error_rate": 0.1, "source": "github", "min_samples": 1}, []),
            actor=services.Actor("t"),
        )
        step_outcomes(*GITHUB_ISSUE, failed=3, succeeded=0)
        guard.run_guards()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=False)  # transactional tests flush migrated rows
def test_schedule_exists_after_migrate_and_ensure_is_idempotent():
    from django_q.models import Schedule

    assert Schedule.objects.filter(name="flags.guard").count() == 1
    guard.ensure_schedule()
    guard.ensure_schedule()
    schedule = Schedule.objects.get(name="flags.guard")
    assert (schedule.func, schedule.schedule_type) == ("orchestrator.flags.guard.run_guards", "C")


@pytest.mark.django_db(transaction=False)
def test_the_job_follows_a_changed_interval_setting(settings):
    from django_q.models import Schedule

    settings.FLAGS_GUARD_INTERVAL_SECONDS = 45
    guard.run_guards()
    assert Schedule.objects.get(name="flags.guard").cron == "* * * * * */45"


def test_check_guard_window_excludes_old_failures(make_flag):
    step_outcomes(*GITHUB_ISSUE, failed=5, succeeded=0)
    from orchestrator.flags.schema import Guard

    rule = Guard(max_error_rate=0.1, source="github", window_seconds=60, min_samples=1)
    assert guard.check_guard(rule, timezone.now()).holds is False
    assert guard.check_guard(rule, timezone.now() + timedelta(minutes=5)).holds is True
