"""Redis or the database: the one place that chooses, per concern, and what happens when
Redis is configured but not answering.

Concerns (each a name below): runner LEASES and wake-ups, BREAKERS, METRICS, GENERATIONS
(cross-process cache invalidation) and the shared platform CACHE. A caller asks `choose()`
for its concern's implementation and never tests REDIS_URL itself:

- without REDIS_URL (the embedded default) it gets the database implementation itself,
  exactly as before, with no wrapper in the way;
- with REDIS_URL it gets a `Fallback`: the same interface, calling the Redis implementation,
  and the database one instead while Redis is down.

Redis is "down" for DOWN_FOR_S after any Redis call raised a connection or timeout error,
process-wide: the next call in that window goes straight to the database instead of waiting
on a connect timeout. After the window one call tries Redis again; when it answers, Redis is
back, and the recovery hooks run (generations copy their tokens back, so no process that
kept an old token stays stale). Logged once per outage, not per call.

What each concern does while Redis is down (docs/architecture.md, "Backends"):
ingest stays durable (every event row is in the database before any 2xx; a doorbell that
cannot ring is dropped and the sweeper re-drives the event), breakers and metrics use their
tables, leases and presence use EngineBeacon rows, generations read their database rows,
and the shared cache level is skipped (each process keeps its own level).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

logger = logging.getLogger("contexten.backends")

LEASES, BREAKERS, METRICS, GENERATIONS, CACHE = (
    "leases", "breakers", "metrics", "generations", "cache",
)  # fmt: skip
CONCERNS = (LEASES, BREAKERS, METRICS, GENERATIONS, CACHE)
DOWN_FOR_S = 5.0


def redis_configured() -> bool:
    """REDIS_URL is set (read each time: tests switch settings)."""
    return bool(settings.REDIS_URL)


class RedisHealth:
    """Whether this process currently believes Redis answers; monotonic time, so a
    wall-clock jump can neither shorten nor stretch the down window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.down_until = 0.0
        self.down_since: float | None = None
        self.last_error = ""
        self.lock = threading.Lock()
        self.recovery_hooks: list[Callable[[], None]] = []

    def usable(self) -> bool:
        return self.clock() >= self.down_until

    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, concern: str, exc: BaseException) -> None:
        with self.lock:
            first = self.down_since is None
            if first:
                self.down_since = self.clock()
            self.down_until = self.clock() + DOWN_FOR_S
            self.last_error = f"{type(exc).__name__}: {exc}"
        if first:
            logger.warning("backends.redis-down concern=%s error=%s", concern, self.last_error)

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is None:
                return
            self.down_since = None
        logger.warning("backends.redis-back")
        for hook in list(self.recovery_hooks):
            try:
                hook()
            except Exception as exc:  # a hook must not turn a recovery into an error
                logger.warning("backends.recovery-hook-failed error=%s", exc)

    def reset(self) -> None:
        self.down_until, self.down_since, self.last_error = 0.0, None, ""


health = RedisHealth()


def on_recovery(hook: Callable[[], None]) -> None:
    """Run `hook` in this process each time Redis answers again after an outage."""
    if hook not in health.recovery_hooks:
        health.recovery_hooks.append(hook)


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError, OSError)


def redis_in_use() -> bool:
    """Redis is configured and not known to be down: the Redis implementations are live."""
    return redis_configured() and health.usable()


def in_use(concern: str) -> str:
    """ "redis" or "database": where `concern` goes right now (health, the admin)."""
    return "redis" if redis_in_use() else "database"


def attempt(concern: str, on_redis: Callable[[], Any], on_database: Callable[[], Any]) -> Any:
    """Answer `on_redis()`, or `on_database()` when Redis is down or fails now."""
    if redis_in_use():
        try:
            result = on_redis()
        except redis_errors() as exc:
            health.failed(concern, exc)
        else:
            health.succeeded()
            return result
    return on_database()


class Fallback:
    """The concern's interface: each method calls the Redis implementation, or the database
    implementation while Redis is down. The Redis one is built on first use."""

    def __init__(self, concern: str, make_redis: Callable[[], Any], database: Any):
        self._concern, self._make_redis, self._database = concern, make_redis, database
        self._redis = None

    @property
    def redis(self):
        if self._redis is None:
            self._redis = self._make_redis()
        return self._redis

    @property
    def database(self):
        return self._database

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return attempt(
                self._concern,
                lambda: getattr(self.redis, name)(*args, **kwargs),
                lambda: getattr(self._database, name)(*args, **kwargs),
            )

        return call


_chosen: dict[tuple[str, bool], Any] = {}


def choose(concern: str, make_redis: Callable[[], Any], make_database: Callable[[], Any]):
    """The implementation of `concern` for this process (one per concern and setting)."""
    key = (concern, redis_configured())
    if key not in _chosen:
        database = make_database()
        _chosen[key] = Fallback(concern, make_redis, database) if key[1] else database
    return _chosen[key]
