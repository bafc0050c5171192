"""The doorbell: wake a runner when steps become ready, without flooding the queue.

The database is the source of truth; a queued `run_ready_steps` task only says "look". Up to
WORKFLOW_RUNNERS runners drive steps at once, each holding one of the leases "runner:0".. in
its own worker process (so each has its own platform pools). While any runner holds a lease it
polls for due steps itself, so an ordinary ring is a no-op; a runner with more due work than
it can take rings with `grow=True`, which starts runners for the free leases. A runner drops
its lease before its final look, so a step made ready just before is never stranded.
Leases live in Redis when REDIS_URL is set, else in the EngineBeacon table.

Runner processes (`manage.py serve` starts WORKFLOW_RUNNERS of them; `manage.py runworkflows`
on any host) drive steps without a django-q2 worker. Each keeps a presence lease
("proc:<id>") alive; while any is alive no runner task is ever queued, so dispatch keeps every
worker. The task runners remain for a deployment that runs `qcluster` alone.
"""

import logging
import time
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("contexten.workflows")

RUNNER_PREFIX = "runner:"
DOORBELL = "doorbell"
DEBOUNCE_S = 0.3


def ring(*, force: bool = False, takeover: bool = False, grow: bool = False) -> bool:
    """Queue a runner task unless one is active or was just queued; answer whether queued.

    `grow` (from a runner with more due work than it can take) queues one task per free
    runner lease instead. `takeover` asks the runner to wait out a (dead) holder's lease.
    """
    tasks = 1
    if wake_runner_processes():
        return False  # runner processes look for due steps themselves
    if not force:
        held = runners_holding()
        if held >= (runner_leases_count() if grow else 1):
            return False
        if not take_lease(DOORBELL, "ring", DEBOUNCE_S):
            return False
        tasks = runner_leases_count() - held if grow else 1
    from django_q.tasks import async_task

    for _ in range(tasks):
        async_task(
            "orchestrator.workflows.runner.run_ready_steps",
            takeover,
            task_name="workflows.run_ready_steps",
            broker=_broker(settings.WORKFLOW_RUNNER_CLUSTER or None),
            save=False,
        )
    return True


def runner_leases_count() -> int:
    return max(settings.WORKFLOW_RUNNERS, 1)


def runner_lease_names() -> list[str]:
    return [f"{RUNNER_PREFIX}{index}" for index in range(runner_leases_count())]


def runners_holding() -> int:
    """How many runner leases are held right now (one read)."""
    names = runner_lease_names()
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        return sum(value is not None for value in redis_client().mget(_key(n) for n in names))
    from orchestrator.workflows.models import EngineBeacon

    return EngineBeacon.objects.filter(name__in=names, expires_at__gt=timezone.now()).count()


PROCESS_PREFIX = "proc:"
PROCESSES = "processes"  # Redis sorted set: presence lease name -> expiry (epoch ms)
WAKE = "wake"  # Redis list a ring pushes to; an idle runner process waits on it (BLPOP)
WAKE_BACKLOG = 16


def keep_presence(name: str, holder: str, ttl_s: float) -> None:
    """Take or renew a runner process's presence lease (and count it in for `ring`)."""
    take_lease(name, holder, ttl_s)
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        now_ms = int(time.time() * 1000)
        pipe = redis_client().pipeline()
        pipe.zadd(_key(PROCESSES), {name: now_ms + int(ttl_s * 1000)})
        pipe.zremrangebyscore(_key(PROCESSES), 0, now_ms)
        pipe.execute()


def wake_runner_processes() -> int:
    """Wake an idle runner process (with Redis, in the same round trip as the count);
    answer how many runner processes are alive."""
    if not settings.REDIS_URL:
        return runner_processes_alive()
    from orchestrator.core.redis import redis_client

    pipe = redis_client().pipeline(transaction=False)
    pipe.zcount(_key(PROCESSES), int(time.time() * 1000), "+inf")
    pipe.lpush(_key(WAKE), 1)
    pipe.ltrim(_key(WAKE), 0, WAKE_BACKLOG - 1)
    return pipe.execute()[0]


def wait_for_wake(timeout_s: float) -> bool:
    """Block (on a thread) until a ring or `timeout_s`; answer whether a ring came."""
    from orchestrator.core.redis import redis_client

    return redis_client().blpop([_key(WAKE)], timeout=timeout_s) is not None


def drop_presence(name: str, holder: str) -> None:
    release_lease(name, holder)
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        redis_client().zrem(_key(PROCESSES), name)


def runner_processes_alive() -> int:
    """How many runner processes hold a live presence lease (one read)."""
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        return redis_client().zcount(_key(PROCESSES), int(time.time() * 1000), "+inf")
    from orchestrator.workflows.models import EngineBeacon

    return EngineBeacon.objects.filter(
        name__startswith=PROCESS_PREFIX, expires_at__gt=timezone.now()
    ).count()


def forget_dead_presences() -> int:
    """Delete presence rows that lapsed long ago (each process start adds one)."""
    if settings.REDIS_URL:
        return 0  # the sorted set trims itself; the keys expire
    from orchestrator.workflows.models import EngineBeacon

    cutoff = timezone.now() - timedelta(hours=1)
    deleted, _ = EngineBeacon.objects.filter(
        name__startswith=PROCESS_PREFIX, expires_at__lt=cutoff
    ).delete()
    return deleted


def take_runner_lease(holder: str, ttl_s: float, prefer: str | None = None) -> str | None:
    """Take (or keep) a free runner lease, `prefer` first; answer its name, None if all held."""
    names = runner_lease_names()
    if prefer in names:
        names.remove(prefer)
        names.insert(0, prefer)
    return next((name for name in names if take_lease(name, holder, ttl_s)), None)


def _key(name: str) -> str:
    from orchestrator.core.redis import key

    return key(f"workflows:{name}")


@cache
def _broker(cluster: str | None):
    """One broker per process and cluster: django-q2 otherwise builds one per task."""
    from django_q.brokers import get_broker

    return get_broker(cluster)


def take_lease(name: str, holder: str, ttl_s: float) -> bool:
    """Take the named lease if it is free (or already ours); answer whether we hold it."""
    if settings.REDIS_URL:
        return _redis_take(name, holder, ttl_s)
    return _db_take(name, holder, ttl_s)


def lease_holder(name: str) -> str | None:
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        value = redis_client().get(_key(name))
        return value.decode() if value else None
    from orchestrator.workflows.models import EngineBeacon

    return (
        EngineBeacon.objects.filter(name=name, expires_at__gt=timezone.now())
        .values_list("holder", flat=True)
        .first()
    )


def release_lease(name: str, holder: str) -> None:
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        client = redis_client()
        if client.get(_key(name)) == holder.encode():
            client.delete(_key(name))
        return
    from orchestrator.workflows.models import EngineBeacon

    EngineBeacon.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())


def _redis_take(name: str, holder: str, ttl_s: float) -> bool:
    from orchestrator.core.redis import redis_client

    client, key, ttl_ms = redis_client(), _key(name), max(int(ttl_s * 1000), 1)
    if client.set(key, holder, px=ttl_ms, nx=True):
        return True
    if client.get(key) == holder.encode():
        client.pexpire(key, ttl_ms)
        return True
    return False


def _db_take(name: str, holder: str, ttl_s: float) -> bool:
    from django.db.models import Q

    from orchestrator.workflows.models import EngineBeacon

    now = timezone.now()
    until = now + timedelta(seconds=ttl_s)
    EngineBeacon.objects.get_or_create(name=name, defaults={"expires_at": now})
    taken = EngineBeacon.objects.filter(
        Q(expires_at__lte=now) | Q(holder=holder), name=name
    ).update(holder=holder, expires_at=until)
    return bool(taken)
