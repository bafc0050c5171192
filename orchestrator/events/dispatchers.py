"""Dispatcher threads: event doorbells as ids on a Redis list, without a django-q2 task.

A django-q2 doorbell task costs about 1.7-3 ms of CPU even when it claims nothing (pusher,
worker and monitor each unpickle it; the worker sets its title, imports the function by
name and sends the result back), where the dispatch itself costs far less. At 200 events a
second, one task per event, that was a fifth of the stack's CPU on 2 cores
(docs/performance.md, "Mixed load, fifth pass").

So a long-lived process (each runner process, `runner_process.py`) runs DISPATCHER_THREADS
dispatcher threads: each waits on the list with `BLPOP`, lingers a moment, takes what else
is waiting (`LPOP` with a count) and calls `dispatch_events` with those ids, exactly as the
task would. Each keeps a presence (core/presence.py), renewed about every second; the
doorbell pushes ids to the list while any presence is alive and queues django-q2 tasks
otherwise (`qcluster` alone, no Redis, all dispatchers gone). The list is only a doorbell:
an id taken by a thread that dies before dispatching it leaves its event `received` (or
`dispatched`) in Postgres, and the sweeper re-drives it, as it does a killed worker's.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import close_old_connections

from orchestrator.core import presence
from orchestrator.core.redis import key, redis_client

logger = logging.getLogger("contexten.events")

READY = "events:ready"  # the list of event ids waiting for a dispatcher
PRESENT = "events:dispatchers"  # sorted set: dispatcher id -> expiry (epoch ms)
PRESENCE_TTL_S = 5.0
WAIT_S = 1.0  # the longest BLPOP: the presence is renewed in between
TAKE_MOST = 200  # ids per dispatch, like a doorbell task's drain


ALIVE_CACHE_S = 1.0  # a doorbell re-reads the presence count at most this often
_alive = {"count": 0, "read_at": -ALIVE_CACHE_S}


def dispatchers_alive() -> int:
    """How many dispatcher threads are alive on any host (re-read at most once a second)."""
    if time.monotonic() - _alive["read_at"] >= ALIVE_CACHE_S:
        _alive["count"] = presence.count_alive(redis_client(), key(PRESENT))
        _alive["read_at"] = time.monotonic()
    return _alive["count"]


def push(event_ids: list[int]) -> None:
    """Ring for these events (sync callers: the sweeper, replay, the Django view)."""
    if event_ids:
        redis_client().rpush(key(READY), *event_ids)


def event_ids(values: list[bytes]) -> list[int]:
    """The ids among values taken off the list; anything else is logged and dropped (it was
    never an event's doorbell, and reading it as Redis being down hid what it was)."""
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError:
            logger.warning("events.dispatcher.not-an-event-id value=%r", value[:40])
    return ids


class Dispatcher(threading.Thread):
    """One dispatcher: wait for ids, dispatch them, keep the presence alive; `stop()` ends it
    after the batch in hand."""

    def __init__(self):
        super().__init__(name="events-dispatcher", daemon=True)
        self.id = uuid.uuid4().hex[:12]
        self.stopped = threading.Event()
        self.dispatched = 0
        self.renewed_at = 0.0

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                self._once()
        finally:
            self._leave()

    def _once(self) -> None:
        try:
            self._keep_presence()
            ids = self._take()
        except Exception as exc:  # Redis down: the doorbell falls back to tasks meanwhile
            logger.warning("events.dispatcher.redis-unavailable %s", exc)
            self.stopped.wait(0.5)
            return
        if ids:
            self._dispatch(ids)

    def _take(self) -> list[int]:
        """The first id waiting (blocking up to WAIT_S), then, after DISPATCH_LINGER_MS, up
        to TAKE_MOST - 1 more.

        The linger is what lets several dispatchers share a burst: without it a dispatcher
        woken by one id took whatever had arrived that instant, so a burst's ids went out
        in many small batches, each with its own statements; with it, each batch holds what
        arrived in the linger, while the other threads stay free for the next ids
        (docs/performance.md, "Mixed load, ninth pass")."""
        client = redis_client()
        first = client.blpop([key(READY)], timeout=WAIT_S)
        linger_s = settings.DISPATCH_LINGER_MS / 1000
        if linger_s and first is not None and not self.stopped.is_set():
            self.stopped.wait(linger_s)
        if first is None or self.stopped.is_set():
            if first is not None:
                client.lpush(key(READY), first[1])  # not ours to dispatch any more
            return []
        rest = client.lpop(key(READY), TAKE_MOST - 1) or []
        return event_ids([first[1], *rest])

    def _dispatch(self, ids: list[int]) -> None:
        from orchestrator.events.dispatch import dispatch_events

        try:
            outcomes = dispatch_events(ids)
            self.dispatched += sum(outcomes.values())
        except Exception:  # the rows are safe in Postgres: the sweeper re-drives them
            logger.exception("events.dispatcher.failed count=%d", len(ids))
            self.stopped.wait(0.5)
        finally:
            close_old_connections()

    def _keep_presence(self) -> None:
        if time.monotonic() - self.renewed_at < WAIT_S:
            return
        self.renewed_at = time.monotonic()
        pipe = redis_client().pipeline()
        presence.renew(pipe, key(PRESENT), self.id, PRESENCE_TTL_S)
        pipe.execute()

    def _leave(self) -> None:
        try:
            redis_client().zrem(key(PRESENT), self.id)
        except Exception:  # Redis down: the presence lapses by itself
            logger.info("events.dispatcher.presence-left-to-lapse id=%s", self.id)
