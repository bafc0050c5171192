"""Compiled flags, cached per process and invalidated everywhere within a second of a change.

Every change writes a fresh random generation token (Redis when `REDIS_URL` is set, else the
`FlagsGeneration` row). Each process compares the token with the one it loaded at most every
`FLAGS_CACHE_POLL_SECONDS` (0.5 s) and reloads every flag in one query when it differs. A
random token rather than a counter means a flushed Redis or a rolled-back test transaction
can never make a stale process look current. Between polls, evaluation touches no database.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import transaction

from orchestrator.flags.engine import CompiledFlag, compile_flag
from orchestrator.flags.models import Flag, FlagsGeneration
from orchestrator.flags.schema import FlagDocumentError, parse_flag

logger = logging.getLogger("contexten.flags")
REDIS_KEY = "contexten:flags:generation"


def read_generation() -> str | None:
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        token = redis_client().get(REDIS_KEY)
        return token.decode() if token else None
    return FlagsGeneration.objects.filter(pk=1).values_list("token", flat=True).first()


def write_generation() -> None:
    token = uuid.uuid4().hex
    FlagsGeneration.objects.update_or_create(pk=1, defaults={"token": token})
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        redis_client().set(REDIS_KEY, token)


def announce_change() -> None:
    """Call inside the change's transaction: announce now, and again once it commits.

    The second announcement matters: a process that reloads between the first one and the
    commit still reads the old rows, and only a token written after the commit corrects it.
    """
    write_generation()
    store.invalidate()
    transaction.on_commit(after_commit)


def after_commit() -> None:
    write_generation()
    store.invalidate()


class FlagStore:
    """The process's compiled flags: a dict swapped whole, so readers never need a lock."""

    def __init__(self, poll_seconds: float | None = None):
        self.poll_seconds = poll_seconds
        self.flags: dict[str, CompiledFlag] = {}
        # The same flags by (key, salt, version): a reload recompiles only what changed.
        self.by_identity: dict[tuple[str, str, int], CompiledFlag] = {}
        self.generation: str | None = None
        self.next_check = 0.0  # monotonic time of the next generation check; 0 = now
        self.loaded = False
        self.lock = threading.Lock()

    def invalidate(self) -> None:
        self.next_check = 0.0
        self.loaded = False

    def due(self) -> bool:
        """Not loaded, or due for a generation check (which queries)."""
        return not self.loaded or time.monotonic() >= self.next_check

    def get(self, key: str) -> CompiledFlag | None:
        if time.monotonic() >= self.next_check:
            self.refresh()
        return self.flags.get(key)

    def all(self) -> dict[str, CompiledFlag]:
        if time.monotonic() >= self.next_check:
            self.refresh()
        return self.flags

    def refresh(self) -> None:
        """Reload when the generation moved (or nothing is loaded yet)."""
        with self.lock:
            poll = (
                self.poll_seconds
                if self.poll_seconds is not None
                else settings.FLAGS_CACHE_POLL_SECONDS
            )
            if time.monotonic() < self.next_check:
                return
            generation = read_generation()
            if generation != self.generation or not self.loaded:
                self.flags, self.by_identity = load_compiled(self.by_identity)
                self.generation, self.loaded = generation, True
            self.next_check = time.monotonic() + poll


def load_compiled(known: dict | None = None) -> tuple[dict[str, CompiledFlag], dict]:
    """Compile every stored flag, reusing those in `known` whose (key, salt, version) is
    unchanged: every change bumps the version, and at 10,000 flags compiling them all took
    seconds (bench scale_flags). A row that no longer validates is skipped, loudly."""
    known = known or {}
    compiled, by_identity = {}, {}
    for flag in Flag.objects.all():
        identity = (flag.key, flag.salt, flag.version)
        ready = known.get(identity) or compile_row(flag)
        if ready is not None:
            by_identity[identity] = compiled[flag.key] = ready
    return compiled, by_identity


def compile_row(flag: Flag) -> CompiledFlag | None:
    try:
        doc = parse_flag(flag.document())
    except FlagDocumentError as exc:
        logger.error("flags.cache.invalid-flag key=%s %s", flag.key, exc)
        return None
    return compile_flag(doc, salt=flag.salt, version=flag.version)


store = FlagStore()
