"""Install, enable, disable, upgrade (hot-swap) and uninstall: one service for the admin, the
REST API and `manage.py extensions`.

Each change validates first and refuses with `LifecycleError` (one line naming the reason)
before touching anything; it then writes the rows and its history entry in one transaction
and announces the registry's generation, so every process follows within a poll. `dry_run`
runs every check and answers what would happen, changing nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from extensions import loader, registry
from extensions.api import Extension, ManifestError, manifest_problems
from extensions.models import Change, ExtensionHistory, ExtensionVersion, Origin
from extensions.models import Extension as Row
from orchestrator.workflows.extension import core_version


class LifecycleError(Exception):
    """A refused change; nothing was changed. `status` is the HTTP answer for the API."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Result:
    name: str
    change: str
    version: str
    message: str
    dry_run: bool = False


# --- validation ------------------------------------------------------------------------------
def check_manifest(manifest: Extension) -> None:
    problems = manifest_problems(manifest)
    if problems:
        raise LifecycleError(f"bad manifest: {problems[0]}")
    try:
        jsonschema.Draft202012Validator.check_schema(manifest.config_schema)
    except jsonschema.SchemaError as exc:
        raise LifecycleError(f"config_schema is not valid JSON Schema: {exc.message}") from None
    if manifest.core and Version(core_version()) not in SpecifierSet(manifest.core):
        raise LifecycleError(
            f"{manifest.name} {manifest.version} needs core {manifest.core}; "
            f"this is core {core_version()}"
        )
    check_requirements(manifest)


def check_requirements(manifest: Extension) -> None:
    """Every required extension installed at a matching version, and no cycle."""
    table = registry.installed()
    for other, spec in manifest.requires.items():
        item = table.get(other)
        if item is None:
            raise LifecycleError(f"{manifest.name} requires {other}, which is not installed")
        if item.version not in SpecifierSet(spec or ""):
            raise LifecycleError(f"{manifest.name} requires {other} {spec}; {item.version} is")
    cycle = find_cycle(manifest, table)
    if cycle:
        raise LifecycleError(f"dependency cycle: {' -> '.join(cycle)}")


def find_cycle(manifest: Extension, table) -> list[str]:
    """A path from `manifest` back to itself through `requires`, or []."""
    graph = {name: list(item.manifest.requires) for name, item in table.items()}
    graph[manifest.name] = list(manifest.requires)
    stack = [(manifest.name, [manifest.name])]
    while stack:
        node, path = stack.pop()
        for other in graph.get(node, []):
            if other == manifest.name:
                return [*path, other]
            if other not in path:
                stack.append((other, [*path, other]))
    return []


def row_for(name: str) -> Row:
    row = Row.objects.filter(name=name, removed=False).first()
    if row is None:
        raise LifecycleError(f"unknown extension {name!r}", status=404)
    return row


def record(name: str, change: str, actor: str, **fields) -> None:
    ExtensionHistory.objects.create(extension=name, change=change, actor=actor, **fields)


# --- discovery into rows ---------------------------------------------------------------------
def sync_discovered(actor: str = "discovery") -> list[str]:
    """Rows for entry points seen for the first time (or a new version of one)."""
    added = []
    with transaction.atomic():
        for name, manifest in registry.discovered().items():
            row, _ = Row.objects.get_or_create(
                name=name,
                defaults={"active_version": manifest.version, "description": manifest.description},
            )
            if row.removed:
                continue
            _, new = ExtensionVersion.objects.get_or_create(
                extension=row,
                version=manifest.version,
                defaults={"origin": Origin.ENTRY_POINT, "manifest": summary(manifest)},
            )
            if new:
                record(name, Change.DISCOVER, actor, to_version=manifest.version)
                added.append(f"{name} {manifest.version}")
        if added:
            registry.announce_change()
    return added


def summary(manifest: Extension) -> dict:
    return {
        "actions": sorted(registry.actions_of(manifest)),
        "requires": manifest.requires,
        "core": manifest.core,
        "webhook": manifest.webhook is not None,
        "config_schema": manifest.config_schema,
        "description": manifest.description,
    }


# --- install ---------------------------------------------------------------------------------
def install(path: str | Path, *, actor: str = "", dry_run: bool = False) -> Result:
    """Unpack PATH into its own version folder, validate it, and record it (enabled)."""
    sync_discovered()
    with tempfile.TemporaryDirectory(dir=_staging_dir()) as scratch:
        try:
            unpacked = loader.unpack(Path(path), Path(scratch))
        except ManifestError as exc:
            raise LifecycleError(str(exc)) from None
        manifest = _load_staged(unpacked)
        check_manifest(manifest)
        _refuse_duplicate(manifest)
        if dry_run:
            return Result(manifest.name, Change.INSTALL, manifest.version, "would install", True)
        target = settings.EXTENSIONS_DIR / manifest.name / manifest.version
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(scratch, target)
    loader.write_entry(target, unpacked.entry)
    try:
        _record_install(manifest, target, actor)
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return Result(manifest.name, Change.INSTALL, manifest.version, "installed")


def _staging_dir() -> Path:
    settings.EXTENSIONS_DIR.mkdir(parents=True, exist_ok=True)
    return settings.EXTENSIONS_DIR


def _load_staged(unpacked: loader.Unpacked) -> Extension:
    alias = f"contexten_ext_staging_{Path(unpacked.root).name}"
    try:
        return loader.load_entry(unpacked.root, unpacked.entry, alias)
    except ManifestError as exc:
        raise LifecycleError(str(exc)) from None
    except Exception as exc:  # the author's import error of any kind
        raise LifecycleError(
            f"entry point {unpacked.entry} failed to import: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        loader.forget_alias(alias)


def _refuse_duplicate(manifest: Extension) -> None:
    if ExtensionVersion.objects.filter(
        extension__name=manifest.name, extension__removed=False, version=manifest.version
    ).exists():
        raise LifecycleError(f"{manifest.name} {manifest.version} is already installed")


def _record_install(manifest: Extension, target: Path, actor: str) -> None:
    with transaction.atomic():
        row, _ = Row.objects.get_or_create(
            name=manifest.name,
            defaults={"active_version": manifest.version, "description": manifest.description},
        )
        if row.removed:
            row.removed, row.enabled, row.active_version = False, True, manifest.version
            row.updated_at = timezone.now()
            row.save()
        ExtensionVersion.objects.create(
            extension=row,
            version=manifest.version,
            origin=Origin.FOLDER,
            path=str(target),
            manifest=summary(manifest),
        )
        record(manifest.name, Change.INSTALL, actor, to_version=manifest.version)
        registry.announce_change()


# --- enable, disable -------------------------------------------------------------------------
def set_enabled(name: str, enabled: bool, *, actor: str = "", dry_run: bool = False) -> Result:
    sync_discovered()
    change = Change.ENABLE if enabled else Change.DISABLE
    with transaction.atomic():
        row = row_for(name)
        if dry_run or row.enabled == enabled:
            state = "enabled" if row.enabled else "disabled"
            verb = f"would {change}" if dry_run and row.enabled != enabled else f"already {state}"
            return Result(name, change, row.active_version, verb, dry_run)
        Row.objects.filter(pk=row.pk).update(enabled=enabled, updated_at=timezone.now())
        record(name, change, actor, to_version=row.active_version)
        registry.announce_change()
    if enabled:
        transaction.on_commit(lambda: redispatch_held(name))
    return Result(name, change, row.active_version, f"{change}d")


def redispatch_held(name: str) -> int:
    """Ring for the events a disabled extension's webhook stored while it was off."""
    from orchestrator.events.models import Event, Status
    from orchestrator.events.store import ring_doorbell

    ids = list(
        Event.objects.filter(source=name, status=Status.RECEIVED).values_list("id", flat=True)
    )
    for event_id in ids:
        ring_doorbell(event_id)
    return len(ids)


# --- upgrade (hot-swap) ----------------------------------------------------------------------
def upgrade(name: str, version: str, *, actor: str = "", dry_run: bool = False) -> Result:
    """Make `version` active; runs in flight keep the version they pinned. A failing
    `setup` switches back to the previous version by itself, and the history says why."""
    sync_discovered()
    row = row_for(name)
    target = row.versions.filter(version=version).first()
    if target is None:
        known = ", ".join(row.versions.values_list("version", flat=True))
        raise LifecycleError(f"{name} has no installed version {version!r} (installed: {known})")
    manifest = registry.manifest_at(name, version, target.path)
    check_manifest(manifest)
    previous = row.active_version
    if dry_run or previous == version:
        verb = "would switch" if dry_run else "already active"
        return Result(name, Change.UPGRADE, version, f"{verb} {previous} -> {version}", dry_run)
    _switch(row, previous, version, actor, Change.UPGRADE, "")
    problem = run_setup(manifest)
    if problem:
        _switch(
            row, version, previous, actor, Change.ROLLBACK, f"setup of {version} failed: {problem}"
        )
        raise LifecycleError(
            f"{name} {version}: setup failed ({problem}); {previous} is active again", status=409
        )
    return Result(name, Change.UPGRADE, version, f"switched {previous} -> {version}")


def _switch(row: Row, old: str, new: str, actor: str, change: str, reason: str) -> None:
    with transaction.atomic():
        Row.objects.filter(pk=row.pk).update(active_version=new, updated_at=timezone.now())
        record(row.name, change, actor, from_version=old, to_version=new, reason=reason,
               ok=change != Change.ROLLBACK)  # fmt: skip
        registry.announce_change()


def run_setup(manifest: Extension) -> str:
    """Run the manifest's `setup`; answer its one-line failure, or ""."""
    if manifest.setup is None:
        return ""
    try:
        registry.resolve(manifest.setup)()
    except Exception as exc:  # the author's failure of any kind
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return ""


# --- uninstall -------------------------------------------------------------------------------
def workflows_using(name: str) -> list[str]:
    """Enabled workflows whose current version has a step of this extension."""
    from orchestrator.workflows.models import Workflow

    users = []
    for workflow in Workflow.objects.filter(enabled=True).select_related("current_version"):
        steps = workflow.document.get("steps", [])
        if any(str(step.get("action", "")).split(".")[0] == name for step in steps):
            users.append(workflow.name)
    return sorted(users)


def uninstall(name: str, *, actor: str = "", dry_run: bool = False) -> Result:
    sync_discovered()
    row = row_for(name)
    users = workflows_using(name)
    if users:
        raise LifecycleError(
            f"{name} is used by enabled workflows: {', '.join(users)}; disable them first",
            status=409,
        )
    if dry_run:
        return Result(name, Change.UNINSTALL, row.active_version, "would uninstall", True)
    manifest = registry.installed().get(name)
    folders = [v.path for v in row.versions.all() if v.path]
    with transaction.atomic():
        row.versions.all().delete()
        Row.objects.filter(pk=row.pk).update(removed=True, enabled=False, updated_at=timezone.now())
        record(name, Change.UNINSTALL, actor, from_version=row.active_version)
        registry.announce_change()
    if manifest is not None and manifest.manifest.teardown:
        registry.resolve(manifest.manifest.teardown)()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return Result(name, Change.UNINSTALL, row.active_version, "uninstalled")
