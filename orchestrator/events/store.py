"""Store a delivery exactly once and ring the dispatch doorbell.

This is the ingest hot path: one `INSERT … ON CONFLICT DO NOTHING RETURNING` (the unique
constraint on (source, delivery_id) decides between concurrent duplicates), then one broker
push. The payload goes in as the verified JSON text, never re-serialised.

The statement and the result type are shared with the fast path's group commit
(`group_commit.py`): `insert_statement` builds the INSERT for one row or many, and both
answer a `Stored` per row.
"""

import json
import logging
from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from orchestrator.core import backends
from orchestrator.events.models import Event, Status

logger = logging.getLogger("contexten.events")

# The one doorbell task: it claims its events and others waiting, and dispatches them as a batch.
DISPATCH_MANY_TASK = "orchestrator.events.dispatch.dispatch_events"
# Event ids per doorbell task (the task also drains others waiting).
DOORBELL_BATCH = 20
TABLE = Event._meta.db_table
COLUMNS = (
    "source, type, delivery_id, received_at, status_changed_at, data, status, finished_at,"
    " attempts, last_error"
)


@dataclass(frozen=True)
class Stored:
    """What storing one delivery did: the row's id, whether it was there already, and
    whether it went in `done`, its runs with it (workflows/at_ingest.py)."""

    id: int
    duplicate: bool
    done: bool = False


def row_template(jsonb: bool) -> str:
    """One row of `row_values`; `jsonb` casts the payload text on Postgres."""
    return "(%s, %s, %s, %s, %s, %s" + ("::jsonb" if jsonb else "") + ", %s, %s, 0, '')"


def insert_statement(rows: int, jsonb: bool, templates: list[str] | None = None) -> str:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id, source, delivery_id, status` for `rows`
    rows of `row_values`, each as `row_template` unless `templates` says otherwise (one per
    row: a planned row decides its status in the statement, workflows/at_ingest.py)."""
    values = templates or [row_template(jsonb)] * rows
    return (
        f"INSERT INTO {TABLE} ({COLUMNS}) VALUES "  # noqa: S608 - our own table and columns
        + ", ".join(values)
        + " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id, source, delivery_id, status"
    )


def row_values(
    source: str, type: str, delivery_id: str, data_json: str, planned: bool = False
) -> tuple:
    """The parameters of one row of `insert_statement`, in column order. A planned row's
    `finished_at` is its time of storing, used only if the statement finds it done."""
    now = timezone.now()
    return (
        source,
        type,
        delivery_id,
        now,
        now,
        data_json,
        Status.RECEIVED,
        now if planned else None,
    )


def existing_statement(keys: int) -> str:
    """Look up the ids of `keys` (source, delivery_id) pairs already stored."""
    pairs = ", ".join(["(%s, %s)"] * keys)
    return f"SELECT id, source, delivery_id FROM {TABLE} WHERE (source, delivery_id) IN ({pairs})"  # noqa: S608


def store_event(source: str, type: str, delivery_id: str, data_json: str) -> Stored:
    """Insert the event unless (source, delivery_id) exists; ring the doorbell if new."""
    jsonb = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(insert_statement(1, jsonb), row_values(source, type, delivery_id, data_json))
        row = cursor.fetchone()
        if row is None:
            cursor.execute(existing_statement(1), [source, delivery_id])
            return Stored(cursor.fetchone()[0], duplicate=True)
    event_id = row[0]
    transaction.on_commit(lambda: ring_doorbell(event_id))
    return Stored(event_id, duplicate=False)


def store_payload(source: str, type: str, delivery_id: str, data: dict) -> Stored:
    """Store a payload built in Python (form bodies, tests, the demo)."""
    return store_event(source, type, delivery_id, json.dumps(data))


@cache
def doorbell_broker() -> Broker:
    """One broker per process: django-q2 otherwise opens a new Redis client per task."""
    return get_broker()


def ring_doorbell(event_id: int) -> None:
    """Ask a worker to dispatch the event (and whatever else is waiting: `dispatch_events`
    drains). A lost ring is harmless: the sweeper re-drives."""
    ring_doorbells([event_id])


def ring_doorbells(event_ids: list[int]) -> None:
    """Ring for many events at once: their ids on the dispatchers' list while a dispatcher is
    alive (dispatchers.py), else one `dispatch_events` task per DOORBELL_BATCH ids."""
    if backends.redis_in_use() and push_to_dispatchers(event_ids):
        return
    for start in range(0, len(event_ids), DOORBELL_BATCH):
        batch = event_ids[start : start + DOORBELL_BATCH]
        if backends.redis_configured() and not backends.redis_in_use():
            return  # Redis (the broker) is down; the sweeper re-drives them
        try:
            async_task(DISPATCH_MANY_TASK, batch, broker=doorbell_broker(), save=False)
        except Exception as exc:  # the rows are safe; the sweeper re-drives them
            logger.warning("events.doorbell-failed count=%d error=%s", len(batch), exc)
            if isinstance(exc, backends.redis_errors()):
                backends.health.failed(backends.LEASES, exc)


def push_to_dispatchers(event_ids: list[int]) -> bool:
    """Put the ids on the dispatchers' list if any dispatcher is alive; answer whether."""
    from orchestrator.events import dispatchers

    try:
        if not event_ids or not dispatchers.dispatchers_alive():
            return False
        dispatchers.push(event_ids)
    except backends.redis_errors() as exc:  # the tasks' path finds Redis down too
        backends.health.failed(backends.LEASES, exc)
        return False
    return True
