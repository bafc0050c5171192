"""One Redis client per process, built lazily from REDIS_URL, and the one place keys get
their deployment prefix."""

from functools import cache

import redis
from django.conf import settings


def key(name: str) -> str:
    """`contexten:<DEPLOYMENT_NAME>:<name>`: deployments sharing one Redis db never see each
    other's leases, presences, wake lists, breakers, metrics or generations (read each call:
    tests switch the setting)."""
    return f"contexten:{settings.DEPLOYMENT_NAME}:{name}"


@cache
def redis_client() -> redis.Redis:
    """The shared client; redis-py pools its connections internally."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
