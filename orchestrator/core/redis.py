"""One Redis client per process, built lazily from REDIS_URL."""

from functools import cache

import redis
from django.conf import settings


@cache
def redis_client() -> redis.Redis:
    """The shared client; redis-py pools its connections internally."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )
