"""The sweeper (a django-q2 schedule): re-drive what a dead worker or a lost doorbell left.

- a running step whose heartbeat is older than WORKFLOW_HEARTBEAT_TIMEOUT goes back to
  ready (its side effect may repeat: actions are at-least-once, with an idempotency key);
- a running run with nothing claimable is advanced again;
- pending runs are admitted when their workflow has room;
- if anything is due, the doorbell rings.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone

from orchestrator.workflows import doorbell, engine
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus

logger = logging.getLogger("contexten.workflows")
SCHEDULE_NAME = "workflows.sweep"


def sweep() -> dict:
    """Run every repair once; answer counts for the task log."""
    counts = {
        "redriven": redrive_stale_steps(),
        "advanced": advance_stalled_runs(),
        "admitted": admit_pending_runs(),
    }
    if engine.seconds_until_next_due(0) is not None:
        # Re-driven steps mean a runner died; its lease may still look alive for a few seconds.
        takeover = bool(counts["redriven"])
        force = takeover or doorbell.runners_holding() == 0
        counts["rang"] = doorbell.ring(force=force, takeover=takeover)
    if any(counts.values()):
        logger.info("workflows.sweep %s", counts)
    ensure_schedule()  # follow WORKFLOW_SWEEP_MINUTES if the operator changed it
    return counts


def redrive_stale_steps() -> int:
    """Heartbeats are written and compared in database time (steps.py), so neither a host
    whose clock jumps nor hosts with skewed clocks re-drive live steps or keep dead ones."""
    now = timezone.now()
    stale = Now() - timedelta(seconds=settings.WORKFLOW_HEARTBEAT_TIMEOUT)
    return StepRun.objects.filter(status=StepStatus.RUNNING, heartbeat_at__lt=stale).update(
        status=StepStatus.READY,
        next_attempt_at=now,
        claimed_by="",
        heartbeat_at=None,
        error="worker lost mid-step; re-driven",
    )


def advance_stalled_runs(limit: int = 500) -> int:
    unsettled = [StepStatus.READY, StepStatus.RUNNING, StepStatus.WAITING]
    stalled = list(
        Run.objects.filter(status=RunStatus.RUNNING).exclude(steps__status__in=unsettled)[:limit]
    )
    for run in stalled:
        with transaction.atomic():
            steps = list(StepRun.objects.filter(run=run).order_by("position"))
            engine.save_steps(engine.advance(run, steps, engine.plan_for(run.version_id)))
    return len(stalled)


def admit_pending_runs() -> int:
    admitted = 0
    workflow_ids = set(
        Run.objects.filter(status=RunStatus.PENDING).values_list("workflow_id", flat=True)
    )
    for workflow_id in workflow_ids:
        run = Run.objects.filter(workflow_id=workflow_id, status=RunStatus.PENDING).first()
        with transaction.atomic():
            admitted += engine.admit(workflow_id, engine.plan_for(run.version_id).concurrency)
    return admitted


def ensure_schedule() -> None:
    """Keep the sweeper's django-q2 schedule at WORKFLOW_SWEEP_MINUTES."""
    from django_q.models import Schedule

    minutes = settings.WORKFLOW_SWEEP_MINUTES
    if Schedule.objects.filter(name=SCHEDULE_NAME, minutes=minutes).exists():
        return
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "orchestrator.workflows.sweeper.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )
