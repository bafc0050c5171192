"""Claim due steps, prepare them as jobs, and record their outcomes (sync, batched).

Claims are atomic: `SELECT … FOR UPDATE SKIP LOCKED` on Postgres; on SQLite (one writer at a
time) a guarded `UPDATE … WHERE status IN (ready, waiting)` whose rows are re-read by claim
token. An outcome is written only while the step is still running under the same token, so a
result from a worker the sweeper gave up on is dropped and the step finishes once.
"""

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Window
from django.db.models.functions import Now, RowNumber
from django.utils import timezone

from extensions import registry
from extensions.config import store as config_store
from orchestrator.core import prepared
from orchestrator.core.bulk import update_rows
from orchestrator.health import metrics
from orchestrator.workflows import claim_sql, doorbell, record_sql
from orchestrator.workflows.claim_sql import CLAIM_SCAN_FACTOR
from orchestrator.workflows.engine import (
    Plan,
    advance,
    due_steps,
    finish_succeeded,
    plan_for,
    save_steps,
)
from orchestrator.workflows.models import STEP_CLAIMABLE, Run, RunStatus, StepRun, StepStatus
from orchestrator.workflows.templating import ConfigView, TemplateProblem, is_truthy, render_value

logger = logging.getLogger("contexten.workflows")


@dataclass
class Job:
    """One claimed step, rendered and ready to execute."""

    step_run_id: int
    token: str
    run_id: int
    step_id: str
    action: str
    params: dict[str, Any]
    timeout_s: float
    attempt: int
    config: dict[str, Any] = field(default_factory=dict)  # the workflow document's `vars`
    extension: str = ""
    extension_version: str = ""
    extension_config: dict[str, Any] = field(default_factory=dict)
    started: bool = False  # set once the step holds a platform slot and begins its call
    lone: bool = False  # the run's only step, without a concurrency cap
    platform: str | None = None  # its action's platform (pool and slots), set at the claim


@dataclass
class Outcome:
    """What happened to a job: ok, skip, error (retryable unless permanent) or wait."""

    step_run_id: int
    token: str
    kind: str
    output: dict | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    lone: bool = False  # the run's only step, without a concurrency cap

    @property
    def finishes_its_run(self) -> bool:
        """A lone step's success: recorded with its run's in one statement (record_sql.py)."""
        return self.lone and self.kind == "ok"


# Claims rank the due steps by their turn within their workflow (claim_sql.py says how). On
# SQLite, which cannot match the `step_claim_order` partial index to bound parameters, the
# ranking sorts the due rows; the embedded default holds small backlogs.


def claim(
    limit: int, runner: str, skip_actions: frozenset[str] = frozenset()
) -> tuple[list[Job], list[Outcome]]:
    """Claim up to `limit` due steps, none of `skip_actions` (the runner's platforms with a
    full queue); answer jobs to run and outcomes decided already.

    Workflows take turns: each workflow's oldest due step comes before any workflow's second,
    so a burst of 1,000 runs of one workflow does not hold another's new step behind its
    whole backlog (Temporal's fairness keys do this for task queues)."""
    if limit <= 0:
        return [], []
    token = f"{runner}:{uuid.uuid4().hex[:8]}"
    now = timezone.now()
    if connection.vendor == "postgresql":
        claimed = claim_sql.claim_steps(limit, token, now, skip_actions)
    else:
        claimed = _claim_in_steps(limit, token, now, skip_actions)
    return prepare(claimed, token)


def _claim_in_steps(limit: int, token: str, now, skip_actions: frozenset[str]) -> list[StepRun]:
    """SQLite: rank, the guarded UPDATE (one writer at a time is the lock), then read the
    claimed steps back by token, with their runs and events."""
    if not anything_due():
        return []
    with transaction.atomic():
        ids = _in_turn(limit, now, skip_actions)[:limit]
        StepRun.objects.filter(id__in=ids, status__in=STEP_CLAIMABLE).update(
            status=StepStatus.RUNNING,
            claimed_by=token,
            attempts=F("attempts") + 1,
            heartbeat_at=Now(),
            started_at=now,
        )
    return list(
        StepRun.objects.filter(id__in=ids, claimed_by=token, status=StepStatus.RUNNING)
        .select_related("run", "run__event")
        .order_by("id")
    )


def _in_turn(limit: int, now, skip_actions: frozenset[str]) -> list[int]:
    """Ids of due steps in claim order: by turn within their workflow, then oldest first."""
    due = due_steps(now)
    if skip_actions:
        due = due.exclude(action__in=skip_actions)
    oldest = due.order_by("next_attempt_at", "id").values("id")[: limit * CLAIM_SCAN_FACTOR]
    newest = due.order_by("-next_attempt_at", "-id").values("id")[:limit]
    turn = Window(
        RowNumber(),
        partition_by=[F("run__workflow_id")],
        order_by=[F("next_attempt_at").asc(), F("id").asc()],
    )
    ranked = (
        StepRun.objects.filter(id__in={row["id"] for row in oldest} | {row["id"] for row in newest})
        .annotate(turn=turn)
        .order_by("turn", "next_attempt_at", "id")
        .values_list("id", flat=True)
    )
    return list(ranked[:limit])


def anything_due() -> bool:
    """A cheap read first, so an idle runner never opens a write transaction."""
    return due_steps().exists()


def prepare(claimed: list[StepRun], token: str) -> tuple[list[Job], list[Outcome]]:
    """Render each claimed step's inputs; an `if` that is false skips it."""
    outputs = _finished_outputs(claimed)
    jobs, decided = [], []
    for step_run in claimed:
        plan = plan_for(step_run.run.version_id)
        definition = plan.by_id[step_run.step_id]
        context = template_context(step_run.run, plan, outputs.get(step_run.run_id, {}))
        try:
            extension_config = extension_config_for(step_run.extension)
            if definition.condition and not is_truthy(definition.condition, context):
                decided.append(Outcome(step_run.pk, token, "skip", error="if was false"))
                continue
            params = render_value(definition.params, context)
        except (TemplateProblem, ExtensionUnavailable) as exc:
            decided.append(Outcome(step_run.pk, token, "error", error=str(exc), permanent=True))
            continue
        jobs.append(
            Job(
                step_run_id=step_run.pk,
                token=token,
                run_id=step_run.run_id,
                step_id=step_run.step_id,
                action=definition.action,
                params=params,
                timeout_s=definition.timeout_s,
                attempt=step_run.attempts,
                config=plan.vars,
                extension=step_run.extension,
                extension_version=step_run.extension_version,
                extension_config=extension_config,
                lone=plan.finishes_with_its_step,
            )
        )
    return jobs, decided


class ExtensionUnavailable(Exception):
    """The step's extension is disabled or gone, or its configuration cannot be resolved."""


def extension_config_for(extension: str) -> dict[str, Any]:
    """The step's extension configuration; a disabled extension fails the step at once."""
    problem = registry.unavailable(extension)
    if problem:
        raise ExtensionUnavailable(problem)
    if not extension:
        return {}
    try:
        return registry.resolved_config(extension)
    except Exception as exc:  # e.g. an env: reference to an unset variable, named
        raise ExtensionUnavailable(f"configuration of {extension}: {exc}") from None


def _finished_outputs(claimed: list[StepRun]) -> dict[int, dict[str, dict]]:
    """Outputs of earlier steps, only for runs with more than one step (one query)."""
    run_ids = {s.run_id for s in claimed if len(plan_for(s.run.version_id).steps) > 1}
    outputs: dict[int, dict[str, dict]] = {}
    if not run_ids:
        return outputs
    rows = (
        StepRun.objects.filter(run_id__in=run_ids)
        .order_by()  # the default ordering would join every step's run to sort by it
        .values_list("run_id", "step_id", "status", "output", "error")
    )
    for run_id, step_id, status, output, error in rows:
        outputs.setdefault(run_id, {})[step_id] = {
            "status": status,
            "output": output or {},
            "error": error,
        }
    return outputs


def template_context(run: Run, plan: Plan, steps: dict[str, dict]) -> dict[str, Any]:
    """What templates see: event, steps.<id>.output, config.<namespace>.<field> and vars."""
    if run.event is not None:
        event = {
            "id": run.event.pk,
            "source": run.event.source,
            "type": run.event.type,
            "delivery_id": run.event.delivery_id,
            "data": run.event.data,
        }
    else:
        event = run.input
    return {
        "event": event,
        "steps": steps,
        "config": ConfigView(config_store.effective, config_store.resolve_value),
        "vars": plan.vars,
        "run": {"id": run.pk},
    }


OUTCOME_FIELDS = [
    "status",
    "output",
    "error",
    "finished_at",
    "next_attempt_at",
    "attempts",
    "claimed_by",
    "heartbeat_at",
]


def record(outcomes: list[Outcome]) -> int:
    """Write outcomes and advance their runs in one transaction; answer how many were kept.
    On Postgres, lone steps' successes take one statement (record_sql.py)."""
    if not outcomes:
        return 0
    lone = [o for o in outcomes if o.finishes_its_run]
    if connection.vendor != "postgresql" or not lone:
        return _record(outcomes)
    with transaction.atomic():
        with prepared.cursor() as cursor:
            written, finished = record_sql.record_lone_successes(cursor, lone, timezone.now())
        kept = len(written) + _record([o for o in outcomes if not o.finishes_its_run])
    metrics.record_runs(RunStatus.SUCCEEDED, finished)
    record_durations((action, StepStatus.SUCCEEDED, started_at) for action, started_at in written)
    return kept


def _record(outcomes: list[Outcome]) -> int:
    if not outcomes:
        return 0
    with transaction.atomic():
        steps = {
            s.pk: s
            # No ordering: the model's default sorts by its run's creation (a join and a sort).
            for s in StepRun.objects.filter(
                pk__in=[o.step_run_id for o in outcomes], status=StepStatus.RUNNING
            )
            .select_related("run")
            .order_by()
        }
        kept = [
            o
            for o in outcomes
            if o.step_run_id in steps and steps[o.step_run_id].claimed_by == o.token
        ]
        for outcome in kept:
            _apply_outcome(steps[outcome.step_run_id], outcome)
        update_rows([steps[o.step_run_id] for o in kept], OUTCOME_FIELDS)
        _advance_runs({steps[o.step_run_id].run_id: steps[o.step_run_id].run for o in kept})
    record_durations(
        (step.action, step.status, step.started_at) for step in (steps[o.step_run_id] for o in kept)
    )
    return len(kept)


def record_durations(steps) -> None:
    """Step latency (claim to outcome) for /metrics and the dashboard, from (action, status,
    started_at) per step recorded."""
    now = timezone.now()
    for action, status, started_at in steps:
        if started_at is not None:
            metrics.record_step(action, status, (now - started_at).total_seconds())


def _apply_outcome(step: StepRun, outcome: Outcome) -> None:
    now = timezone.now()
    step.claimed_by, step.heartbeat_at = "", None
    if outcome.kind == "ok":
        step.status, step.output, step.error, step.finished_at = (
            StepStatus.SUCCEEDED,
            outcome.output or {},
            "",
            now,
        )
    elif outcome.kind == "skip":
        step.status, step.error, step.finished_at = StepStatus.SKIPPED, outcome.error, now
    elif outcome.kind == "wait":
        # An open breaker: try again later without spending an attempt.
        step.status, step.error = StepStatus.WAITING, outcome.error
        step.attempts = max(step.attempts - 1, 0)
        wait_s = 1.0 if outcome.retry_after is None else outcome.retry_after
        step.next_attempt_at = now + timedelta(seconds=wait_s)
    else:
        _apply_error(step, outcome, now)


def _apply_error(step: StepRun, outcome: Outcome, now) -> None:
    retry = plan_for(step.run.version_id).by_id[step.step_id].retry
    step.error = outcome.error[:4000]
    if outcome.permanent or step.attempts >= retry.max_attempts:
        step.status, step.finished_at = StepStatus.FAILED, now
        return
    step.status = StepStatus.WAITING
    step.next_attempt_at = now + timedelta(seconds=backoff_s(retry, step.attempts, outcome))


def backoff_s(retry, attempts: int, outcome: Outcome) -> float:
    """Jittered exponential (or fixed) backoff; the platform's Retry-After wins when longer."""
    if retry.backoff == "fixed":
        base = retry.initial_s
    else:
        base = min(retry.max_s, retry.initial_s * 2 ** max(attempts - 1, 0))
    delay = base / 2 + random.uniform(0, base / 2)  # "equal jitter": never below half
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return delay


def _advance_runs(runs: dict[int, Run]) -> None:
    """Decide the next steps of each touched run from all its step rows (one query)."""
    active = {pk: run for pk, run in runs.items() if run.status == RunStatus.RUNNING}
    if not active:
        return
    by_run: dict[int, list[StepRun]] = {}
    for step in StepRun.objects.filter(run_id__in=active).order_by("position"):
        by_run.setdefault(step.run_id, []).append(step)
    changed, succeeded = [], []
    for run_id, run in active.items():
        changed += advance(run, by_run[run_id], plan_for(run.version_id), succeeded)
    save_steps(changed)
    finish_succeeded(succeeded)
    if any(step.status == StepStatus.READY for step in changed):
        # Runner processes claim when rung (runner_process.py), as for a new run's steps.
        transaction.on_commit(doorbell.ring)


def heartbeat(tokens: set[str]) -> None:
    """Tell the sweeper these claims are alive."""
    if tokens:
        StepRun.objects.filter(claimed_by__in=tokens, status=StepStatus.RUNNING).update(
            heartbeat_at=Now()  # database time: the sweeper compares with the same clock
        )
