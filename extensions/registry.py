"""The extension registry: which extensions exist, which version of each is active, and all
that core derives from them (actions, webhook receivers, breakers, health checks, secret
warnings, pool sizes, demo data, notices, configuration schemas).

Two sources: entry points (`extensions.discovery`, the built-ins and pip-installed packages)
and versions installed through Contexten (`extensions.loader`, folders under EXTENSIONS_DIR).
Which of them is enabled and at which version is in the database (`extensions.models`); each
process keeps a snapshot (`view`) and reloads it when the shared generation token moves
(`orchestrator.core.generations`, the same invalidation flags and configuration use).
Without rows (a fresh database, a test) every discovered extension is enabled at its
discovered version.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils.module_loading import import_string

from extensions.api import ActionSpec, Extension
from extensions.discovery import discovered
from orchestrator.core import generations

logger = logging.getLogger("contexten.extensions")
GENERATION_NAME = "extensions"
ENTRY_POINT = ""  # the `path` of a version that comes from an entry point


@dataclass(frozen=True)
class Installed:
    """One extension as this process sees it."""

    name: str
    enabled: bool
    version: str  # the active version
    versions: dict[str, str] = field(default_factory=dict)  # version -> folder, "" entry point

    @property
    def manifest(self) -> Extension:
        return manifest_at(self.name, self.version, self.versions.get(self.version, ""))


# --- resolving code named in manifests -----------------------------------------------------
def resolve(code: Any) -> Any:
    """An object named by a manifest field: itself, or imported from "pkg.mod:attr"/dotted."""
    if not isinstance(code, str):
        return code
    if ":" in code:
        module, _, attr = code.partition(":")
        return getattr(import_module(module), attr)
    try:
        return import_string(code)
    except ImportError:
        return import_module(code)  # a module itself, e.g. a webhook receiver


@cache
def manifest_at(name: str, version: str, path: str) -> Extension:
    """The manifest of one installed version (loaded once per process)."""
    if path == ENTRY_POINT:
        manifest = discovered().get(name)
        if manifest is None or manifest.version != version:
            raise LookupError(f"extension {name} {version} is not installed in this environment")
        return manifest
    from extensions.loader import load_folder

    return load_folder(name, version, path)


@cache
def actions_of(manifest: Extension) -> dict[str, ActionSpec]:
    """A manifest's actions by name, importing those given as dotted paths."""
    specs = [resolve(item) for item in manifest.actions]
    return {spec.name: spec for spec in specs}


# --- the process's view of the registry ------------------------------------------------------
def default_table() -> dict[str, Installed]:
    return {
        name: Installed(name, True, manifest.version, {manifest.version: ENTRY_POINT})
        for name, manifest in discovered().items()
    }


def load_table() -> dict[str, Installed]:
    """Discovered defaults, overlaid by what the database says."""
    table = default_table()
    try:
        from extensions.models import Extension as Row

        rows = list(Row.objects.filter(removed=False).prefetch_related("versions"))
        removed = set(Row.objects.filter(removed=True).values_list("name", flat=True))
    except DatabaseError:  # not migrated yet: the defaults are the truth
        return table
    for name in removed:
        table.pop(name, None)
    for row in rows:
        versions = {v.version: v.path for v in row.versions.all()}
        if row.active_version in versions:
            table[row.name] = Installed(row.name, row.enabled, row.active_version, versions)
    return dict(sorted(table.items()))


def _poll_seconds() -> float:
    return settings.FLAGS_CACHE_POLL_SECONDS


view = generations.Cached(GENERATION_NAME, load_table, _poll_seconds)


def due() -> bool:
    """Whether this process's snapshot is due a generation check (a database read)."""
    return not view.loaded or time.monotonic() >= view.next_check


def check_soon() -> None:
    """Make the next lookup check the generation: this process met a version it does not
    know yet (another process installed or swapped it a moment ago)."""
    view.next_check = 0.0


def refresh() -> None:
    """Check the generation now if due (async callers run this in a thread first)."""
    if due():
        view.refresh()


async def refresh_async() -> None:
    """From async code: check the generation in a worker thread, only when due."""
    if due():
        from asgiref.sync import sync_to_async

        await sync_to_async(_refresh_and_close, thread_sensitive=False)()


def _refresh_and_close() -> None:
    from django.db import close_old_connections

    try:
        refresh()
    finally:
        close_old_connections()


def announce_change() -> None:
    """Call inside the change's transaction: every process reloads within a poll."""
    generations.announce(GENERATION_NAME, view)


# --- what core derives from the registry ----------------------------------------------------
def in_event_loop() -> bool:
    """Async code must not query the database; it reads the snapshot it has."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def installed(refresh: bool = True) -> dict[str, Installed]:
    """Every installed extension; `refresh=False` never touches the database (async code)."""
    if refresh:
        try:
            return view.get()
        except DatabaseError:  # not migrated yet (system checks before `migrate`)
            return default_table()
    return view.value if view.loaded else default_table()


def enabled_manifests() -> dict[str, Extension]:
    return {name: item.manifest for name, item in installed().items() if item.enabled}


def is_enabled(name: str) -> bool:
    item = installed().get(name)
    return bool(item and item.enabled)


def is_disabled(name: str) -> bool:
    """Installed but switched off: its events are stored and held, not dispatched."""
    item = installed().get(name)
    return bool(item and not item.enabled)


def receiver(platform: str, refresh: bool = True):
    """The webhook receiver of an installed extension (enabled or not), or None."""
    item = installed(refresh).get(platform)
    if item is None or item.manifest.webhook is None:
        return None
    return _receiver(item.manifest)


@cache
def _receiver(manifest: Extension):
    return resolve(manifest.webhook)


def webhook_platforms() -> list[str]:
    return [name for name, item in installed().items() if item.manifest.webhook is not None]


def unavailable(name: str) -> str:
    """Why a step of extension `name` cannot run now ("" when it can). Policy: a disabled
    extension's steps fail at once with a permanent error (docs/architecture.md)."""
    if not name:
        return ""
    item = installed().get(name)
    if item is None:
        return f"extension {name} is not installed"
    if not item.enabled:
        return f"extension {name} is disabled; enable it and retry the run"
    return ""


def pin(action_name: str) -> tuple[str, str]:
    """The extension and active version a new step of `action_name` will run with."""
    name = action_name.split(".", 1)[0]
    item = installed().get(name)
    return (name, item.version) if item else (name, "")


class UnknownAction(LookupError):
    pass


def get_action(action_name: str, version: str = "") -> ActionSpec:
    """The action at a pinned version (or the active one); UnknownAction otherwise."""
    name = action_name.split(".", 1)[0]
    item = installed(refresh=not in_event_loop()).get(name)
    if item is None:
        raise UnknownAction(f"unknown action {action_name!r}: no extension {name!r} installed")
    version = version or item.version
    if version not in item.versions:
        raise UnknownAction(f"{action_name}: extension {name} {version} is not installed")
    spec = actions_of(manifest_at(name, version, item.versions[version])).get(action_name)
    if spec is None:
        raise UnknownAction(f"unknown action {action_name!r} in extension {name} {version}")
    return spec


def action_names(include_disabled: bool = False) -> list[str]:
    """The actions of the active versions (of enabled extensions, unless told otherwise)."""
    items = [i for i in installed().values() if include_disabled or i.enabled]
    return sorted(name for item in items for name in actions_of(item.manifest))


def platforms() -> list[str]:
    """Breaker and pool keys: every installed extension that calls a platform."""
    return sorted({m.platform for m in discovered().values() if m.platform})


def secret_settings() -> list[tuple[str, str]]:
    """(extension, setting) for each webhook secret an enabled extension needs."""
    return [(n, s) for n, m in enabled_manifests().items() for s in m.secret_settings]


def demo_seeders() -> list[tuple[str, Any]]:
    return [(name, resolve(m.demo)) for name, m in enabled_manifests().items() if m.demo]


def notifiers() -> list:
    return [resolve(m.notify) for m in enabled_manifests().values() if m.notify]


def run_health_checks() -> dict[str, list[dict]]:
    """Each enabled extension's health checks; one that raises answers `fail`, never raises."""
    results = {}
    for manifest in enabled_manifests().values():
        for check, code in manifest.health_checks.items():
            try:
                results[check] = list(resolve(code)())
            except Exception as exc:
                output = f"{type(exc).__name__}: {exc}".splitlines()[0]
                results[check] = [{"status": "fail", "output": output}]
    return results


# --- configuration schemas (the configuration store calls these) ---------------------------
def config_schemas() -> dict[str, dict]:
    """namespace -> JSON Schema of each installed extension's active version."""
    return {name: item.manifest.config_schema for name, item in installed().items()}


def schema_for(namespace: str) -> dict | None:
    item = installed().get(namespace)
    return item.manifest.config_schema if item else None


def resolved_config(namespace: str) -> dict[str, Any]:
    """The effective configuration, from the configuration store when it is installed."""
    try:
        from extensions.config.store import resolved
    except ImportError:
        return schema_defaults(schema_for(namespace) or {})
    return resolved(namespace)


def schema_defaults(schema: dict) -> dict[str, Any]:
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}
