"""Find extension manifests through `importlib.metadata` entry points, without Django.

settings.py calls `declared_settings` before any app loads, so this module imports nothing
that needs configured settings. The built-ins (GitHub, Linear, Slack, core) declare their
entry points in the root `pyproject.toml`; contrib and third-party packages in their own.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from extensions.api import Extension, ManifestError, Setting

ENTRY_POINT_GROUP = "contexten.extensions"
logger = logging.getLogger("contexten.extensions")


class DiscoveryError(ManifestError):
    """An entry point that does not import or does not name a valid manifest."""


def load_entry_point(entry: EntryPoint) -> Extension:
    """Import the entry point's manifest; one line naming the entry point on failure."""
    try:
        manifest = entry.load()
    except Exception as exc:  # an author's import error of any kind
        raise DiscoveryError(
            f"entry point {entry.name} = {entry.value} failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(manifest, Extension):
        raise DiscoveryError(f"entry point {entry.name} = {entry.value} is not an Extension")
    try:
        manifest.validate()
    except ManifestError as exc:
        raise DiscoveryError(f"entry point {entry.name}: {exc}") from None
    if manifest.name != entry.name:
        raise DiscoveryError(f"entry point {entry.name} names extension {manifest.name!r}")
    return manifest


@cache
def discovered() -> dict[str, Extension]:
    """Every valid manifest the environment's entry points name; bad ones are logged."""
    found = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[entry.name] = load_entry_point(entry)
        except DiscoveryError as exc:
            logger.error("extensions.discovery.invalid %s", exc)
    return dict(sorted(found.items()))


@cache
def discovery_problems() -> tuple[str, ...]:
    """One line per entry point that could not be loaded (for the system check)."""
    problems = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            load_entry_point(entry)
        except DiscoveryError as exc:
            problems.append(str(exc))
    return tuple(problems)


def declared_settings() -> list[Setting]:
    """The settings every discovered extension reads, in discovery order."""
    return [setting for manifest in discovered().values() for setting in manifest.settings]
