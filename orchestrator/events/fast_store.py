"""The Postgres store for the webhook fast path: async psycopg on the event loop, no threads.

Same statement (`store.insert_statement`) and result type (`store.Stored`) as
`store.store_event`, which SQLite and the Django view use, but it runs on the loop through a
psycopg `AsyncConnectionPool`, so a webhook costs no thread hop and no GIL hand-off, and
concurrent deliveries share a commit (`group_commit`). Measured
in docs/architecture.md, "Events". The doorbell is the same as elsewhere: ids on the
dispatchers' list while a dispatcher is alive (dispatchers.py), else a django-q2 task.
"""

import asyncio
import logging

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string
from django_q.conf import Conf
from django_q.tasks import async_task
from psycopg_pool import AsyncConnectionPool

from orchestrator.core import backends, presence
from orchestrator.core.redis import key
from orchestrator.events import dispatchers, subscribers
from orchestrator.events.group_commit import MAX_ROWS, GroupInserter, Row, UnstorablePayload
from orchestrator.events.store import (
    DISPATCH_MANY_TASK,
    DOORBELL_BATCH,
    Stored,
    ring_doorbell,
    row_values,
)
from orchestrator.health import metrics

__all__ = ["UnstorablePayload", "close_pools", "enabled", "store_event_async"]
logger = logging.getLogger("contexten.events")

# Connection parameters Django adds for its own cursors; the pool uses psycopg's defaults,
# but keeps `prepare_threshold` (DATABASE_PREPARE: its INSERT is prepared, or never).
DJANGO_ONLY_PARAMS = {"cursor_factory", "context"}

# One pool per event loop: uvicorn runs one loop per process; tests run one per test.
_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}
_inserters: dict[asyncio.AbstractEventLoop, GroupInserter] = {}


def enabled() -> bool:
    """Read from the settings: under ASGI every request is a new context, and asking
    `connections["default"]` built a new DatabaseWrapper per webhook (12 % of a web
    process's CPU at 200 webhooks/s, a profile says)."""
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


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
            timeout=settings.WEBHOOK_POOL_TIMEOUT,
            open=False,
            name="webhooks",
        )
        _pools[loop] = created
        await created.open()
    return _pools[loop]


async def close_pools() -> None:
    """Close the running loop's pool and doorbell client (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    _inserters.pop(loop, None)
    if created := _pools.pop(loop, None):
        await created.close()
    if doorbell := _doorbells.pop(loop, None):
        if doorbell.task is not None:
            await doorbell.task  # push what was rung before closing the client
        await doorbell.client.aclose()


async def store_event_async(source: str, type: str, delivery_id: str, data_json: str) -> Stored:
    """Insert through the loop's group inserter; ring the doorbell for a new row, or, when
    its runs went in with it, the runners."""
    planned = await plan_at_ingest(source, type, delivery_id, data_json)
    params = row_values(source, type, delivery_id, data_json, planned=planned is not None)
    stored = await inserter().insert(Row(source, delivery_id, params, planned))
    if stored.duplicate:
        return stored
    if not stored.done:
        await ring_from_loop(stored.id)
        return stored
    metrics.record_event(source, type, "done")
    loop_doorbell().ring_for(planned)
    return stored


async def plan_at_ingest(source: str, type: str, delivery_id: str, data_json: str):
    """The subscribers' plan for this delivery (subscribers.INGEST_PLANNER), or None: only
    with Redis and a dispatcher alive, so that runner processes are there to be rung."""
    if not settings.EVENT_PLAN_AT_INGEST or not subscribers.INGEST_PLANNER:
        return None
    if not backends.redis_in_use() or not await loop_doorbell().dispatchers_alive():
        return None
    try:
        return await import_string(subscribers.INGEST_PLANNER)(source, type, delivery_id, data_json)
    except Exception:  # planning is an optimisation: the dispatchers decide instead
        logger.exception("events.plan-at-ingest-failed source=%s type=%s", source, type)
        return None


def inserter() -> GroupInserter:
    loop = asyncio.get_running_loop()
    if loop not in _inserters:
        grouped = settings.WEBHOOK_GROUP_COMMIT
        _inserters[loop] = GroupInserter(
            pool,
            concurrency=settings.WEBHOOK_INSERT_CONCURRENCY
            if grouped
            else settings.WEBHOOK_POOL_MAX,
            max_rows=MAX_ROWS if grouped else 1,
        )
    return _inserters[loop]


async def ring_from_loop(event_id: int) -> None:
    """Ring without blocking the loop: with Redis, the loop's doorbell pushes the id with
    any others waiting; the ORM broker is a Django query, so it runs on a thread."""
    if backends.redis_in_use():
        loop_doorbell().ring(event_id)
    elif not backends.redis_configured():
        await sync_to_async(ring_in_thread, thread_sensitive=False)(event_id)
    # else Redis (the broker) is down: the row is stored, and the sweeper re-drives it


def ring_in_thread(event_id: int) -> None:
    try:
        ring_doorbell(event_id)
    finally:
        close_old_connections()


class LoopDoorbell:
    """Coalesce the doorbells rung while the loop was busy into one django-q2 task per
    DOORBELL_BATCH events (`dispatch_events`), pushed with one RPUSH, without blocking the loop.

    Under light load every batch holds one event, so nothing waits; under heavy load this
    saves a signed task and a Redis round trip per event. A push that fails is logged and
    dropped: the events are stored, and the sweeper re-drives anything left in `received`.
    """

    def __init__(self):
        self.client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5
        )
        self.waiting: list[int] = []
        self.rings = None  # a plan's ring(pipe), due at the next flush
        self.packages: list[str] = []
        self.flushing = False
        self.task: asyncio.Task | None = None
        self.dispatchers = 0  # dispatcher threads alive (dispatchers.py), re-read each second
        self.dispatchers_read_at = -dispatchers.ALIVE_CACHE_S

    @property
    def list_key(self) -> str:
        return f"django_q:{Conf.CLUSTER_NAME}:q"  # the Redis broker's list

    def ring(self, event_id: int) -> None:
        self.waiting.append(event_id)
        self._flush_soon()

    def ring_for(self, planned) -> None:
        """Ring what a plan's stored runs need (one ring for all those stored while the
        loop was busy: every plan rings the same)."""
        self.rings = planned.ring
        self._flush_soon()

    def _flush_soon(self) -> None:
        if not self.flushing:
            self.flushing = True
            self.task = asyncio.get_running_loop().create_task(self.flush())

    def enqueue(self, package: str) -> None:
        """Called by `async_task(..., broker=self)` with the signed task."""
        self.packages.append(package)

    async def flush(self) -> None:
        try:
            while self.waiting or self.rings:
                if self.rings:
                    await self.ring_planned()
                if not self.waiting:
                    continue
                ids, self.waiting = self.waiting, []
                try:
                    await self.push(ids)
                except Exception as exc:  # Redis down: the sweeper re-drives these events
                    logger.warning("events.doorbell-failed count=%d error=%s", len(ids), exc)
                    backends.health.failed(backends.LEASES, exc)
                else:
                    backends.health.succeeded()
        finally:
            self.flushing = False

    async def push(self, ids: list[int]) -> None:
        """The ids on the dispatchers' list while one is alive, else as django-q2 tasks."""
        if await self.dispatchers_alive():
            await self.client.rpush(key(dispatchers.READY), *ids)
            return
        for start in range(0, len(ids), DOORBELL_BATCH):
            batch = ids[start : start + DOORBELL_BATCH]
            async_task(DISPATCH_MANY_TASK, batch, broker=self, save=False)
        packages, self.packages = self.packages, []
        await self.client.rpush(self.list_key, *packages)

    async def ring_planned(self) -> None:
        """A lost ring is harmless: the runs are stored, and their runners look again
        within a second (workflows/runner_process.py)."""
        rings, self.rings = self.rings, None
        try:
            pipe = self.client.pipeline(transaction=False)
            rings(pipe)
            await pipe.execute()
        except Exception as exc:
            logger.warning("events.ring-planned-failed %s", exc)

    async def dispatchers_alive(self) -> int:
        loop = asyncio.get_running_loop()
        if loop.time() - self.dispatchers_read_at >= dispatchers.ALIVE_CACHE_S:
            alive = presence.count_alive(self.client, key(dispatchers.PRESENT))
            self.dispatchers = await alive
            self.dispatchers_read_at = loop.time()
        return self.dispatchers


_doorbells: dict[asyncio.AbstractEventLoop, LoopDoorbell] = {}


def loop_doorbell() -> LoopDoorbell:
    loop = asyncio.get_running_loop()
    if loop not in _doorbells:
        _doorbells[loop] = LoopDoorbell()
    return _doorbells[loop]
