"""The detection job (a django-q2 schedule): measure, store, judge, heal, tell.

One round:
1. run every check: the cheap local ones, the backlog and lag detectors, each enabled
   platform's API and every extension's checks;
2. store the results as history (pruned after HEALTH_RETENTION_HOURS);
3. fold them into each check's baseline and hysteresis; open and resolve incidents;
4. project trends forward and warn before a limit is crossed, naming the likely cause;
5. fire, repeat and resolve alerts, escalating what is due;
6. run the recovery catalog for open incidents.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from orchestrator.health import alerts, evaluate, recovery
from orchestrator.health import state as health_state
from orchestrator.health.checks import run_checks
from orchestrator.health.detectors import run_local_detectors, run_remote_detectors
from orchestrator.health.models import CheckResult

logger = logging.getLogger("contexten.health")
SCHEDULE_NAME = "health.detect"
PRUNE_BATCH = 5000


def run_detection() -> dict:
    """The scheduled job; answer counts for the task log."""
    with health_state.one_announcement():
        return detect_once()


def detect_once() -> dict:
    follow_interval_setting()
    now = timezone.now()
    results = {**run_checks(), **run_local_detectors(), **run_remote_detectors()}
    rows = evaluate.store(results, now)
    transitions = evaluate.update_states(rows)
    evaluate.sync_incidents(now)
    forecasts = evaluate.forecasts(now)
    notices = alerts.notify(alerts.sync_alerts(alerts.wanted_alerts(forecasts), now), now)
    executions = recovery.run_recoveries(now)
    for change in transitions:
        logger.log(logging.INFO if change.new == "pass" else logging.WARNING,
                   "health.%s check=%s from=%s %s", change.new, change.name, change.old,
                   change.output)  # fmt: skip
    return {"checks": len(rows), "changed": len(transitions), "forecasts": len(forecasts),
            "notices": notices, "recoveries": len(executions), "pruned": prune(now)}  # fmt: skip


def prune(now) -> int:
    """Delete history older than HEALTH_RETENTION_HOURS, a batch a round."""
    cutoff = now - timedelta(hours=settings.HEALTH_RETENTION_HOURS)
    ids = list(
        CheckResult.objects.filter(time__lt=cutoff)
        .order_by()
        .values_list("id", flat=True)[:PRUNE_BATCH]
    )
    return CheckResult.objects.filter(id__in=ids).delete()[0] if ids else 0


def schedule_cron() -> str:
    # croniter's sixth field is seconds; django-q2's scheduler looks every 30 s.
    seconds = max(1, min(59, settings.HEALTH_CHECK_INTERVAL_SECONDS))
    return f"* * * * * */{seconds}"


def ensure_schedule(schedule_model=None) -> str:
    """Create or update the detection schedule from the settings (idempotent): run by the
    migration, by `serve` at start-up and by every round."""
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    _, created = schedule_model.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "orchestrator.health.detect.run_detection",
            "schedule_type": "C",
            "cron": schedule_cron(),
            "repeats": -1,
        },
    )
    return f"health detection schedule {'created' if created else 'kept'} ({schedule_cron()!r})"


def follow_interval_setting() -> None:
    from django_q.models import Schedule

    cron = schedule_cron()
    Schedule.objects.filter(name=SCHEDULE_NAME).exclude(cron=cron).update(cron=cron)
