"""The run state machine, in the database: create runs, admit them, advance steps, finish.

Every function here is synchronous and transactional; the async runner (runner.py) calls them
from one database thread. A step's result is committed together with the readiness of the
steps after it, so a crash between two steps never repeats the first.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from extensions import registry
from extensions.registry import pin
from orchestrator.core.bulk import update_rows
from orchestrator.health import metrics
from orchestrator.workflows import doorbell, dsl, fastpath
from orchestrator.workflows.models import (
    STEP_CLAIMABLE,
    STEP_FINISHED,
    Run,
    RunStatus,
    StepRun,
    StepStatus,
    Workflow,
    WorkflowVersion,
)

logger = logging.getLogger("contexten.workflows")


@dataclass(frozen=True)
class Plan:
    """A version's document, validated once per process."""

    steps: tuple[dsl.Step, ...]
    by_id: dict[str, dsl.Step]
    compensations: frozenset[str]
    concurrency: int | None
    vars: dict[str, Any]  # the document's own values (templates: vars.<name>)

    @property
    def finishes_with_its_step(self) -> bool:
        """One step and no concurrency cap: the step's success is the run's."""
        return len(self.steps) == 1 and self.concurrency is None


@lru_cache(maxsize=512)
def plan_for(version_id: int) -> Plan:
    """Validate a stored version's document (versions are immutable, so cache by id)."""
    document = WorkflowVersion.objects.values_list("document", flat=True).get(pk=version_id)
    document = dsl.from_stored(document)
    steps = tuple(dsl.validate(document))
    return Plan(
        steps=steps,
        by_id={step.id: step for step in steps},
        compensations=frozenset(dsl.compensation_ids(list(steps))),
        concurrency=document.get("concurrency"),
        vars=document.get("vars", {}),
    )


def create_run(
    workflow: Workflow, *, event=None, trigger: str = "event", input: dict | None = None
) -> Run | None:
    """Start a run of the workflow's current version; None if this event already has one."""
    if event is None:
        # A manual or scheduled run pins what is installed now, not what this process saw up
        # to a poll ago (an upgrade another process made a moment before); dispatch checks
        # once per batch for the runs of events.
        registry.check_soon()
    plan = plan_for(workflow.current_version_id)
    if fastpath.usable(plan, event):
        run_id = fastpath.insert_running_run(
            workflow.pk, workflow.current_version_id, event.pk, plan
        )
        if run_id is None:
            return None  # a replayed event: its run already exists
        transaction.on_commit(doorbell.ring)
        return Run(pk=run_id, workflow=workflow, version_id=workflow.current_version_id)
    # Without a concurrency cap the run starts at once: two INSERTs and nothing else.
    now = timezone.now() if plan.concurrency is None else None
    try:
        with transaction.atomic():
            _commit_without_flush()
            run = Run.objects.create(
                workflow=workflow,
                version_id=workflow.current_version_id,
                event=event,
                trigger=trigger,
                input=input or {},
                status=RunStatus.RUNNING if now else RunStatus.PENDING,
                started_at=now,
            )
            StepRun.objects.bulk_create(
                _initial_step(run, step, index, plan, now) for index, step in enumerate(plan.steps)
            )
            if plan.concurrency is not None:
                admit(workflow.pk, plan.concurrency)
    except IntegrityError:
        if event is not None and Run.objects.filter(workflow=workflow, event=event).exists():
            return None  # a replayed event: its run already exists
        raise
    transaction.on_commit(doorbell.ring)
    return run


def _commit_without_flush() -> None:
    """On Postgres, skip this transaction's WAL flush: the event row is already durable, and
    the dispatcher's next (synchronous) commit flushes this one too, as WAL is written in
    order. Saves one fsync per triggered run."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _initial_step(run: Run, step: dsl.Step, index: int, plan: Plan, now) -> StepRun:
    """A new step row, pinned to its extension's active version: a hot-swap after this moment
    leaves the run on the version it started with. Ready at once if the run starts now and
    it is a root step."""
    extension, version = pin(step.action)
    row = StepRun(
        run=run,
        step_id=step.id,
        action=step.action,
        extension=extension,
        extension_version=version,
        position=index,
    )
    if now and not step.needs and step.id not in plan.compensations:
        row.status, row.next_attempt_at, row.ready_at = StepStatus.READY, now, now
    return row


def start_run(run: Run, plan: Plan) -> None:
    """Move a run to running and make its root steps ready."""
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=now)
    roots = [s.id for s in plan.steps if not s.needs and s.id not in plan.compensations]
    StepRun.objects.filter(run_id=run.pk, step_id__in=roots).update(
        status=StepStatus.READY, next_attempt_at=now, ready_at=now
    )


def admit(workflow_id: int, cap: int | None) -> int:
    """Start pending runs of a workflow while fewer than `cap` are running."""
    # Lock the workflow row so two admitters never both see a free slot.
    list(Workflow.objects.select_for_update().filter(pk=workflow_id).values_list("pk"))
    runs = Run.objects.filter(workflow_id=workflow_id)
    running = runs.filter(status=RunStatus.RUNNING).count()
    free = max(cap - running, 0) if cap else None
    pending = runs.filter(status=RunStatus.PENDING).order_by("created_at", "id")
    admitted = 0
    for run in pending[:free] if free is not None else pending:
        start_run(run, plan_for(run.version_id))
        admitted += 1
    return admitted


def advance(
    run: Run, steps: list[StepRun], plan: Plan, succeeded: list[int] | None = None
) -> list[StepRun]:
    """Decide pending steps (ready or skipped) and finish the run when nothing is left.

    Answer the steps whose status changed; the caller saves them. A caller finishing many
    runs passes `succeeded` and marks the plain successes in one UPDATE (finish_succeeded).
    """
    by_id = {step.step_id: step for step in steps}
    changed = []
    progress = True
    while progress:  # skipping a step can settle the steps after it
        progress = False
        for definition in plan.steps:
            step = by_id[definition.id]
            if step.status != StepStatus.PENDING:
                continue
            verdict = _verdict(definition, by_id, plan)
            if verdict is not None:
                _apply_verdict(step, verdict)
                changed.append(step)
                progress = True
    if all(step.status in STEP_FINISHED for step in steps):
        if succeeded is not None and not plan.concurrency and not _failures(plan, by_id):
            succeeded.append(run.pk)
        else:
            finish_run(run, plan, by_id)
    return changed


def _verdict(definition: dsl.Step, by_id: dict[str, StepRun], plan: Plan) -> str | None:
    """'ready', 'skip:<why>' or None (still waiting) for a pending step."""
    if definition.id in plan.compensations:
        sources = [s for s in plan.steps if s.on_failure == definition.id]
        if any(by_id[s.id].status == StepStatus.FAILED for s in sources):
            return "ready"
        if all(by_id[s.id].status in STEP_FINISHED for s in sources):
            return "skip:no step it compensates for failed"
        return None
    for need in definition.needs:
        status = by_id[need].status
        if status not in STEP_FINISHED:
            return None
        met = status == StepStatus.SUCCEEDED or (
            status == StepStatus.FAILED and plan.by_id[need].continue_on_error
        )
        if not met:
            return f"skip:needs {need}, which {status}"
    return "ready"


def _apply_verdict(step: StepRun, verdict: str) -> None:
    now = timezone.now()
    if verdict == "ready":
        step.status, step.next_attempt_at, step.ready_at = StepStatus.READY, now, now
    else:
        step.status, step.error, step.finished_at = StepStatus.SKIPPED, verdict[5:], now


def finish_run(run: Run, plan: Plan, by_id: dict[str, StepRun]) -> None:
    """Mark the run succeeded or failed, then let a pending run of the workflow in."""
    failed = _failures(plan, by_id)
    status = RunStatus.FAILED if failed else RunStatus.SUCCEEDED
    error = f"step {failed[0]} failed: {by_id[failed[0]].error}" if failed else ""
    updated = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=status, error=error[:2000], finished_at=timezone.now()
    )
    metrics.record_runs(status, updated)
    if updated and plan.concurrency:
        admit(run.workflow_id, plan.concurrency)


def _failures(plan: Plan, by_id: dict[str, StepRun]) -> list[str]:
    return [
        step_id
        for step_id, step in by_id.items()
        if step.status == StepStatus.FAILED and not plan.by_id[step_id].continue_on_error
    ]


def finish_succeeded(run_ids: list[int]) -> None:
    """Mark many runs (without a concurrency cap) succeeded in one statement."""
    if run_ids:
        finished = Run.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING).update(
            status=RunStatus.SUCCEEDED, finished_at=timezone.now()
        )
        metrics.record_runs(RunStatus.SUCCEEDED, finished)


def cancel_run(run: Run) -> bool:
    """Cancel a run that has not finished: its unfinished steps stop being claimed."""
    now = timezone.now()
    with transaction.atomic():
        updated = Run.objects.filter(
            pk=run.pk, status__in=[RunStatus.PENDING, RunStatus.RUNNING]
        ).update(status=RunStatus.CANCELLED, finished_at=now, error="cancelled")
        if not updated:
            return False
        # A running step's late result is dropped: record() only writes to running steps.
        StepRun.objects.filter(run=run).exclude(status__in=STEP_FINISHED).update(
            status=StepStatus.CANCELLED, finished_at=now, claimed_by=""
        )
        plan = plan_for(run.version_id)
        if plan.concurrency:
            admit(run.workflow_id, plan.concurrency)
    transaction.on_commit(doorbell.ring)
    return True


def retry_run(run: Run) -> bool:
    """Run a failed or cancelled run again; steps that succeeded keep their output."""
    with transaction.atomic():
        updated = Run.objects.filter(
            pk=run.pk, status__in=[RunStatus.FAILED, RunStatus.CANCELLED]
        ).update(status=RunStatus.RUNNING, finished_at=None, error="")
        if not updated:
            return False
        StepRun.objects.filter(run=run).exclude(status=StepStatus.SUCCEEDED).update(
            status=StepStatus.PENDING,
            attempts=0,
            error="",
            output=None,
            finished_at=None,
            started_at=None,
            claimed_by="",
            next_attempt_at=None,
        )
        run.refresh_from_db()
        plan = plan_for(run.version_id)
        changed = advance(run, list(run.steps.all()), plan)
        save_steps(changed)
    transaction.on_commit(doorbell.ring)
    return True


STEP_FIELDS = ["status", "error", "finished_at", "next_attempt_at", "ready_at"]


def save_steps(steps: list[StepRun]) -> None:
    if steps:
        update_rows(steps, STEP_FIELDS)


def due_steps(now=None):
    """Steps a runner may claim now (the `step_claim_order` index's own condition)."""
    return StepRun.objects.filter(
        status__in=STEP_CLAIMABLE, next_attempt_at__lte=now or timezone.now()
    )


def seconds_until_next_due(horizon_s: float) -> float | None:
    """How long until the earliest waiting step is due, if within `horizon_s`."""
    now = timezone.now()
    first = (
        StepRun.objects.filter(
            status__in=[StepStatus.READY, StepStatus.WAITING],
            next_attempt_at__lte=now + timedelta(seconds=horizon_s),
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return None if first is None else max(0.0, (first - now).total_seconds())
