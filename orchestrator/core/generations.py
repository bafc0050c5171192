"""Cross-process cache invalidation by name ("flags", "config", "extensions"): one mechanism.

Every change writes a fresh random generation token for its name (Redis when `REDIS_URL` is
set, else a `Generation` row in the shared database, which also answers while Redis is down:
core/backends.py). Each process compares the token with the one it loaded at most every
`poll_seconds` and reloads when it differs. A random token
rather than a counter means a flushed Redis or a rolled-back test transaction can never make
a stale process look current. Between polls, readers touch no database.

`announce(name, *caches)` is called inside the change's transaction; `Cached` is the
per-process value that follows a name.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import DatabaseError, transaction

from orchestrator.core import backends
from orchestrator.core.models import Generation

T = TypeVar("T")
logger = logging.getLogger("contexten.generations")


def read(name: str) -> str | None:
    """The current token for `name` (None before the first change)."""
    return store().read(name)


def bump(name: str) -> None:
    """Write a fresh token, in the database always (it survives a Redis flush) and Redis."""
    token = uuid.uuid4().hex
    Generation.objects.update_or_create(name=name, defaults={"token": token})
    store().write(name, token)


def token_key(name: str) -> str:
    from orchestrator.core.redis import key

    return key(f"{name}:generation")


class RedisTokens:
    def __init__(self):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()
        # Tokens written while Redis was down are only in the rows: copy them back, or a
        # process that still holds the pre-outage token would read it there and stay stale.
        backends.on_recovery(self.copy_rows)

    def read(self, name: str) -> str | None:
        token = self.redis.get(token_key(name))
        return token.decode() if token else None

    def write(self, name: str, token: str) -> None:
        self.redis.set(token_key(name), token)

    def copy_rows(self) -> None:
        rows = dict(Generation.objects.values_list("name", "token"))
        if rows:
            self.redis.mset({token_key(n): t for n, t in rows.items()})


class DatabaseTokens:
    def read(self, name: str) -> str | None:
        return Generation.objects.filter(name=name).values_list("token", flat=True).first()

    def write(self, name: str, token: str) -> None:
        """`bump` already wrote the row."""


def store():
    """Redis or the rows, chosen in one place (core/backends.py)."""
    return backends.choose(backends.GENERATIONS, RedisTokens, DatabaseTokens)


def announce(name: str, *local: "Cached") -> None:
    """Call inside the change's transaction: announce now, and again once it commits.

    The second announcement matters: a process that reloads between the first one and the
    commit still reads the old rows, and only a token written after the commit corrects it.
    `local` caches of this process are invalidated at once, so it sees its own change.
    """

    def now() -> None:
        bump(name)
        for cache in local:
            cache.invalidate()

    now()
    transaction.on_commit(now)


class Cached(Generic[T]):
    """A per-process value loaded by `load()`, reloaded when `name`'s generation moves.

    The value is swapped whole, so readers never need a lock; only a reload takes one.
    `poll_seconds` may be a number or a callable read at each poll (settings in tests).
    """

    def __init__(self, name: str, load: Callable[[], T], poll_seconds: float | Callable[[], float]):
        self.name = name
        self.load = load
        self.poll_seconds = poll_seconds
        self.value: T | None = None
        self.generation: str | None = None
        self.next_check = 0.0  # monotonic time of the next generation check; 0 = now
        self.loaded = False
        self.lock = threading.Lock()

    def invalidate(self) -> None:
        self.next_check = 0.0
        self.loaded = False

    def due(self) -> bool:
        """Not loaded, or due for a generation check (which reads the store)."""
        return not self.loaded or time.monotonic() >= self.next_check

    def get(self) -> T:
        if time.monotonic() >= self.next_check:
            self.refresh()
        return self.value

    def refresh(self) -> None:
        """Reload when the generation moved (or nothing is loaded yet)."""
        with self.lock:
            if time.monotonic() < self.next_check:
                return
            poll = self.poll_seconds() if callable(self.poll_seconds) else self.poll_seconds
            try:
                generation = read(self.name)
            except DatabaseError as exc:
                if not self.loaded:
                    raise
                # The database is down: keep answering the loaded value (the webhook path
                # then answers 503 at its insert, quickly) and look again after one poll.
                logger.warning("generations.read-failed name=%s error=%s", self.name, exc)
                self.next_check = time.monotonic() + poll
                return
            if generation != self.generation or not self.loaded:
                self.value = self.load()
                self.generation, self.loaded = generation, True
            self.next_check = time.monotonic() + poll
