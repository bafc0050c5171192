"""The rejected alternative, measured: one django-q2 task per step, each holding its worker
process for the whole platform call (`python -m bench workflows --per-step=40`)."""

import asyncio
import time
import uuid

WORKFLOW = {
    "name": "bench-per-step",
    "trigger": {"manual": True},
    "steps": [
        {
            "id": "notify",
            "action": "slack.post_message",
            "with": {"channel": "#eng", "text": "per-step {{ run.id }}"},
        }
    ],
}


def run_one_step(step_run_id: int) -> str:
    """django-q2 task: claim one step, make its call synchronously, record the outcome."""
    from django.db import close_old_connections

    from orchestrator.workflows import steps
    from orchestrator.workflows.models import StepRun, StepStatus
    from orchestrator.workflows.runner import execute_job

    close_old_connections()
    token = f"per-step:{uuid.uuid4().hex[:8]}"
    claimed = StepRun.objects.filter(pk=step_run_id, status=StepStatus.PENDING).update(
        status=StepStatus.RUNNING, claimed_by=token, attempts=1
    )
    if not claimed:
        return "skipped"
    step_run = StepRun.objects.select_related("run", "run__event").get(pk=step_run_id)
    jobs, decided = steps.prepare([step_run], token)
    outcomes = decided + [asyncio.run(execute_job(job)) for job in jobs]
    steps.record(outcomes)
    return outcomes[0].kind


def measure(count: int, delay: float, fake) -> dict:
    """Create `count` runs whose step is left pending (no doorbell), queue one task each."""
    from django.utils import timezone
    from django_q.tasks import async_task

    from orchestrator.workflows import definitions
    from orchestrator.workflows.models import Run, StepRun

    fake.set_delay("slack", delay)
    workflow = definitions.create_workflow(WORKFLOW)
    now = timezone.now()
    ids = []
    for _ in range(count):
        run = Run.objects.create(
            workflow=workflow, version=workflow.current_version, trigger="manual",
            status="running", started_at=now,
        )  # fmt: skip
        ids.append(
            StepRun.objects.create(run=run, step_id="notify", action="slack.post_message").pk
        )
    start = time.time()
    for step_run_id in ids:
        async_task("bench.workflows_per_step.run_one_step", step_run_id, save=False)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if Run.objects.filter(workflow=workflow, status="succeeded").count() >= count:
            break
        time.sleep(0.25)
    last = StepRun.objects.filter(run__workflow=workflow).order_by("-finished_at").first()
    elapsed = (last.finished_at.timestamp() - start) if last and last.finished_at else float("nan")
    fake.set_delay("slack", 0)
    return {"count": count, "elapsed_s": elapsed, "per_s": count / elapsed}
