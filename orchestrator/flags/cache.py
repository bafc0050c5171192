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
    """The process's compiled flags: a dict swapped whole, so readers never need a lock."""

    def __init__(self, poll_seconds: float | None = None):
        self.cached = generations.Cached(
            GENERATION,
            load_compiled,
            poll_seconds if poll_seconds is not None else lambda: settings.FLAGS_CACHE_POLL_SECONDS,
        )

    def invalidate(self) -> None:
        self.cached.invalidate()

    def get(self, key: str) -> CompiledFlag | None:
        return self.cached.get().get(key)

    def all(self) -> dict[str, CompiledFlag]:
        return self.cached.get()


def load_compiled() -> dict[str, CompiledFlag]:
    """Compile every stored flag; a row that no longer validates is skipped, loudly."""
    compiled = {}
    for flag in Flag.objects.all():
        try:
            doc = parse_flag(flag.document())
        except FlagDocumentError as exc:
            logger.error("flags.cache.invalid-flag key=%s %s", flag.key, exc)
            continue
        compiled[flag.key] = compile_flag(doc, salt=flag.salt, version=flag.version)
    return compiled


store = FlagStore()
