"""Store a delivery exactly once and ring the dispatch doorbell.

This is the ingest hot path: one `INSERT … ON CONFLICT DO NOTHING RETURNING id` (the unique
constraint on (source, delivery_id) decides between concurrent duplicates), then one broker
push. The payload goes in as the verified JSON text, never re-serialised.
"""

import json
import logging
from dataclasses import dataclass
from functools import cache

from django.db import connection, transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task

from orchestrator.events.models import Event, Status

logger = logging.getLogger("contexten.events")

DISPATCH_TASK = "orchestrator.events.dispatch.dispatch_event"


@dataclass(frozen=True)
class Stored:
    id: int
    duplicate: bool


def store_event(source: str, type: str, delivery_id: str, data_json: str) -> Stored:
    """Insert the event unless (source, delivery_id) exists; ring the doorbell if new."""
    table = Event._meta.db_table
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (source, type, delivery_id, received_at, status_changed_at,"  # noqa: S608 - table name is ours
            " data, status, attempts, last_error)"
            f" VALUES (%s, %s, %s, %s, %s, %s{cast}, %s, 0, '')"
            " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id",
            [source, type, delivery_id, now, now, data_json, Status.RECEIVED],
        )
        row = cursor.fetchone()
        if row is None:
            return Stored(existing_id(cursor, source, delivery_id), duplicate=True)
    event_id = row[0]
    transaction.on_commit(lambda: ring_doorbell(event_id))
    return Stored(event_id, duplicate=False)


def existing_id(cursor, source: str, delivery_id: str) -> int:
    table = Event._meta.db_table
    cursor.execute(
        f"SELECT id FROM {table} WHERE source = %s AND delivery_id = %s",  # noqa: S608
        [source, delivery_id],
    )
    return cursor.fetchone()[0]


def store_payload(source: str, type: str, delivery_id: str, data: dict) -> Stored:
    """Store a payload built in Python (form bodies, tests, the demo)."""
    return store_event(source, type, delivery_id, json.dumps(data))


@cache
def doorbell_broker() -> Broker:
    """One broker per process: django-q2 otherwise opens a new Redis client per task."""
    return get_broker()


def ring_doorbell(event_id: int) -> None:
    """Ask a worker to dispatch the event. A lost ring is harmless: the sweeper re-drives."""
    try:
        async_task(DISPATCH_TASK, event_id, broker=doorbell_broker(), save=False)
    except Exception:  # any broker failure; the row is already safe in the database
        logger.exception("events.doorbell-failed", extra={"event_id": event_id})
