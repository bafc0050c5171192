"""Cross-process cache invalidation by name ("flags", "config", "extensions"): one mechanism.

Every change writes a fresh random generation token for its name (Redis when `REDIS_URL` is
set, else a `Generation` row in the shared database). Each process compares the token with
the one it loaded at most every `poll_seconds` and reloads when it differs. A random token
rather than a counter means a flushed Redis or a rolled-back test transaction can never make
a stale process look current. Between polls, readers touch no database.

`announce(name, *caches)` is called inside the change's transaction; `Cached` is the
per-process value that follows a name.
"""

import threading
import time
import uuid
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import transaction

from orchestrator.core.models import Generation

T = TypeVar("T")


def read(name: str) -> str | None:
    """The current token for `name` (None before the first change)."""
    if settings.REDIS_URL:
        from orchestrator.core.redis import key, redis_client

        token = redis_client().get(key(f"{name}:generation"))
        return token.decode() if token else None
    return Generation.objects.filter(name=name).values_list("token", flat=True).first()


def bump(name: str) -> None:
    """Write a fresh token, in the database always (it survives a Redis flush) and Redis."""
    token = uuid.uuid4().hex
    Generation.objects.update_or_create(name=name, defaults={"token": token})
    if settings.REDIS_URL:
        from orchestrator.core.redis import key, redis_client

        redis_client().set(key(f"{name}:generation"), token)


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
            generation = read(self.name)
            if generation != self.generation or not self.loaded:
                self.value = self.load()
                self.generation, self.loaded = generation, True
            self.next_check = time.monotonic() + poll
