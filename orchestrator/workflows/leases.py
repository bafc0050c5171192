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
from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

KEY_PREFIX = "contexten:workflows:"
PROCESS_PREFIX = "proc:"
PROCESSES = KEY_PREFIX + "processes"
WAKE = KEY_PREFIX + "wake"
WAKE_BACKLOG = 16


class RedisLeases:
    def __init__(self):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()

    def held(self, names: list[str]) -> int:
        return sum(value is not None for value in self.redis.mget(KEY_PREFIX + n for n in names))

    def take(self, name: str, holder: str, ttl_s: float) -> bool:
        key, ttl_ms = KEY_PREFIX + name, max(int(ttl_s * 1000), 1)
        if self.redis.set(key, holder, px=ttl_ms, nx=True):
            return True
        if self.redis.get(key) == holder.encode():
            self.redis.pexpire(key, ttl_ms)
            return True
        return False

    def holder(self, name: str) -> str | None:
        value = self.redis.get(KEY_PREFIX + name)
        return value.decode() if value else None

    def release(self, name: str, holder: str) -> None:
        if self.redis.get(KEY_PREFIX + name) == holder.encode():
            self.redis.delete(KEY_PREFIX + name)

    def keep_presence(self, name: str, holder: str, ttl_s: float) -> None:
        self.take(name, holder, ttl_s)
        now_ms = int(time.time() * 1000)  # expiries are compared with this same clock
        pipe = self.redis.pipeline()
        pipe.zadd(PROCESSES, {name: now_ms + int(ttl_s * 1000)})
        pipe.zremrangebyscore(PROCESSES, 0, now_ms)
        pipe.execute()

    def drop_presence(self, name: str, holder: str) -> None:
        self.release(name, holder)
        self.redis.zrem(PROCESSES, name)

    def processes_alive(self) -> int:
        return self.redis.zcount(PROCESSES, int(time.time() * 1000), "+inf")

    def wake(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(PROCESSES, int(time.time() * 1000), "+inf")
        pipe.lpush(WAKE, 1)
        pipe.ltrim(WAKE, 0, WAKE_BACKLOG - 1)
        return pipe.execute()[0]

    def wait_for_wake(self, timeout_s: float) -> bool:
        return self.redis.blpop([WAKE], timeout=timeout_s) is not None

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

        EngineBeacon.objects.get_or_create(name=name, defaults={"expires_at": timezone.now()})
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
