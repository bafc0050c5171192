"""The periodic jobs the event store needs, as django-q2 Schedule rows (created by migration
0002, idempotently: re-running updates the rows instead of adding more). They follow
EVENT_SWEEP_INTERVAL_MINUTES at every `serve` and `qcluster` start too (core/schedules.py),
not only when `migrate` ran."""

from django.conf import settings

SWEEP = "events.sweep"
PRUNE = "events.prune"


def ensure_schedules(schedule_model=None) -> str:
    """Create or update the sweeper and the retention prune; `schedule_model` may be the
    historical model a migration hands over."""
    if schedule_model is None:
        from django_q.models import Schedule as schedule_model
    schedule_model.objects.update_or_create(
        name=SWEEP,
        defaults={
            "func": "orchestrator.events.dispatch.sweep_events",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": settings.EVENT_SWEEP_INTERVAL_MINUTES,
            "repeats": -1,
        },
    )
    schedule_model.objects.update_or_create(
        name=PRUNE,
        defaults={
            "func": "orchestrator.events.dispatch.prune_events",
            "schedule_type": "H",  # Schedule.HOURLY: small batches, often
            "repeats": -1,
        },
    )
    return f"event sweep every {settings.EVENT_SWEEP_INTERVAL_MINUTES} min"
