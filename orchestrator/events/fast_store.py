"""The Postgres store for the webhook fast path: async psycopg on the event loop, no threads.

Same statement and same outcome as `store.store_event` (which SQLite and the Django view use),
but it runs on the loop through a psycopg `AsyncConnectionPool`, so a webhook costs no thread
hop and no GIL hand-off (measured: docs/architecture.md, "Events"). The statement is prepared
by psycopg after its first uses. The doorbell is the same django-q2 task as elsewhere.
"""

import asyncio
import logging

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from django_q.conf import Conf
from django_q.tasks import async_task
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from orchestrator.events.models import Event, Status
from orchestrator.events.store import DISPATCH_TASK, Stored, ring_doorbell

logger = logging.getLogger("contexten.events")

TABLE = Event._meta.db_table
INSERT = (
    f"INSERT INTO {TABLE} (source, type, delivery_id, received_at, status_changed_at, data,"  # noqa: S608
    " status, attempts, last_error) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, 0, '')"
    " ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id"
)
EXISTING = f"SELECT id FROM {TABLE} WHERE source = %s AND delivery_id = %s"  # noqa: S608
# Connection parameters Django adds for its own cursors; the pool uses psycopg's defaults.
DJANGO_ONLY_PARAMS = {"cursor_factory", "context", "prepare_threshold"}

# One pool per event loop: uvicorn runs one loop per process; tests run one per test.
_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}


def enabled() -> bool:
    return connections["default"].vendor == "postgresql"


async def pool() -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    if loop not in _pools:
        params = connections["default"].get_connection_params()
        kwargs = {k: v for k, v in params.items() if k not in DJANGO_ONLY_PARAMS}
        kwargs["autocommit"] = True
        created = AsyncConnectionPool(
            kwargs=kwargs,
            min_size=1,
            max_size=settings.WEBHOOK_POOL_MAX,
            timeout=10,
            open=False,
            name="webhooks",
        )
        _pools[loop] = created
        await created.open()
    return _pools[loop]


async def close_pools() -> None:
    """Close the running loop's pool and doorbell client (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    if created := _pools.pop(loop, None):
        await created.close()
    if doorbell := _doorbells.pop(loop, None):
        await doorbell.client.aclose()


class UnstorablePayload(Exception):
    """Postgres refused the payload (e.g. \\u0000 in a string): a 400, not a retry."""


async def store_event_async(source: str, type: str, delivery_id: str, data_json: str) -> Stored:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; ring the doorbell for a new row."""
    now = timezone.now()
    params = (source, type, delivery_id, now, now, data_json, Status.RECEIVED)
    async with (await pool()).connection() as connection:
        try:
            cursor = await connection.execute(INSERT, params)
        except pg_errors.DataException as exc:
            raise UnstorablePayload(str(exc).splitlines()[0]) from exc
        row = await cursor.fetchone()
        if row is None:
            cursor = await connection.execute(EXISTING, (source, delivery_id))
            return Stored((await cursor.fetchone())[0], duplicate=True)
    await ring_from_loop(row[0])
    return Stored(row[0], duplicate=False)


async def ring_from_loop(event_id: int) -> None:
    """Ring without blocking the loop: with Redis, the task is signed now and pushed by the
    loop's flusher together with any others waiting; the ORM broker runs on a thread."""
    if settings.REDIS_URL:
        async_task(DISPATCH_TASK, event_id, broker=loop_doorbell(), save=False)
    else:
        await sync_to_async(ring_in_thread, thread_sensitive=False)(event_id)


def ring_in_thread(event_id: int) -> None:
    try:
        ring_doorbell(event_id)
    finally:
        close_old_connections()


class LoopDoorbell:
    """A django-q2 broker for `async_task(..., broker=)` that only buffers the signed task;
    one coroutine per loop pushes the buffer to the Redis list in a single RPUSH.

    A push that fails is logged and dropped: the events are stored, and the sweeper re-drives
    anything left in `received`.
    """

    def __init__(self):
        self.list_key = f"django_q:{Conf.CLUSTER_NAME}:q"
        self.client = aioredis.Redis.from_url(settings.REDIS_URL)
        self.waiting: list[str] = []
        self.flushing = False

    def enqueue(self, package: str) -> None:
        self.waiting.append(package)
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, []
                try:
                    await self.client.rpush(self.list_key, *batch)
                except Exception:  # Redis down: the sweeper re-drives these events
                    logger.exception("events.doorbell-failed", extra={"count": len(batch)})
        finally:
            self.flushing = False


_doorbells: dict[asyncio.AbstractEventLoop, LoopDoorbell] = {}


def loop_doorbell() -> LoopDoorbell:
    loop = asyncio.get_running_loop()
    if loop not in _doorbells:
        _doorbells[loop] = LoopDoorbell()
    return _doorbells[loop]
