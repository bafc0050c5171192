"""Dispatch stored events to their subscribers, re-drive stuck ones, replay and prune.

Every function here takes ids or filters, re-reads the database and claims work with a
conditional UPDATE, so running any of them twice (a duplicate doorbell, two sweepers, a
replay during a dispatch) never loses an event; at worst a subscriber hears it twice.

Dispatch is batched: one doorbell task claims the events it was rung for and up to DRAIN more
that are waiting (`received`, oldest first; on Postgres `FOR UPDATE SKIP LOCKED`, so two
dispatchers never wait on, nor share, a row) in one UPDATE, hands the whole batch to each
subscriber, and marks the batch done in one more. At 1,000 events that is a few statements per
batch instead of three per event, and doorbells queued behind a busy worker find their events
already taken and cost one empty UPDATE.
"""

import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from extensions import registry
from orchestrator.core import lookups, prepared
from orchestrator.events import subscribers
from orchestrator.events.models import Event, Status
from orchestrator.events.store import ring_doorbells
from orchestrator.health import metrics

logger = logging.getLogger("contexten.events")

# Rows the sweeper re-queues per run; the rest wait for the next run.
SWEEP_BATCH = 1000
# Rows per UPDATE/DELETE in replay and prune, so a big filter never builds one huge statement.
BATCH = 1000
# Waiting events a doorbell task takes besides its own: enough to turn a burst into a few
# batches, few enough that one batch's runs are created well within a task's timeout.
DRAIN = 200
# Draining looks at the oldest DRAIN_SCAN_FACTOR x drain and the newest `drain` waiting events.
DRAIN_SCAN_FACTOR = 4
# A type with at most 1/FEW_SHARE of a batch's events is dispatched before the others (`turns`).
FEW_SHARE = 4
MAX_ERROR_CHARS = 2000
TABLE = Event._meta.db_table


def dispatch_event(event_id: int) -> str:
    """Dispatch exactly this event (no draining); answer its outcome."""
    return dispatch_claimed(claim([event_id], drain=0)).get(event_id, "skipped")


def dispatch_events(event_ids: list[int], drain: int | None = None) -> dict[str, int]:
    """The doorbell task: claim these events and up to `drain` (DRAIN) waiting ones, dispatch
    them as one batch; answer how many ended how."""
    outcomes = dispatch_claimed(claim(event_ids, drain=DRAIN if drain is None else drain))
    return dict(Counter(outcomes.values()))


def dispatch_claimed(events: list[Event]) -> dict[int, str]:
    """Call every subscriber with the claimed batch and record each event's outcome."""
    # The batch sees the registry as it is now, not as this process last looked (up to a
    # poll ago): an event sent after an upgrade or a disable was answered runs on the new
    # state. One generation read per batch.
    registry.check_soon()
    outcomes: dict[int, str] = {}
    held = [event for event in events if registry.is_disabled(event.source)]
    if held:
        outcomes |= hold(held)
    for turn in turns([event for event in events if event.pk not in outcomes]):
        outcomes |= deliver_to_all(turn)
    return outcomes


def turns(batch: list[Event]) -> list[list[Event]]:
    """The batch in the order its parts go to the subscribers: the events of the types that
    are few in it first, then the rest (a batch of one type, or of types about as many as
    each other, is one turn).

    A subscriber writes a whole batch's runs in one statement, so the few issues that a
    claim took with 200 pull requests of a burst waited for all 200 runs to be written
    (up to 96 ms of a trigger's latency on 2 cores, docs/performance.md, "seventh pass");
    in a turn of their own they are written, committed and rung first."""
    counts = Counter(event.type for event in batch)
    few = len(batch) // FEW_SHARE
    first = [event for event in batch if counts[event.type] <= few]
    rest = [event for event in batch if counts[event.type] > few]
    return [turn for turn in (first, rest) if turn]


def deliver_to_all(batch: list[Event]) -> dict[int, str]:
    """Hand the batch to every subscriber in turn, then mark what none failed on done."""
    outcomes: dict[int, str] = {}
    for path in subscribers.EVENT_SUBSCRIBERS:
        if not batch:
            break
        for event, error in deliver(path, batch):
            outcomes[event.pk] = record_failure(event, error)
        batch = [event for event in batch if event.pk not in outcomes]
    return outcomes | mark_done(batch)


def deliver(path: str, batch: list[Event]) -> list[tuple[Event, str]]:
    """Hand the batch to one subscriber; answer the events it failed on, with why. When the
    batch fails, each event is tried alone (subscribers are idempotent), so one bad event
    fails alone instead of taking the batch with it."""
    try:
        subscriber = import_string(path)
        subscriber(batch)
        return []
    except Exception as exc:  # a subscriber's failure, or one that cannot be imported
        if len(batch) == 1:
            return [(batch[0], f"{path}: {type(exc).__name__}: {exc}")]
    return [failure for event in batch for failure in deliver(path, [event])]


def mark_done(events: list[Event]) -> dict[int, str]:
    if not events:
        return {}
    now = timezone.now()
    Event.objects.filter(pk__in=[e.pk for e in events], status=Status.DISPATCHED).update(
        status=Status.DONE, finished_at=now, status_changed_at=now
    )
    for event in events:
        metrics.record_event(event.source, event.type, "done")
    return dict.fromkeys((event.pk for event in events), "done")


def hold(events: list[Event]) -> dict[int, str]:
    """A disabled extension's events go back to `received`, untouched, until it is enabled
    again (enabling rings for them)."""
    Event.objects.filter(pk__in=[e.pk for e in events], status=Status.DISPATCHED).update(
        status=Status.RECEIVED, attempts=F("attempts") - 1, status_changed_at=timezone.now()
    )
    return dict.fromkeys((event.pk for event in events), "held")


def claim(event_ids: list[int], drain: int = 0) -> list[Event]:
    """Move up to len(event_ids) + `drain` `received` events to `dispatched` in one statement,
    taking turns by event type; answer the rows claimed.

    The candidates are these events and, when draining, the oldest DRAIN_SCAN_FACTOR x
    `drain` and newest `drain` waiting ones (not of a disabled extension). Each type's oldest
    candidate comes before any type's second, as steps take turns by workflow (claim_sql.py):
    a burst of 1,000 pull requests queued ahead of an issue no longer holds the issue's run
    behind the whole burst (its ids are ahead of the issue's on the dispatchers' list, and
    the issue is a candidate of the next claim as one of the newest waiting). An event another
    dispatcher holds is skipped (Postgres: SKIP LOCKED; SQLite runs one writer at a time),
    and the `status = received` condition makes every claim exclusive."""
    limit = len(event_ids) + drain
    if not limit:
        return []
    postgres = connection.vendor == "postgresql"
    lock = " FOR UPDATE OF e SKIP LOCKED" if postgres else ""
    if postgres:  # one text parameter, whatever the count (core/lookups.py says why)
        given, params = f"id = ANY({lookups.ARRAY_SQL})", [",".join(map(str, map(int, event_ids)))]
    else:
        given, params = f"id IN ({', '.join(['%s'] * len(event_ids)) or 'NULL'})", list(event_ids)
    candidates = [f"SELECT id FROM {TABLE} WHERE {given} AND status = %s"]  # noqa: S608
    params.append(Status.RECEIVED)
    if drain:
        disabled = disabled_sources()
        skip = f" AND source NOT IN ({', '.join(['%s'] * len(disabled))})" if disabled else ""
        for order, count in (("", drain * DRAIN_SCAN_FACTOR), (" DESC", drain)):
            candidates.append(
                f"SELECT * FROM (SELECT id FROM {TABLE} WHERE status = %s{skip}"  # noqa: S608
                f" ORDER BY received_at{order} LIMIT %s) AS waiting"
            )
            params += [Status.RECEIVED, *disabled, count]
    picked = "= ANY(ARRAY(SELECT id FROM picked))" if postgres else "IN (SELECT id FROM picked)"
    # The columns by name, in the model's order: `prepared.instance` reads them by position,
    # and a prepared `RETURNING *` fails ("cached plan must not change result type") once a
    # migration adds a column under a running process.
    sql = CLAIM_SQL.format(
        candidates=" UNION ".join(candidates), lock=lock, table=TABLE, picked=picked,
        columns=", ".join(field.column for field in Event._meta.concrete_fields),
    )  # fmt: skip
    params += [Status.RECEIVED, limit, Status.DISPATCHED, timezone.now(), Status.RECEIVED]
    # On Postgres one text per (draining or not, disabled sources): prepared once each.
    with prepared.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted((prepared.instance(Event, row) for row in rows), key=lambda event: event.pk)


# The table is ours and every value a parameter. On Postgres the picked ids go to the UPDATE
# as one array, so it finds its rows by primary key: an OR of two IN lists made it scan
# every waiting row (187 ms against 19 ms at a backlog of 60,000).
CLAIM_SQL = """
    WITH candidate AS ({candidates}),
    ranked AS (
        SELECT e.id, e.received_at,
            row_number() OVER (PARTITION BY e.type ORDER BY e.received_at, e.id) AS turn
        FROM {table} e WHERE e.id IN (SELECT id FROM candidate)
    ),
    picked AS (
        SELECT e.id FROM {table} e JOIN ranked ON ranked.id = e.id WHERE e.status = %s
        ORDER BY ranked.turn, ranked.received_at, ranked.id LIMIT %s{lock}
    )
    UPDATE {table} SET status = %s, attempts = attempts + 1, status_changed_at = %s
    WHERE id {picked} AND status = %s RETURNING {columns}
"""


def disabled_sources() -> list[str]:
    return sorted(name for name, item in registry.installed().items() if not item.enabled)


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
    ring_doorbells(ids)
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
