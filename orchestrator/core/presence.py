"""Presences in a Redis sorted set: member -> expiry (epoch ms), one mechanism for every
kind of long-lived process that says "I am alive" (runner processes, dispatcher threads).

A sorted set answers "how many are alive" in one ZCOUNT, and a renewal trims the lapsed
members in the same round trip, so a process that died without leaving lapses by itself.
Every expiry is compared with this host's wall clock; the TTLs (seconds) are far above the
skew between hosts that share one Redis.
"""

import time


def renew(pipe, set_key: str, member: str, ttl_s: float) -> None:
    """Queue on `pipe` the renewal of `member` and the trim of the lapsed members."""
    now_ms = int(time.time() * 1000)
    pipe.zadd(set_key, {member: now_ms + int(ttl_s * 1000)})
    pipe.zremrangebyscore(set_key, 0, now_ms)


def count_alive(client, set_key: str):
    """ZCOUNT of the members whose expiry is still ahead: the count from a client, a queued
    command on a pipeline, an awaitable from an asyncio client."""
    return client.zcount(set_key, int(time.time() * 1000), "+inf")
