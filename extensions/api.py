"""The public extension API: the one module an extension author imports.

An extension is a Python package whose entry point (group `contexten.extensions`) names an
`Extension` manifest. Everything an author needs lives here: the manifest, the `action`
decorator and what an action sees (`ActionContext`) or raises (`ActionError`), the webhook
receiver vocabulary (`Delivery`, `Refusal` and the parsing helpers), health-check results,
and `config(namespace)` for the extension's effective configuration.

This module imports no Django model, so settings.py can read manifests before apps load.
Fields that name code (`actions`, `webhook`, `health_checks`, `setup`, `teardown`, `demo`)
take the object itself or its dotted path ("pkg.module:attr" or "pkg.module.attr"); dotted
paths keep a manifest cheap to load, and are imported only when used.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

# What `config()` raises when a namespace cannot be used (unknown, an unset env: reference).
from extensions.config.schemas import ConfigError
from orchestrator.events.receiving import (
    Delivery,
    Refusal,
    decode_utf8,
    digest_matches,
    dumps,
    form_fields,
    parse_json_object,
    typed,
)

if TYPE_CHECKING:  # loaded on first use by __getattr__ below
    from orchestrator.core.http import Answer as PlatformAnswer
    from orchestrator.core.http import (
        PlatformClient,
        PlatformError,
        retry_after_seconds,
        session_for,
    )

__all__ = [
    "FAIL",
    "PASS",
    "WARN",
    "ActionContext",
    "ActionError",
    "ActionSpec",
    "BreakerOpen",
    "ConfigError",
    "Delivery",
    "Extension",
    "HealthResult",
    "ManifestError",
    "PlatformAnswer",
    "PlatformClient",
    "PlatformError",
    "Refusal",
    "Setting",
    "action",
    "config",
    "decode_utf8",
    "digest_matches",
    "dumps",
    "form_fields",
    "parse_json_object",
    "retry_after_seconds",
    "seed_config",
    "seed_events",
    "seed_workflows",
    "session_for",
    "typed",
]

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Names that would collide with core routes (`/<name>/events`) or namespaces.
RESERVED_NAMES = frozenset({"api", "admin", "health", "dashboard", "ofrep", "static", "webhooks"})


# --- actions ---------------------------------------------------------------------------------
class ActionError(Exception):
    """An action failed. `permanent` errors are never retried; transient ones are, after
    `retry_after` seconds when the platform said so (Retry-After, rate-limit reset)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


class BreakerOpen(ActionError):
    """The platform's circuit breaker is open: the step waits `retry_after` seconds and
    tries again without spending an attempt."""

    def __init__(self, platform: str, retry_after: float):
        super().__init__(f"{platform} circuit breaker is open", retry_after=retry_after)
        self.platform = platform


@dataclass(frozen=True)
class ActionContext:
    """What an action knows about the step it runs for."""

    run_id: int | str
    step_id: str
    attempt: int
    # Stable across attempts of the same step, so platforms that dedupe can do so.
    idempotency_key: str
    # The extension's effective configuration: schema defaults, then the stored document,
    # with `env:NAME` references resolved (see `config()`).
    config: dict[str, Any] = field(default_factory=dict)
    # The extension and version running this step (pinned when the run started).
    extension: str = ""
    extension_version: str = ""
    # The workflow document's own values (its `vars:` block).
    vars: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[BaseModel, ActionContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    input_model: type[BaseModel]
    handler: Handler
    description: str = ""
    # Breaker and connection-pool key (usually the extension's name); None: no breaker.
    platform: str | None = None


def action(name: str, *, input_model: type[BaseModel], platform: str | None = None):
    """Decorate an async handler into an `ActionSpec`; its docstring is the description."""

    def wrap(handler: Handler) -> ActionSpec:
        return ActionSpec(name, input_model, handler, (handler.__doc__ or "").strip(), platform)

    return wrap


# --- health ----------------------------------------------------------------------------------
PASS, WARN, FAIL = "pass", "warn", "fail"


def HealthResult(status: str, output: str = "", **fields: Any) -> dict:
    """One health+json check result; a health check answers a list of these."""
    result = {"status": status, **fields}
    if output:
        result["output"] = output
    return result


# --- settings and configuration ------------------------------------------------------------
@dataclass(frozen=True)
class Setting:
    """An environment variable the extension reads, exposed as `django.conf.settings.NAME`.

    `kind` is "str", "secret" (also read from NAME_FILE), "int", "url" (trailing slash
    dropped) or "list" (comma-separated).
    """

    name: str
    default: Any = ""
    kind: str = "str"
    help: str = ""


KINDS = ("str", "secret", "int", "url", "list")


def config(namespace: str) -> dict[str, Any]:
    """The effective configuration of `namespace`: schema defaults, then the latest stored
    version, with `env:NAME` references resolved.

    Sync code only (its cache may query the database). A receiver's `secret()` may call it:
    the webhook pipeline calls `secret()` on a worker thread, not on the event loop. An action
    has its own namespace's configuration as `context.config`.
    """
    from extensions.registry import resolved_config

    return resolved_config(namespace)


# --- demo data (a manifest's `demo` calls these; each is idempotent, answers one line) -----
def seed_events(platform: str, fixtures: Path, deliveries: list[tuple[str, dict]]) -> str:
    """Store fixture payloads `<fixtures>/<name>.json` as deliveries with these headers."""
    from orchestrator.events.demo import seed_fixture_events

    return seed_fixture_events(platform, Path(fixtures), deliveries)


def seed_workflows(texts: list[str]) -> str:
    """Create the workflows (YAML documents) that do not exist yet."""
    from orchestrator.workflows.demo import seed_workflow_texts

    return seed_workflow_texts(texts)


def seed_config(namespace: str, data: dict, *, reason: str = "demo data") -> str:
    """Store a first configuration version for `namespace`, unless it has one."""
    from extensions.config.store import seed

    return seed(namespace, data, reason=reason)


# --- the manifest ----------------------------------------------------------------------------
class ManifestError(ValueError):
    """A manifest that cannot be installed; the message names the field."""


Code = Callable[..., Any] | str


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per load
class Extension:
    """An extension's manifest. Only `name` and `version` are required."""

    name: str
    version: str
    description: str = ""
    actions: list[ActionSpec | str] = field(default_factory=list)
    config_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    # A receiver module (or object) with check_headers, verify, parse and SECRET_SETTING.
    webhook: Any = None
    # check name ("component:measurement") -> callable answering a list of HealthResult.
    health_checks: dict[str, Code] = field(default_factory=dict)
    # Other extensions this one needs: name -> PEP 440 specifier ("" for any version).
    requires: dict[str, str] = field(default_factory=dict)
    # The core versions this extension works with (PEP 440 specifier; "" for any).
    core: str = ""
    settings: list[Setting] = field(default_factory=list)
    # Breaker and pool key of its platform calls; `<PLATFORM>_POOL_MAX` sizes the pool.
    platform: str | None = None
    # Settings that must be set for the webhook to accept anything (a missing one warns).
    secret_settings: list[str] = field(default_factory=list)
    setup: Code | None = None
    teardown: Code | None = None
    # Called with no arguments by `seed_demo`: create demo workflows, events, flags.
    demo: Code | None = None
    # Called with one line of text for operator notices (e.g. a guarded rollback).
    notify: Code | None = None
    # A factory answering an aiohttp `web.Application` that stands in for the platform's API
    # (strict, loopback): `make run` may serve it so the demo's calls reach something.
    sandbox: Code | None = None

    def validate(self) -> None:
        """Raise ManifestError naming the first field that cannot work."""
        for problem in manifest_problems(self):
            raise ManifestError(problem)


def manifest_problems(manifest: Extension) -> list[str]:
    """Every problem with a manifest, each a line that names the field."""
    problems = []
    if not isinstance(manifest.name, str) or not NAME.match(manifest.name):
        problems.append(f"name {manifest.name!r} must match {NAME.pattern}")
    elif manifest.name in RESERVED_NAMES:
        problems.append(f"name {manifest.name!r} is reserved")
    problems += _version_problems("version", manifest.version)
    problems += _specifier_problems("core", manifest.core)
    for other, spec in (manifest.requires or {}).items():
        problems += _specifier_problems(f"requires.{other}", spec)
    if not isinstance(manifest.config_schema, dict):
        problems.append("config_schema must be a JSON Schema object")
    for index, item in enumerate(manifest.actions):
        if not isinstance(item, ActionSpec | str):
            problems.append(f"actions[{index}] must be an @action or a dotted path")
        elif isinstance(item, ActionSpec) and not item.name.startswith(f"{manifest.name}."):
            problems.append(f"actions[{index}] {item.name!r} must start with {manifest.name}.")
    for setting in manifest.settings:
        if setting.kind not in KINDS:
            problems.append(f"settings.{setting.name}: kind must be one of {', '.join(KINDS)}")
    return problems


def _version_problems(where: str, value: Any) -> list[str]:
    try:
        Version(str(value))
    except InvalidVersion:
        return [f"{where} {value!r} is not a PEP 440 version"]
    return []


def _specifier_problems(where: str, value: Any) -> list[str]:
    try:
        SpecifierSet(value or "")
    except InvalidSpecifier:
        return [f"{where} {value!r} is not a PEP 440 specifier"]
    return []


# --- calling a platform over HTTP -----------------------------------------------------------
# The pooled client base the built-in integrations use: one aiohttp session per platform per
# event loop (`session_for`, sized by `<PLATFORM>_POOL_MAX`), the platform's circuit breaker
# around every call, `Retry-After` parsing, and `PlatformError` (an ActionError that says
# whether the failure counts against the breaker). Subclass `PlatformClient`, set `platform`
# to the manifest's `platform`, and override `check` to read the platform's error shape.
# Loaded on first use (PEP 562): it needs configured settings, this module must not.
_HTTP_NAMES = {
    "PlatformAnswer": "Answer",
    "PlatformClient": "PlatformClient",
    "PlatformError": "PlatformError",
    "retry_after_seconds": "retry_after_seconds",
    "session_for": "session_for",
}


def __getattr__(name: str) -> Any:
    if name in _HTTP_NAMES:
        from orchestrator.core import http

        return getattr(http, _HTTP_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
