"""The engine end to end in this process: stored events become runs, steps run against the
real fake platform server, and every state lands in the database."""

import ast
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string

from orchestrator.workflows import engine, steps, sweeper, triggers
from orchestrator.workflows.dsl import Retry
from orchestrator.workflows.models import Run, StepRun, Workflow
from orchestrator.workflows.stats import step_error_rate
from tests.workflows.conftest import store_event

PR = {"number": 7, "pull_request": {"title": "Add widgets", "draft": False}}


def slack_post(fake, step_id="post", **fields):
    """A step that posts to the fake Slack through core.http_request."""
    return {
        "id": step_id,
        "action": "core.http_request",
        "with": {
            "method": "POST",
            "url": f"{fake.slack_url}/chat.postMessage",
            "headers": {"Authorization": f"Bearer {fake.SLACK_TOKEN}"},
            "json": {"channel": "#eng", "text": "PR #{{ event.data.number }}"},
        },
        **fields,
    }


def workflow(*steps_, trigger=None, **extra):
    trigger = {"event": "github.pull_request.*"} if trigger is None else trigger
    return {"name": "wf", "trigger": trigger, "steps": list(steps_), **extra}


def the_run() -> Run:
    return Run.objects.get()


def step(step_id: str) -> StepRun:
    return StepRun.objects.get(step_id=step_id)


def test_a_matching_event_runs_steps_in_order_with_outputs_in_templates(save_workflow, drive):
    save_workflow(
        workflow(
            {
                "id": "first",
                "action": "core.log",
                "with": {"message": "PR {{ event.data.number }}"},
            },
            {
                "id": "second",
                "action": "core.log",
                "needs": ["first"],
                "with": {"message": "{{ steps.first.output.message }} seen"},
            },
        )
    )
    store_event("github.pull_request.opened", PR)
    drive()
    run = the_run()
    assert run.status == "succeeded"
    assert step("second").output == {"message": "PR 7 seen"}
    assert step("first").finished_at <= step("second").started_at


def test_the_glob_and_when_decide_which_events_start_runs(save_workflow, drive):
    save_workflow(
        workflow(
            {"id": "a", "action": "core.log", "with": {"message": "x"}},
            trigger={"event": "github.pull_request.*", "when": "not event.data.pull_request.draft"},
        )
    )
    store_event("github.pull_request.opened", PR, "d-1")
    store_event("github.pull_request.opened", {**PR, "pull_request": {"draft": True}}, "d-2")
    store_event("github.issues.opened", PR, "d-3")
    assert Run.objects.count() == 1


def test_the_same_event_twice_starts_one_run(save_workflow, db):
    from orchestrator.events.models import Event

    save_workflow(workflow({"id": "a", "action": "core.log", "with": {"message": "x"}}))
    event_id = store_event("github.pull_request.opened", PR)
    assert triggers.on_event(Event.objects.get(pk=event_id)) == 0  # a replay
    assert Run.objects.count() == 1


def test_a_5xx_is_retried_until_it_succeeds(save_workflow, drive, fake_platforms):
    fake_platforms.fail_next("slack", 2, status=502)
    save_workflow(workflow(slack_post(fake_platforms, retry={"initial": "50ms"})))
    store_event("github.pull_request.opened", PR)
    drive()
    assert the_run().status == "succeeded"
    assert step("post").attempts == 3
    assert [c.status for c in fake_platforms.calls("slack")] == [502, 502, 200]


def test_a_429_waits_at_least_retry_after(save_workflow, drive, fake_platforms):
    fake_platforms.rate_limit_next("slack", 1, retry_after=1)
    save_workflow(workflow(slack_post(fake_platforms, retry={"initial": "10ms", "max": "20ms"})))
    store_event("github.pull_request.opened", PR)
    drive()
    post = step("post")
    assert (post.status, post.attempts) == ("succeeded", 2)
    assert [c.status for c in fake_platforms.calls("slack")] == [429, 200]


def test_retry_after_outweighs_a_shorter_backoff():
    retry = Retry(max_attempts=5, initial_s=0.01, max_s=0.02)
    outcome = steps.Outcome(1, "t", "error", retry_after=7)
    assert steps.backoff_s(retry, 1, outcome) >= 7
    assert 0.005 <= steps.backoff_s(retry, 1, steps.Outcome(1, "t", "error")) <= 0.01


def test_backoff_grows_exponentially_up_to_max_with_jitter():
    retry = Retry(max_attempts=9, initial_s=1, max_s=8)
    outcome = steps.Outcome(1, "t", "error")
    bounds = [(steps.backoff_s(retry, n, outcome), 2 ** (n - 1)) for n in range(1, 6)]
    for delay, base in bounds:
        assert min(base, 8) / 2 <= delay <= min(base, 8)


def test_a_4xx_fails_at_once_and_the_run_fails(save_workflow, drive, fake_platforms):
    bad = slack_post(fake_platforms)
    bad["with"]["headers"] = {"Authorization": "Bearer wrong"}
    fake_platforms.fail_next("slack", 1, status=404)
    save_workflow(workflow(bad))
    store_event("github.pull_request.opened", PR)
    drive()
    post = step("post")
    assert (post.status, post.attempts) == ("failed", 1)
    assert "answered 404" in post.error
    assert the_run().status == "failed"


def test_a_step_over_its_timeout_fails_with_a_clear_error(save_workflow, drive):
    save_workflow(
        workflow(
            {
                "id": "slow",
                "action": "core.delay",
                "with": {"seconds": 5},
                "timeout": "200ms",
                "retry": {"max_attempts": 1},
            }
        )
    )
    store_event("github.pull_request.opened", PR)
    drive()
    assert (step("slow").status, step("slow").error) == ("failed", "timed out after 0.2s")


def test_if_skips_continue_on_error_goes_on_and_on_failure_compensates(
    save_workflow, drive, fake_platforms
):
    fake_platforms.fail_next("slack", 5, status=500)
    save_workflow(
        workflow(
            {"id": "maybe", "action": "core.log", "if": "event.data.number > 100",
             "with": {"message": "big"}},
            slack_post(fake_platforms, "soft", continue_on_error=True, retry={"max_attempts": 1}),
            slack_post(fake_platforms, "hard", needs=["soft"], on_failure="undo",
                       retry={"max_attempts": 1}),
            {"id": "undo", "action": "core.log", "with": {"message": "undo"}},
            {"id": "after", "action": "core.log", "needs": ["hard"], "with": {"message": "no"}},
        )
    )  # fmt: skip
    store_event("github.pull_request.opened", PR)
    drive()
    states = dict(StepRun.objects.values_list("step_id", "status"))
    assert states == {
        "maybe": "skipped",
        "soft": "failed",
        "hard": "failed",
        "undo": "succeeded",
        "after": "skipped",
    }
    run = the_run()
    assert run.status == "failed"
    assert run.error.startswith("step hard failed")


def test_a_template_error_fails_the_step_permanently(save_workflow, drive):
    save_workflow(
        workflow({"id": "a", "action": "core.log", "with": {"message": "{{ event.data.nope.x }}"}})
    )
    store_event("github.pull_request.opened", PR)
    drive()
    assert step("a").status == "failed"
    assert step("a").attempts == 1
    assert "nope" in step("a").error


def test_a_cancelled_run_never_calls_the_platform(save_workflow, drive, fake_platforms):
    save_workflow(workflow(slack_post(fake_platforms)))
    store_event("github.pull_request.opened", PR)
    assert engine.cancel_run(the_run())
    drive()
    assert the_run().status == "cancelled"
    assert step("post").status == "cancelled"
    assert fake_platforms.calls("slack") == []


def test_concurrency_keeps_excess_runs_pending_then_runs_them(save_workflow, drive):
    save_workflow(
        workflow({"id": "a", "action": "core.log", "with": {"message": "x"}}, concurrency=1)
    )
    for n in range(3):
        store_event("github.pull_request.opened", PR, f"d-{n}")
    assert sorted(Run.objects.values_list("status", flat=True)) == [
        "pending",
        "pending",
        "running",
    ]
    drive()
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_cron_workflow_gets_a_schedule_whose_call_starts_a_run(save_workflow, drive):
    from django_q.models import Schedule

    save_workflow(
        workflow(
            {"id": "a", "action": "core.log", "with": {"message": "{{ event.type }}"}},
            trigger={"schedule": "0 9 * * 1-5"},
        )
    )
    schedule = Schedule.objects.get(name="workflow:wf")
    assert (schedule.schedule_type, schedule.cron) == (Schedule.CRON, "0 9 * * 1-5")
    assert schedule.next_run > timezone.now()
    import_string(schedule.func)(*ast.literal_eval(f"({schedule.args},)"))
    drive()
    assert (the_run().trigger, the_run().status) == ("schedule", "succeeded")
    assert step("a").output == {"message": "schedule"}


def test_disabling_or_dropping_the_schedule_removes_it(save_workflow, db):
    from django_q.models import Schedule

    from orchestrator.workflows import definitions

    wf = save_workflow(workflow({"id": "a", "action": "core.log", "with": {"message": "x"}},
                                trigger={"schedule": "*/5 * * * *"}))  # fmt: skip
    definitions.set_enabled(wf, False)
    assert not Schedule.objects.filter(name="workflow:wf").exists()
    definitions.set_enabled(wf, True)
    save_workflow(workflow({"id": "a", "action": "core.log", "with": {"message": "x"}}))
    assert not Schedule.objects.filter(name="workflow:wf").exists()


def test_the_sweeper_redrives_a_step_whose_worker_died(save_workflow, drive, settings):
    save_workflow(workflow({"id": "a", "action": "core.log", "with": {"message": "x"}}))
    store_event("github.pull_request.opened", PR)
    jobs, _ = steps.claim(10, "dead-worker")  # claimed, then the worker "dies"
    StepRun.objects.update(heartbeat_at=timezone.now() - timedelta(seconds=120))
    settings.WORKFLOW_HEARTBEAT_TIMEOUT = 60
    assert sweeper.sweep()["redriven"] == 1
    drive()
    late = steps.Outcome(jobs[0].step_run_id, jobs[0].token, "ok", output={"late": True})
    assert steps.record([late]) == 0  # the dead worker's late answer is dropped
    assert (step("a").status, step("a").attempts, step("a").output) == (
        "succeeded",
        2,
        {"message": "x"},
    )


def test_a_fresh_heartbeat_is_left_alone(save_workflow, db):
    save_workflow(workflow({"id": "a", "action": "core.log", "with": {"message": "x"}}))
    store_event("github.pull_request.opened", PR)
    steps.claim(10, "live-worker")
    assert sweeper.sweep()["redriven"] == 0
    assert step("a").status == "running"


def test_step_error_rate_counts_finished_and_failed_by_workflow_and_integration(
    save_workflow, drive, fake_platforms
):
    fake_platforms.fail_next("slack", 1, status=400)
    save_workflow(
        workflow(
            slack_post(fake_platforms, "post", retry={"max_attempts": 1}),
            {"id": "a", "action": "core.log", "with": {"message": "x"}},
        )
    )
    since = timezone.now() - timedelta(minutes=1)
    store_event("github.pull_request.opened", PR)
    drive()
    assert step_error_rate(since=since) == (2, 1)
    assert step_error_rate(workflow="wf", integration="core", since=since) == (2, 1)
    assert step_error_rate(workflow="other", since=since) == (0, 0)
    assert step_error_rate(since=timezone.now() + timedelta(minutes=1)) == (0, 0)


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_retrying_a_run_keeps_succeeded_steps_and_reruns_the_rest(
    save_workflow, drive, fake_platforms, status
):
    fake_platforms.fail_next("slack", 1, status=400)
    save_workflow(
        workflow(
            {"id": "a", "action": "core.log", "with": {"message": "x"}},
            slack_post(fake_platforms, "post", needs=["a"], retry={"max_attempts": 1}),
        )
    )
    store_event("github.pull_request.opened", PR)
    drive()
    if status == "cancelled":
        Run.objects.update(status="cancelled")
    assert engine.retry_run(the_run())
    drive()
    assert the_run().status == "succeeded"
    assert (step("a").attempts, step("post").attempts) == (1, 1)
    assert len(fake_platforms.calls("slack")) == 2
    assert Workflow.objects.count() == 1


def test_the_sweeper_keeps_its_schedule_at_the_configured_interval(db, settings):
    from django_q.models import Schedule

    settings.WORKFLOW_SWEEP_MINUTES = 5
    sweeper.sweep()
    schedule = Schedule.objects.get(name="workflows.sweep")
    assert (schedule.func, schedule.minutes) == ("orchestrator.workflows.sweeper.sweep", 5)


def test_cancelling_a_running_step_drops_its_late_result_and_stops_the_rest(save_workflow, db):
    save_workflow(
        workflow(
            {"id": "a", "action": "core.log", "with": {"message": "x"}},
            {"id": "b", "action": "core.log", "needs": ["a"], "with": {"message": "y"}},
        )
    )
    store_event("github.pull_request.opened", PR)
    [job], _ = steps.claim(10, "worker")
    assert engine.cancel_run(the_run())
    late = steps.Outcome(job.step_run_id, job.token, "ok", output={"message": "x"})
    assert steps.record([late]) == 0
    assert dict(StepRun.objects.values_list("step_id", "status")) == {
        "a": "cancelled",
        "b": "cancelled",
    }
    assert the_run().status == "cancelled"
