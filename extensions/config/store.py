"""The configuration store: validated, versioned documents, seen by every process within 2 s.

Every change (REST, admin, commands, demo) comes through `save` or `rollback`: validated
against the namespace's schema, written as an immutable `ConfigVersion` together with the
document's current pointer in one transaction, and announced through the shared generation
token "config" (`orchestrator/core/generations.py`). Each process caches the current
documents and reloads them when the token moves, at most every `CONFIG_CACHE_POLL_SECONDS`.

`env:NAME` values are kept as references and resolved at use, so secrets can stay out of the
database. Saving a reference to a variable this process does not have is allowed (workers
may have an environment the web process lacks) but answered with a warning naming it; using
it fails with `UnsetReference`, naming it.
"""

import os
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
from django.conf import settings
from django.db import transaction
from jsonpointer import JsonPointer

from extensions.config import schemas
from extensions.config.models import ConfigDocument, ConfigVersion
from extensions.config.schemas import ConfigError, InvalidConfig, schema_for
from orchestrator.core import generations

__all__ = ["ConfigError", "InvalidConfig", "UnknownNamespace", "UnknownVersion", "UnsetReference"]
GENERATION = "config"


class UnknownNamespace(ConfigError, LookupError):
    pass


class UnknownVersion(ConfigError, LookupError):
    pass


class UnsetReference(ConfigError):
    """A value used while its `env:NAME` variable is not set."""


@dataclass(frozen=True)
class Saved:
    """The outcome of a change: the new version and any warnings (unset references)."""

    namespace: str
    version: int
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    patch: list[dict] = field(default_factory=list)


def load_current() -> dict[str, dict]:
    """namespace -> the current version's stored data, for every namespace (one query)."""
    rows = ConfigDocument.objects.filter(current__isnull=False).values_list(
        "namespace", "current__data"
    )
    return dict(rows)


cache = generations.Cached(GENERATION, load_current, lambda: settings.CONFIG_CACHE_POLL_SECONDS)


# --- reading ---------------------------------------------------------------------------------
def require_schema(namespace: str) -> dict:
    schema = schema_for(namespace)
    if schema is None:
        known = ", ".join(sorted(schemas.all_schemas()))
        raise UnknownNamespace(f"no configuration namespace {namespace!r} (known: {known})")
    return schema


def stored(namespace: str) -> dict[str, Any]:
    """The current version's data as stored (references unresolved, secrets unmasked)."""
    return cache.get().get(namespace, {})


def effective(namespace: str) -> dict[str, Any] | None:
    """Schema defaults, then the stored document; None for an unknown namespace."""
    schema = schema_for(namespace)
    if schema is None:
        return None
    return schemas.with_defaults(schema, stored(namespace))


def resolved(namespace: str) -> dict[str, Any]:
    """The effective configuration with every `env:NAME` resolved now.

    Raises UnknownNamespace, or UnsetReference naming each variable that is not set.
    """
    data = effective(namespace)
    if data is None:
        require_schema(namespace)
    return resolve_value(data, namespace)


def resolve_value(value: Any, where: str) -> Any:
    """`value` with its references resolved; UnsetReference names each one that is unset."""
    missing = [(path, name) for path, name in schemas.references(value) if name not in os.environ]
    if missing:
        raise UnsetReference(
            "; ".join(
                f"config.{where}{path[1:]} refers to env:{name}, which is not set"
                for path, name in missing
            )
        )
    return _substitute(value)


def _substitute(value: Any) -> Any:
    if isinstance(value, str) and schemas.is_reference(value):
        return os.environ[value[4:]]
    if isinstance(value, dict):
        return {key: _substitute(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item) for item in value]
    return value


def unset_warnings(namespace: str, data: Any) -> list[str]:
    """One line per reference to a variable this process does not have."""
    return [
        f"config.{namespace}{path[1:]} refers to env:{name}, which is not set in this process"
        for path, name in schemas.references(data)
        if name not in os.environ
    ]


def masked(namespace: str, data: Any) -> Any:
    """`data` with the namespace's secrets masked: for the API, admin, logs and exports."""
    return schemas.mask(schema_for(namespace) or {}, data)


def export() -> dict[str, dict]:
    """Every namespace's current version, secrets masked (backups, the dashboard)."""
    documents = ConfigDocument.objects.filter(current__isnull=False).select_related("current")
    return {
        doc.namespace: {
            "version": doc.current.version,
            "data": masked(doc.namespace, doc.current.data),
        }
        for doc in documents
    }


def versions(namespace: str):
    """The namespace's versions, newest first (none yet is an empty queryset)."""
    require_schema(namespace)
    return ConfigVersion.objects.filter(document__namespace=namespace).order_by("-version")


def version_row(namespace: str, version: int) -> ConfigVersion:
    row = versions(namespace).filter(version=version).first()
    if row is None:
        raise UnknownVersion(f"configuration {namespace!r} has no version {version}")
    return row


def data_at(namespace: str, version: int) -> dict[str, Any]:
    """A version's stored data; version 0 is the empty document before the first change."""
    if version == 0:
        require_schema(namespace)
        return {}
    return version_row(namespace, version).data


def diff(namespace: str, from_version: int, to_version: int) -> list[dict]:
    """RFC 6902 JSON Patch from one version to another, secrets masked."""
    before, after = data_at(namespace, from_version), data_at(namespace, to_version)
    return masked_patch(namespace, before, after)


def masked_patch(namespace: str, before: dict, after: dict) -> list[dict]:
    schema = schema_for(namespace) or {}
    return [_mask_operation(schema, op) for op in jsonpatch.make_patch(before, after).patch]


def _mask_operation(schema: dict, operation: dict) -> dict:
    if "value" not in operation:
        return operation
    governing = schema
    for part in JsonPointer(operation["path"]).parts:
        if governing.get("writeOnly"):
            break
        key = int(part) if part.isdigit() and "items" in governing else part
        governing = schemas.subschema(governing, key)
    return {**operation, "value": schemas.mask(governing, operation["value"])}


# --- changing --------------------------------------------------------------------------------
def preview(namespace: str, data: Any) -> Saved:
    """What `save` would do (validated, nothing written): the patch and the warnings."""
    schema = require_schema(namespace)
    current = stored(namespace)
    data = _checked(namespace, schema, data, current)
    return Saved(
        namespace,
        current_version(namespace),
        masked(namespace, data),
        unset_warnings(namespace, schemas.with_defaults(schema, data)),
        masked_patch(namespace, current, data),
    )


def save(namespace: str, data: Any, *, author: str, reason: str = "", user=None) -> Saved:
    """Validate and store `data` as the namespace's new version; announce it everywhere.

    A secret sent back as the mask keeps its stored value. Raises UnknownNamespace or
    InvalidConfig (naming the JSON path); nothing is written then.
    """
    schema = require_schema(namespace)
    with transaction.atomic():
        document = _locked(namespace)
        current = document.current.data if document.current_id else {}
        data = _checked(namespace, schema, data, current)
        row = _write(document, data, author=author, user=user, reason=reason)
    return _saved(namespace, schema, row, current)


def rollback(namespace: str, version: int, *, author: str, reason: str = "", user=None) -> Saved:
    """Restore version N's data as a new version (it must still fit the current schema)."""
    schema = require_schema(namespace)
    with transaction.atomic():
        document = _locked(namespace)
        target = version_row(namespace, version)
        try:
            schemas.validate(namespace, schema, target.data)
        except InvalidConfig as exc:
            raise InvalidConfig(f"version {version} no longer fits the schema: {exc}") from None
        current = document.current.data if document.current_id else {}
        row = _write(
            document,
            target.data,
            author=author,
            user=user,
            reason=reason or f"roll back to version {version}",
            restored_from=version,
        )
    return _saved(namespace, schema, row, current)


def current_version(namespace: str) -> int:
    return (
        ConfigDocument.objects.filter(namespace=namespace)
        .values_list("current__version", flat=True)
        .first()
        or 0
    )


def _checked(namespace: str, schema: dict, data: Any, current: dict) -> dict:
    if not isinstance(data, dict):
        raise InvalidConfig(f"{namespace} $: the configuration must be a JSON object")
    data = schemas.keep_masked(schema, data, current)
    schemas.validate(namespace, schema, data)
    return data


def _locked(namespace: str) -> ConfigDocument:
    """The namespace's row, created if new, locked for this transaction."""
    ConfigDocument.objects.get_or_create(namespace=namespace)
    return (
        ConfigDocument.objects.select_for_update(of=("self",))
        .select_related("current")
        .get(namespace=namespace)
    )


def _write(document, data, *, author, user, reason, restored_from=None) -> ConfigVersion:
    latest = document.versions.order_by("-version").values_list("version", flat=True).first()
    row = ConfigVersion.objects.create(
        document=document,
        version=(latest or 0) + 1,
        data=data,
        action=ConfigVersion.Action.ROLLBACK if restored_from else ConfigVersion.Action.SET,
        restored_from=restored_from,
        author=author,
        changed_by=user if getattr(user, "pk", None) else None,
        reason=reason,
    )
    document.current = row
    document.save(update_fields=["current", "updated_at"])
    generations.announce(GENERATION, cache)
    return row


def _saved(namespace: str, schema: dict, row: ConfigVersion, before: dict) -> Saved:
    return Saved(
        namespace,
        row.version,
        masked(namespace, row.data),
        unset_warnings(namespace, schemas.with_defaults(schema, row.data)),
        masked_patch(namespace, before, row.data),
    )


def seed(namespace: str, data: dict, *, reason: str = "demo data") -> str:
    """Store `data` as the first version unless the namespace has one (idempotent seeding)."""
    if current_version(namespace):
        return f"configuration {namespace!r} kept at version {current_version(namespace)}"
    saved = save(namespace, data, author="demo", reason=reason)
    return f"configuration {namespace!r} seeded as version {saved.version}"
