"""The doorbell: wake a runner when steps become ready, without flooding the queue.

The database is the source of truth; a queued `run_ready_steps` task only says "look". Up to
WORKFLOW_RUNNERS runners drive steps at once, each holding one of the leases "runner:0".. in
its own worker process (so each has its own platform pools). While any runner holds a lease it
polls for due steps itself, so an ordinary ring is a no-op; a runner with more due work than
it can take rings with `grow=True`, which starts runners for the free leases. A runner drops
its lease before its final look, so a step made ready just before is never stranded.
Leases live in Redis when REDIS_URL is set, else (and while Redis is down) in the
EngineBeacon table (leases.py).

Runner processes (`manage.py serve` starts WORKFLOW_RUNNERS of them; `manage.py runworkflows`
on any host) drive steps without a django-q2 worker. Each keeps a presence lease
("proc:<id>") alive; while any is alive no runner task is ever queued, so dispatch keeps every
worker. The task runners remain for a deployment that runs `qcluster` alone.
"""

import logging
from functools import cache

from django.conf import settings

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

    from orchestrator.core import backends

    try:
        for _ in range(tasks):
            async_task(
                "orchestrator.workflows.runner.run_ready_steps",
                takeover,
                task_name="workflows.run_ready_steps",
                broker=_broker(settings.WORKFLOW_RUNNER_CLUSTER or None),
                save=False,
            )
    except backends.redis_errors() as exc:  # the broker is down: the sweeper re-drives
        backends.health.failed(backends.LEASES, exc)
        return False
    return True


def runner_leases_count() -> int:
    return max(settings.WORKFLOW_RUNNERS, 1)


def runner_lease_names() -> list[str]:
    return [f"{RUNNER_PREFIX}{index}" for index in range(runner_leases_count())]


def runners_holding() -> int:
    """How many runner leases are held right now (one read)."""
    return leases().held(runner_lease_names())


PROCESS_PREFIX = "proc:"  # presence leases (leases.py keeps the same prefix)


def keep_presence(name: str, holder: str, ttl_s: float) -> None:
    """Take or renew a runner process's presence lease (and count it in for `ring`)."""
    leases().keep_presence(name, holder, ttl_s)


def wake_runner_processes() -> int:
    """Wake an idle runner process (with Redis, in the same round trip as the count);
    answer how many runner processes are alive."""
    return leases().wake()


def wait_for_wake(timeout_s: float) -> bool:
    """Block (on a thread) until a ring or `timeout_s`; answer whether a ring came."""
    return leases().wait_for_wake(timeout_s)


def can_wait_for_wake() -> bool:
    """A ring can wake an idle runner process (Redis is in use); else it polls."""
    from orchestrator.core import backends

    return backends.redis_in_use()


def drop_presence(name: str, holder: str) -> None:
    leases().drop_presence(name, holder)


def runner_processes_alive() -> int:
    """How many runner processes hold a live presence lease (one read)."""
    return leases().processes_alive()


def forget_dead_presences() -> int:
    """Delete presence rows that lapsed long ago (each process start adds one)."""
    return leases().forget_dead_presences()


def take_runner_lease(holder: str, ttl_s: float, prefer: str | None = None) -> str | None:
    """Take (or keep) a free runner lease, `prefer` first; answer its name, None if all held."""
    names = runner_lease_names()
    if prefer in names:
        names.remove(prefer)
        names.insert(0, prefer)
    return next((name for name in names if take_lease(name, holder, ttl_s)), None)


@cache
def _broker(cluster: str | None):
    """One broker per process and cluster: django-q2 otherwise builds one per task."""
    from django_q.brokers import get_broker

    return get_broker(cluster)


def take_lease(name: str, holder: str, ttl_s: float) -> bool:
    """Take the named lease if it is free (or already ours); answer whether we hold it."""
    return leases().take(name, holder, ttl_s)


def lease_holder(name: str) -> str | None:
    return leases().holder(name)


def release_lease(name: str, holder: str) -> None:
    leases().release(name, holder)


def leases():
    """Redis or EngineBeacon rows, chosen in one place (core/backends.py). While a
    configured Redis is down the rows answer: a second holder of a runner lease is then
    possible for one lease TTL, which costs throughput, never a double step (every step is
    claimed with its own token in the database)."""
    from orchestrator.core import backends
    from orchestrator.workflows.leases import DatabaseLeases, RedisLeases

    return backends.choose(backends.LEASES, RedisLeases, DatabaseLeases)
