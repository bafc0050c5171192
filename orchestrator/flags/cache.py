"""Compiled flags, cached per process and invalidated everywhere within a second of a change.

Invalidation is the shared generation token of `orchestrator/core/generations.py` under the
name "flags": each process checks it at most every `FLAGS_CACHE_POLL_SECONDS` (0.5 s) and
reloads every flag in one query when it moved. Between polls, evaluation touches no database.
"""

import logging

from django.conf import settings

from orchestrator.core import generations
from orchestrator.flags.engine import CompiledFlag, compile_flag
from orchestrator.flags.models import Flag
from orchestrator.flags.schema import FlagDocumentError, parse_flag

logger = logging.getLogger("contexten.flags")
GENERATION = "flags"


def announce_change() -> None:
    """Call inside the change's transaction (see `generations.announce`)."""
    generations.announce(GENERATION, store.cached)


class FlagStore:
    """The process's compiled flags: a dict swapped whole, so readers never need a lock.

    The OFREP fast path reads `flags` without a poll and runs `refresh` off the loop when
    `due()`; everything else calls `get`/`all`, which poll when due.
    """

    def __init__(self, poll_seconds: float | None = None):
        # The same flags by (key, salt, version): a reload recompiles only what changed.
        self.by_identity: dict[tuple[str, str, int], CompiledFlag] = {}
        self.cached = generations.Cached(
            GENERATION,
            self.load,
            poll_seconds if poll_seconds is not None else lambda: settings.FLAGS_CACHE_POLL_SECONDS,
        )

    def load(self) -> dict[str, CompiledFlag]:
        flags, self.by_identity = load_compiled(self.by_identity)
        return flags

    def invalidate(self) -> None:
        self.cached.invalidate()

    def due(self) -> bool:
        return self.cached.due()

    def refresh(self) -> None:
        self.cached.refresh()

    @property
    def loaded(self) -> bool:
        return self.cached.loaded

    @property
    def next_check(self) -> float:
        return self.cached.next_check

    @next_check.setter
    def next_check(self, when: float) -> None:
        self.cached.next_check = when

    @property
    def flags(self) -> dict[str, CompiledFlag]:
        """What is loaded now, without a poll (empty before the first load)."""
        return self.cached.value or {}

    def get(self, key: str) -> CompiledFlag | None:
        return self.cached.get().get(key)

    def all(self) -> dict[str, CompiledFlag]:
        return self.cached.get()


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
