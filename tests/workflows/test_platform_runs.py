"""Workflows that use the real platform actions against the fake GitHub, Linear and Slack:
the SPEC §6 example through the webhook, and a Slack outage behind the circuit breaker."""

import threading

from orchestrator.events.dispatch import dispatch_event
from orchestrator.workflows.models import Run, StepRun
from tests.workflows.test_end_to_end import github_webhook

SPEC_EXAMPLE = """
name: pr-opened-to-linear
trigger:
  event: github.pull_request.opened
  when: "{{ not event.data.pull_request.draft }}"
concurrency: 50
steps:
  - id: ticket
    action: linear.create_issue
    with:
      team: ENG
      title: "Review PR #{{ event.data.number }}: {{ event.data.pull_request.title }}"
    retry: {max_attempts: 5, backoff: exponential, initial: 100ms, max: 1s}
    timeout: 30s
  - id: notify
    needs: [ticket]
    action: slack.post_message
    with:
      channel: "#eng"
      text: "{{ steps.ticket.output.identifier }} for PR #{{ event.data.number }}"
"""


def test_a_pr_opened_webhook_creates_a_linear_issue_then_posts_to_slack(
    client, save_workflow, drive, fake_platforms, settings
):
    from tests.workflows.test_end_to_end import SECRET

    settings.GITHUB_WEBHOOK_SECRET = SECRET
    fake_platforms.fail_next("linear", 1, status=502)  # one transient failure on the way
    save_workflow(SPEC_EXAMPLE)
    dispatch_event(github_webhook(client, "pull_request__opened", "delivery-spec"))
    drive()
    run = Run.objects.get()
    assert run.status == "succeeded", run.error
    ticket = StepRun.objects.get(step_id="ticket")
    assert ticket.attempts == 2
    [issue] = fake_platforms.created("linear")
    assert issue["item"]["title"].startswith("Review PR #42: ")
    [message] = fake_platforms.created("slack")
    assert message["item"]["text"] == f"{ticket.output['identifier']} for PR #42"
    assert fake_platforms.duplicates() == {}


def test_steps_wait_while_the_slack_breaker_is_open_and_resume_when_it_closes(
    save_workflow, drive, fake_platforms, settings, caplog
):
    settings.BREAKER_MIN_CALLS = 2
    settings.BREAKER_WINDOW = 4
    settings.BREAKER_FAILURE_RATE = 50
    settings.BREAKER_OPEN_SECONDS = 1
    settings.BREAKER_HALF_OPEN_PROBES = 1
    settings.BREAKER_SYNC_MS = 0  # every outcome reaches the shared record at once
    fake_platforms.set_down("slack")
    # Six attempts at 100-300 ms backoff are spent in about a second and a half of outage;
    # only breaker waits, which spend no attempt, carry the steps through three seconds.
    save_workflow(
        {
            "name": "notify",
            "trigger": {"manual": True},
            "steps": [
                {
                    "id": "post",
                    "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": "hello {{ event.n }}"},
                    "retry": {"max_attempts": 6, "initial": "200ms", "max": "300ms"},
                }
            ],
        }
    )
    from orchestrator.workflows import engine
    from orchestrator.workflows.models import Workflow

    workflow = Workflow.objects.select_related("current_version").get()
    for n in range(3):
        engine.create_run(workflow, trigger="manual", input={"n": n})
    threading.Timer(3.0, fake_platforms.set_down, args=("slack", False)).start()
    with caplog.at_level("INFO", logger="contexten.breakers"):
        drive()
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert max(StepRun.objects.values_list("attempts", flat=True)) < 6
    transitions = [r.getMessage() for r in caplog.records if r.name == "contexten.breakers"]
    assert any(m.startswith("breaker.open platform=slack") for m in transitions)
    assert any(m.startswith("breaker.closed platform=slack") for m in transitions)
    assert len(fake_platforms.created("slack")) == 3


def test_steps_queued_behind_the_connection_pool_do_not_time_out_into_duplicates(
    save_workflow, drive, fake_platforms, settings
):
    # One connection, half a second per call: the third of three calls finishes after
    # 1.5 s. Each step's 0.8 s timeout must count from when it gets the connection.
    settings.SLACK_POOL_MAX = 1
    fake_platforms.set_delay("slack", 0.5)
    save_workflow(
        {
            "name": "queued",
            "trigger": {"manual": True},
            "steps": [
                {
                    "id": "post",
                    "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": "n={{ event.n }}"},
                    "timeout": "800ms",
                    "retry": {"max_attempts": 1},
                }
            ],
        }
    )
    from orchestrator.workflows import engine
    from orchestrator.workflows.models import Workflow

    workflow = Workflow.objects.select_related("current_version").get()
    for n in range(3):
        engine.create_run(workflow, trigger="manual", input={"n": n})
    drive()
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert len(fake_platforms.created("slack")) == 3
    assert fake_platforms.peak_in_flight() == 1


def test_past_its_lifetime_a_runner_hands_back_steps_still_queued_for_a_slot(
    save_workflow, drive, fake_platforms, settings, monkeypatch
):
    from orchestrator.workflows import engine, runner
    from orchestrator.workflows.models import Workflow

    settings.SLACK_POOL_MAX = 1
    fake_platforms.set_delay("slack", 1.0)
    save_workflow(
        {"name": "queued", "trigger": {"manual": True},
         "steps": [{"id": "post", "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": "n={{ event.n }}"}}]}
    )  # fmt: skip
    workflow = Workflow.objects.select_related("current_version").get()
    for n in range(3):
        engine.create_run(workflow, trigger="manual", input={"n": n})
    settings.WORKFLOW_RUNNER_LIFETIME = 0.5
    monkeypatch.setattr(runner, "HAND_BACK_AFTER_S", 0.0)
    drive()  # claims all three, sends one, hands two back unsent
    assert sorted(StepRun.objects.values_list("status", "attempts")) == [
        ("succeeded", 1),
        ("waiting", 0),
        ("waiting", 0),
    ]
    settings.WORKFLOW_RUNNER_LIFETIME = 45
    drive()
    assert set(StepRun.objects.values_list("status", "attempts")) == {("succeeded", 1)}
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 3


def test_a_platform_with_a_full_queue_does_not_hold_back_another_platforms_steps(
    save_workflow, drive, fake_platforms, settings, monkeypatch
):
    """Slack has one slot and a long queue; a Linear step made after six Slack steps is
    claimed beside the first two of them, not after the Slack queue: the claim skips a
    platform whose waiting share is full. (Before, the runner claimed Slack steps up to its
    whole queue, and the Linear step started only after the third Slack claim.)"""
    from orchestrator.workflows import engine, runner
    from orchestrator.workflows.models import Workflow

    settings.SLACK_POOL_MAX = 1  # a waiting share of one Slack step
    settings.WORKFLOW_MAX_IN_FLIGHT = 6
    monkeypatch.setattr(runner, "CLAIM_BATCH", 2)
    fake_platforms.set_delay("slack", 0.5)
    for name, action, params in (
        ("posts", "slack.post_message", {"channel": "#eng", "text": "n={{ event.n }}"}),
        ("tickets", "linear.create_issue", {"title": "t={{ event.n }}"}),
    ):
        save_workflow({"name": name, "trigger": {"manual": True},
                       "steps": [{"id": "only", "action": action, "with": params}]})  # fmt: skip
    posts, tickets = (Workflow.objects.select_related("current_version").get(name=n)
                      for n in ("posts", "tickets"))  # fmt: skip
    for n in range(6):
        engine.create_run(posts, trigger="manual", input={"n": n})
    engine.create_run(tickets, trigger="manual", input={"n": 0})
    drive()
    assert set(StepRun.objects.values_list("status", flat=True)) == {"succeeded"}
    slack_claims = sorted(StepRun.objects.filter(action="slack.post_message")
                          .values_list("started_at", flat=True))  # fmt: skip
    linear_claim = StepRun.objects.get(action="linear.create_issue").started_at
    assert linear_claim < slack_claims[2], "claimed behind the Slack queue"


async def test_a_version_this_process_does_not_see_yet_is_retried_not_failed_for_good():
    """A run pinned to a version another process just installed: this runner's registry
    may lag by one poll, so the step is retried (and the registry looked at again), never
    failed for good on the first try."""
    from extensions import registry
    from orchestrator.workflows.runner import execute_job
    from orchestrator.workflows.steps import Job

    registry.view.next_check = float("inf")
    job = Job(step_run_id=1, token="t", run_id=1, step_id="ack", action="slack.post_message",
              params={"channel": "#eng", "text": "hi"}, timeout_s=5, attempt=1,
              extension="slack", extension_version="9.9.9")  # fmt: skip
    outcome = await execute_job(job)
    assert (outcome.kind, outcome.permanent, outcome.retry_after) == ("error", False, 1.0)
    assert "9.9.9" in outcome.error
    assert registry.view.next_check == 0.0
