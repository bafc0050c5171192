"""A bad platform, in one process: the real runner against the fake GitHub answering slowly,
with 500s, with 429 + Retry-After, and with connection resets before and after carrying a
request out.

Promise: every comment is posted exactly once; the platform sees exactly one extra call per
fault and no more (retries stay within budget, every step within its max_attempts); the
breaker opens on the outage and closes again; the backlog drains.
"""

import logging

import pytest

from orchestrator.workflows import definitions, engine, runner
from orchestrator.workflows.models import Run, StepRun

RUNS = 40
REPO = "acme/widgets"
MAX_ATTEMPTS = 8
FAULTS = {"status_500": 5, "rate_limited": 3, "reset_before": 3, "lost_after": 3}


@pytest.fixture
def drive(transactional_db, settings, monkeypatch):
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    settings.BREAKER_MIN_CALLS, settings.BREAKER_WINDOW = 4, 8
    settings.BREAKER_FAILURE_RATE, settings.BREAKER_OPEN_SECONDS = 50, 1
    return runner.run_ready_steps


def start_runs() -> None:
    workflow = definitions.create_workflow(
        {"name": "comment", "trigger": {"manual": True},
         "steps": [{"id": "post", "action": "github.create_comment",
                    "with": {"repo": REPO, "issue_number": 1, "body": "run {{ run.id }}"},
                    "retry": {"max_attempts": MAX_ATTEMPTS, "initial": "100ms", "max": "1s"}}]}
    )  # fmt: skip
    for _ in range(RUNS):
        engine.create_run(workflow, trigger="manual")


def test_slow_500_429_and_resets_stay_within_budget_and_drain_once_each(
    fake_platforms, drive, caplog
):
    fake_platforms.add_issue(REPO, title="Busy")
    name = "issues.createComment"
    fake_platforms.fail_next("github", FAULTS["status_500"], status=500, name=name)
    fake_platforms.reset_next("github", FAULTS["reset_before"], name=name)
    fake_platforms.rate_limit_next("github", FAULTS["rate_limited"], retry_after=1, name=name)
    fake_platforms.reset_next("github", FAULTS["lost_after"], after=True, name=name)
    fake_platforms.set_delay("github", 0.05)  # slow: calls overlap
    start_runs()
    with caplog.at_level(logging.INFO, logger="contexten.breakers"):
        for _ in range(10):
            drive()
            if not Run.objects.exclude(status="succeeded").exists():
                break
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    created = fake_platforms.created("github")
    assert len(created) == RUNS and fake_platforms.duplicates() == {}
    assert sorted(c["item"]["body"].split("\n")[0] for c in created) == sorted(
        f"run {pk}" for pk in Run.objects.values_list("pk", flat=True)
    )
    posts = fake_platforms.calls("github", name)
    assert len(posts) == RUNS + sum(FAULTS.values()) - FAULTS["lost_after"]  # one per fault
    assert max(StepRun.objects.values_list("attempts", flat=True)) <= MAX_ATTEMPTS
    transitions = [
        r.getMessage().split()[0] for r in caplog.records if r.name == "contexten.breakers"
    ]
    assert "breaker.open" in transitions, transitions
    assert transitions[-1] == "breaker.closed", transitions
