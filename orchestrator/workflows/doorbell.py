"""The doorbell: wake a runner when steps become ready, without flooding the queue.

The database is the source of truth; a queued `run_ready_steps` task only says "look". While
a runner holds the lease it polls for due steps itself, so ringing is a no-op. A runner drops
the lease before its final look, so a step made ready just before is never stranded.
Leases live in Redis when REDIS_URL is set, else in the EngineBeacon table.
"""

import logging
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger("contexten.workflows")

RUNNER = "runner"
DOORBELL = "doorbell"
KEY_PREFIX = "contexten:workflows:"
DEBOUNCE_S = 0.3


def ring(*, force: bool = False, takeover: bool = False) -> bool:
    """Queue a runner task unless one is active or was just queued; answer whether queued.

    `takeover` asks the runner to wait out a (dead) holder's lease rather than leave.
    """
    if not force and (lease_holder(RUNNER) or not take_lease(DOORBELL, "ring", DEBOUNCE_S)):
        return False
    from django_q.tasks import async_task

    async_task(
        "orchestrator.workflows.runner.run_ready_steps",
        takeover,
        task_name="workflows.run_ready_steps",
        broker=_broker(),
        save=False,
    )
    return True


@cache
def _broker():
    """One broker per process: django-q2 otherwise builds a new one (and client) per task."""
    from django_q.brokers import get_broker

    return get_broker()


def take_lease(name: str, holder: str, ttl_s: float) -> bool:
    """Take the named lease if it is free (or already ours); answer whether we hold it."""
    if settings.REDIS_URL:
        return _redis_take(name, holder, ttl_s)
    return _db_take(name, holder, ttl_s)


def lease_holder(name: str) -> str | None:
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        value = redis_client().get(KEY_PREFIX + name)
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
        if client.get(KEY_PREFIX + name) == holder.encode():
            client.delete(KEY_PREFIX + name)
        return
    from orchestrator.workflows.models import EngineBeacon

    EngineBeacon.objects.filter(name=name, holder=holder).update(expires_at=timezone.now())


def _redis_take(name: str, holder: str, ttl_s: float) -> bool:
    from orchestrator.core.redis import redis_client

    client, key, ttl_ms = redis_client(), KEY_PREFIX + name, max(int(ttl_s * 1000), 1)
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
