"""Every periodic job follows its setting after a restart: `serve` and each `qcluster` worker
re-sync the django-q2 Schedule rows from the settings when they start (migrations only make
the rows once, so a setting changed later would otherwise do nothing).

Each follower is idempotent (update_or_create on the schedule's name, next_run untouched).
"""

import logging

from django.db import DatabaseError
from django.utils.module_loading import import_string

logger = logging.getLogger("contexten.schedules")

FOLLOWERS = (
    "orchestrator.events.schedules.ensure_schedules",  # EVENT_SWEEP_INTERVAL_MINUTES
    "orchestrator.workflows.sweeper.ensure_schedule",  # WORKFLOW_SWEEP_MINUTES
    "orchestrator.health.detect.ensure_schedule",  # HEALTH_CHECK_INTERVAL_SECONDS
    "orchestrator.flags.guard.follow_interval_setting",  # FLAGS_GUARD_INTERVAL_SECONDS
)
_followed = False


def follow_settings() -> list[str]:
    """Bring every schedule to its setting; answer what each follower said."""
    return [str(import_string(path)() or path) for path in FOLLOWERS]


def follow_once_per_process(**_signal) -> None:
    """django-q2's post_spawn receiver: the first worker of a cluster to start re-syncs."""
    global _followed
    if _followed:
        return
    _followed = True
    from django_q.models import Schedule

    try:
        if not Schedule.objects.exists():
            return  # never migrated (or flushed): migrate makes the rows, not a worker
        follow_settings()
    except DatabaseError as exc:  # not migrated yet: migrate makes the rows
        logger.warning("schedules.not-followed error=%s", exc)
