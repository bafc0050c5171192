"""The two lease stores behind the doorbell (doorbell.py), one interface: Redis keys with a
TTL (Redis's clock), or EngineBeacon rows with an expiry in database time. core/backends.py
picks one (the rows also answer while a configured Redis is down).

Presence leases ("proc:<id>") say a runner process is alive; with Redis they are also kept
in a sorted set (name -> expiry) so `ring` counts them in one round trip, and a ring pushes
to a wake list an idle runner process blocks on. The rows have no wake list: an idle runner
process polls instead (runner_process.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Now

from orchestrator.core import presence

PROCESS_PREFIX = "proc:"
# A new lease row lapsed long ago. Not this host's now: SQLite's database time has
# milliseconds, so a row stamped with this host's microseconds in the same millisecond
# read as not yet lapsed, and the first take of every fresh lease could fail.
NEVER_HELD = datetime(2000, 1, 1, tzinfo=UTC)
PROCESSES = "processes"  # sorted set: presence lease name -> expiry (epoch ms)
WAKE = "wake"  # list a ring pushes to; an idle runner process waits on it (BLPOP)
WAKE_BACKLOG = 16


def redis_key(name: str) -> str:
    """Under this deployment's prefix (orchestrator/core/redis.py), read at each call."""
    from orchestrator.core.redis import key

    return key(f"workflows:{name}")


def add_wake(pipe) -> None:
    """Queue a ring of the wake list on a Redis pipeline (sync or asyncio): one entry, the
    list kept to WAKE_BACKLOG, since an entry only says "look"."""
    pipe.lpush(redis_key(WAKE), 1)
    pipe.ltrim(redis_key(WAKE), 0, WAKE_BACKLOG - 1)


class RedisLeases:
    def __init__(self):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()

    def held(self, names: list[str]) -> int:
        return sum(value is not None for value in self.redis.mget(redis_key(n) for n in names))

    def take(self, name: str, holder: str, ttl_s: float) -> bool:
        key, ttl_ms = redis_key(name), max(int(ttl_s * 1000), 1)
        if self.redis.set(key, holder, px=ttl_ms, nx=True):
            return True
        if self.redis.get(key) == holder.encode():
            self.redis.pexpire(key, ttl_ms)
            return True
        return False

    def holder(self, name: str) -> str | None:
        value = self.redis.get(redis_key(name))
        return value.decode() if value else None

    def release(self, name: str, holder: str) -> None:
        if self.redis.get(redis_key(name)) == holder.encode():
            self.redis.delete(redis_key(name))

    def keep_presence(self, name: str, holder: str, ttl_s: float) -> None:
        self.take(name, holder, ttl_s)
        pipe = self.redis.pipeline()
        presence.renew(pipe, redis_key(PROCESSES), name, ttl_s)
        pipe.execute()

    def drop_presence(self, name: str, holder: str) -> None:
        self.release(name, holder)
        self.redis.zrem(redis_key(PROCESSES), name)

    def processes_alive(self) -> int:
        return presence.count_alive(self.redis, redis_key(PROCESSES))

    def wake(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        presence.count_alive(pipe, redis_key(PROCESSES))
        add_wake(pipe)
        return pipe.execute()[0]

    def wait_for_wake(self, timeout_s: float) -> bool:
        return self.redis.blpop([redis_key(WAKE)], timeout=timeout_s) is not None

    def forget_dead_presences(self) -> int:
        return 0  # the sorted set trims itself; the keys expire


class DatabaseLeases:
    def held(self, names: list[str]) -> int:
        from orchestrator.workflows.models import EngineBeacon

        return EngineBeacon.objects.filter(name__in=names, expires_at__gt=Now()).count()

    def take(self, name: str, holder: str, ttl_s: float) -> bool:
        """Database time, not this host's clock: hosts with skewed clocks, or a host whose
        clock jumps, still agree on when a lease lapses."""
        from orchestrator.workflows.models import EngineBeacon

        EngineBeacon.objects.get_or_create(name=name, defaults={"expires_at": NEVER_HELD})
        taken = EngineBeacon.objects.filter(
            Q(expires_at__lte=Now()) | Q(holder=holder), name=name
        ).update(holder=holder, expires_at=Now() + timedelta(seconds=ttl_s))
        return bool(taken)

    def holder(self, name: str) -> str | None:
        from orchestrator.workflows.models import EngineBeacon

        return (
            EngineBeacon.objects.filter(name=name, expires_at__gt=Now())
            .values_list("holder", flat=True)
            .first()
        )

    def release(self, name: str, holder: str) -> None:
        from orchestrator.workflows.models import EngineBeacon

        EngineBeacon.objects.filter(name=name, holder=holder).update(expires_at=Now())

    def keep_presence(self, name: str, holder: str, ttl_s: float) -> None:
        self.take(name, holder, ttl_s)

    def drop_presence(self, name: str, holder: str) -> None:
        self.release(name, holder)

    def processes_alive(self) -> int:
        from orchestrator.workflows.models import EngineBeacon

        return EngineBeacon.objects.filter(
            name__startswith=PROCESS_PREFIX, expires_at__gt=Now()
        ).count()

    def wake(self) -> int:
        return self.processes_alive()  # nothing to push: idle runner processes poll

    def wait_for_wake(self, timeout_s: float) -> bool:
        time.sleep(timeout_s)
        return False

    def forget_dead_presences(self) -> int:
        from orchestrator.workflows.models import EngineBeacon

        deleted, _ = EngineBeacon.objects.filter(
            name__startswith=PROCESS_PREFIX, expires_at__lt=Now() - timedelta(hours=1)
        ).delete()
        return deleted
