"""Dispatch stored events to their subscribers, re-drive stuck ones, replay and prune.

Every function here takes ids or filters, re-reads the database and claims work with a
conditional UPDATE, so running any of them twice (a duplicate doorbell, two sweepers, a
replay during a dispatch) never loses an event; at worst a subscriber hears it twice.
"""

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from extensions import registry
from orchestrator.events import subscribers
from orchestrator.events.models import Event, Status
from orchestrator.events.store import ring_doorbell, ring_doorbells
from orchestrator.health import metrics

logger = logging.getLogger("contexten.events")

# Rows the sweeper re-queues per run; the rest wait for the next run.
SWEEP_BATCH = 1000
# Rows per UPDATE/DELETE in replay and prune, so a big filter never builds one huge statement.
BATCH = 1000
MAX_ERROR_CHARS = 2000


def dispatch_event(event_id: int) -> str:
    """Claim the event, call every subscriber with it, record the outcome. The task body."""
    event = claim(event_id)
    if event is None:
        return "skipped"
    if registry.is_disabled(event.source):
        return hold(event)
    for path in subscribers.EVENT_SUBSCRIBERS:
        try:
            import_string(path)(event)
        except Exception as exc:  # a subscriber's failure, or one that cannot be imported
            return record_failure(event, f"{path}: {type(exc).__name__}: {exc}")
    Event.objects.filter(pk=event.pk, status=Status.DISPATCHED).update(
        status=Status.DONE, finished_at=timezone.now(), status_changed_at=timezone.now()
    )
    metrics.record_event(event.source, event.type, "done")
    return "done"


def hold(event: Event) -> str:
    """A disabled extension's event goes back to `received`, untouched, until it is enabled
    again (enabling rings for it)."""
    Event.objects.filter(pk=event.pk, status=Status.DISPATCHED).update(
        status=Status.RECEIVED, attempts=F("attempts") - 1, status_changed_at=timezone.now()
    )
    return "held"


def dispatch_events(event_ids: list[int]) -> list[str]:
    """Dispatch several events in turn: the task body of a batched doorbell."""
    return [dispatch_event(event_id) for event_id in event_ids]


def claim(event_id: int) -> Event | None:
    """Move a `received` event to `dispatched` in one statement; None if someone else has it."""
    table = Event._meta.db_table
    rows = Event.objects.raw(
        f"UPDATE {table} SET status = %s, attempts = attempts + 1, status_changed_at = %s"  # noqa: S608
        " WHERE id = %s AND status = %s RETURNING *",
        [Status.DISPATCHED, timezone.now(), event_id, Status.RECEIVED],
    )
    return next(iter(rows), None)


def record_failure(event: Event, error: str) -> str:
    """Mark the attempt failed (retried later with backoff) or dead after the last one."""
    error = error[:MAX_ERROR_CHARS]
    now = timezone.now()
    dead = event.attempts >= settings.EVENT_MAX_ATTEMPTS
    changes = {"status": Status.DEAD if dead else Status.FAILED, "last_error": error}
    changes["status_changed_at"] = now
    changes["next_attempt_at"] = None if dead else now + retry_delay(event.attempts)
    changes["finished_at"] = now if dead else None
    Event.objects.filter(pk=event.pk, status=Status.DISPATCHED).update(**changes)
    metrics.record_event(event.source, event.type, "dead" if dead else "failed")
    slug = "events.dead" if dead else "events.dispatch-failed"
    logger.warning(slug, extra={"event_id": event.pk, "attempts": event.attempts, "error": error})
    return "dead" if dead else "failed"


def retry_delay(attempts: int) -> timedelta:
    """Jittered exponential backoff, capped: full jitter over base * 2^(attempts-1)."""
    exponential = settings.EVENT_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    ceiling = min(settings.EVENT_RETRY_MAX_SECONDS, exponential)
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def sweep_events() -> int:
    """Re-queue events stuck in received/dispatched, or failed and due; bury the exhausted."""
    now = timezone.now()
    stuck_before = now - timedelta(seconds=settings.EVENT_STUCK_AFTER_SECONDS)
    stuck = Q(status__in=[Status.RECEIVED, Status.DISPATCHED], status_changed_at__lt=stuck_before)
    # A disabled extension's events are held on purpose (enabling rings for them): sweeping
    # them every few seconds would only dispatch them back to `received`.
    held = [name for name, item in registry.installed().items() if not item.enabled]
    stuck &= ~Q(status=Status.RECEIVED, source__in=held)
    due = Q(status=Status.FAILED, next_attempt_at__lte=now)
    exhausted = Event.objects.filter(
        status=Status.DISPATCHED,
        status_changed_at__lt=stuck_before,
        attempts__gte=settings.EVENT_MAX_ATTEMPTS,
    )
    buried = exhausted.update(
        status=Status.DEAD, finished_at=now, status_changed_at=now, last_error="worker lost"
    )
    # Runner processes on every host sweep every few seconds: SKIP LOCKED (Postgres) gives
    # concurrent sweeps disjoint rows, so each event is re-queued and rung once.
    with transaction.atomic():
        rows = Event.objects.filter(stuck | due).order_by()
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.values_list("id", flat=True)[:SWEEP_BATCH])
        Event.objects.filter(Q(id__in=ids) & (stuck | due)).update(
            status=Status.RECEIVED, status_changed_at=now, next_attempt_at=None
        )
    for event_id in ids:
        ring_doorbell(event_id)
    if ids or buried:
        logger.info("events.swept", extra={"requeued": len(ids), "buried": buried})
    return len(ids)


def replay(events: QuerySet[Event], progress: Callable[[int, int], None] | None = None) -> int:
    """Reset the events to `received` with a fresh attempt budget and ring their doorbells,
    BATCH rows at a time (one UPDATE and one batched doorbell push each); `progress(done,
    total)` hears about each batch."""
    ids = list(events.order_by().values_list("id", flat=True))
    now = timezone.now()
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        Event.objects.filter(id__in=batch).update(
            status=Status.RECEIVED,
            attempts=0,
            last_error="",
            next_attempt_at=None,
            finished_at=None,
            status_changed_at=now,
        )
        ring_doorbells(batch)
        if progress is not None:
            progress(start + len(batch), len(ids))
    logger.info("events.replayed", extra={"count": len(ids)})
    return len(ids)


def prune_events() -> int:
    """Delete finished events older than EVENT_RETENTION_DAYS, BATCH rows per statement.

    Walks the primary key (`id > last`) instead of re-running one filter: deleted rows stay
    in the indexes as dead entries until vacuum, so re-scanning from the start would read
    them again on every batch. Each batch commits on its own, so ingest never waits on it.
    """
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    finished = Event.objects.filter(received_at__lt=cutoff, status__in=[Status.DONE, Status.DEAD])
    total = last = 0
    while ids := list(
        finished.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:BATCH]
    ):
        # only("id"): the collector needs instances (runs point here, SET_NULL), not payloads.
        total += Event.objects.filter(id__in=ids).only("id").delete()[1].get("events.Event", 0)
        last = ids[-1]
    if total:
        logger.info("events.pruned", extra={"count": total, "cutoff": cutoff.isoformat()})
    return total
