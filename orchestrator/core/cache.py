"""Two-level cache for platform lookups (repositories, teams, channels).

Level 1 is a bounded LRU in this process (PLATFORM_CACHE_SIZE entries): no I/O at all.
Level 2 is Django's cache (Redis when REDIS_URL is set), so processes share what one of them
fetched. An entry is fresh for PLATFORM_CACHE_TTL seconds; after that it is kept (ten times
as long in level 2) for revalidation: a fetcher that gets the stale entry can send its ETag as
If-None-Match, and a platform's 304 answer reuses the cached body without spending rate limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache as django_cache

from orchestrator.core import backends

STALE_KEEP_FACTOR = 10


@dataclass
class Entry:
    value: Any
    etag: str | None = None
    stored_at: float = 0.0  # epoch seconds

    def fresh(self, ttl: float, now: float) -> bool:
        return now - self.stored_at < ttl


class LRU:
    """A thread-safe, size-bounded least-recently-used map."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._items: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Entry | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is not None:
                self._items.move_to_end(key)
            return entry

    def set(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._items[key] = entry
            self._items.move_to_end(key)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_local: LRU | None = None


def local_cache() -> LRU:
    global _local
    if _local is None or _local.max_size != settings.PLATFORM_CACHE_SIZE:
        _local = LRU(settings.PLATFORM_CACHE_SIZE)
    return _local


def clear_local() -> None:
    local_cache().clear()


Fetch = Callable[[Entry | None], Awaitable[Entry]]


async def lookup(key: str, fetch: Fetch, ttl: float | None = None) -> Any:
    """Answer the cached value for `key`, calling `fetch(stale_entry_or_None)` when neither
    level holds a fresh one."""
    ttl = settings.PLATFORM_CACHE_TTL if ttl is None else ttl
    now = time.time()
    local = local_cache()
    entry = local.get(key)
    if entry is not None and entry.fresh(ttl, now):
        return entry.value
    shared = await _shared_get(_shared_key(key))
    if isinstance(shared, Entry) and shared.fresh(ttl, now):
        local.set(key, shared)
        return shared.value
    entry = await fetch(shared if isinstance(shared, Entry) else entry)
    entry.stored_at = time.time()
    local.set(key, entry)
    await _shared_set(_shared_key(key), entry, max(ttl * STALE_KEEP_FACTOR, 1))
    return entry.value


async def forget(key: str) -> None:
    local_cache().set(key, Entry(None, stored_at=0.0))
    await _shared(lambda: django_cache.adelete(_shared_key(key)))


async def _shared_get(key: str):
    return await _shared(lambda: django_cache.aget(key))


async def _shared_set(key: str, entry: Entry, timeout: float) -> None:
    await _shared(lambda: django_cache.aset(key, entry, timeout=timeout))


async def _shared(operation):
    """Level 2, skipped while a configured Redis is down (core/backends.py): each process
    then keeps its own level, and the platform answers the misses."""
    if not backends.redis_configured():
        return await operation()  # the embedded default: a local cache, always there
    if not backends.redis_in_use():
        return None
    try:
        answer = await operation()
    except backends.redis_errors() as exc:
        backends.health.failed(backends.CACHE, exc)
        return None
    backends.health.succeeded()
    return answer


def _shared_key(key: str) -> str:
    return f"platform-lookup:{key}"
