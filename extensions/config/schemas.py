"""Schemas of the configuration namespaces, and what they say about a document.

`core` is defined here; every other namespace is an installed extension's `config_schema`
(from the registry). Schemas are JSON Schema Draft 2020-12. A field marked `writeOnly` is a
secret: `mask()` hides it wherever a document leaves the store (API, admin, logs, exports).
"""

import copy
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

MASK = "********"
ENV_REFERENCE = re.compile(r"^env:(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")

# What operators may change at run time for every workflow, without a deploy.
CORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "environment": {
            "type": "string",
            "default": "development",
            "description": "Where this control plane runs; templates see config.core.environment.",
        },
        "team": {
            "type": "string",
            "default": "",
            "description": "The team's name, for messages: config.core.team.",
        },
        "shared": {
            "type": "object",
            "default": {},
            "description": "Values every workflow template sees as config.core.shared.<name>.",
        },
        "secrets": {
            "type": "object",
            "default": {},
            "additionalProperties": {"type": "string", "writeOnly": True},
            "description": "Named secrets (write-only; best as env:NAME references) that "
            "templates use as config.core.secrets.<name>, e.g. a deploy hook's token.",
        },
    },
}


class ConfigError(ValueError):
    """A refused configuration request; the message is one line naming the problem."""


class InvalidConfig(ConfigError):
    """A document that fails its schema; the message names the JSON path."""


def registry_schemas() -> dict[str, dict]:
    """Installed extensions' schemas; none while the registry is not there (core still works)."""
    try:
        from extensions.registry import config_schemas
    except ImportError:
        return {}
    return config_schemas()


def all_schemas() -> dict[str, dict]:
    return {**registry_schemas(), "core": CORE_SCHEMA}


def schema_for(namespace: str) -> dict | None:
    if namespace == "core":
        return CORE_SCHEMA
    return registry_schemas().get(namespace)


def validate(namespace: str, schema: dict, data: Any) -> None:
    """Raise InvalidConfig naming the JSON path of the (most relevant) failure."""
    try:
        validator = Draft202012Validator(schema)
        error = best_match(validator.iter_errors(data))
    except SchemaError as exc:
        raise InvalidConfig(f"{namespace}: its schema is invalid: {exc.message}") from None
    if error is not None:
        raise InvalidConfig(f"{namespace} {error.json_path}: {error.message}")


def with_defaults(schema: dict, data: Any) -> Any:
    """`data` with the schema's `default`s filled in where absent (nested objects too)."""
    if not isinstance(data, dict) or not isinstance(schema, dict):
        return data
    filled = dict(data)
    for key, spec in schema.get("properties", {}).items():
        if not isinstance(spec, dict):
            continue
        if key not in filled and "default" in spec:
            filled[key] = copy.deepcopy(spec["default"])
        if key in filled:
            filled[key] = with_defaults(spec, filled[key])
    return filled


def subschema(schema: dict, key: str | int) -> dict:
    """The schema that governs `key` inside a value governed by `schema` ({} if unknown)."""
    if not isinstance(schema, dict):
        return {}
    if isinstance(key, int):
        items = schema.get("items", {})
        return items if isinstance(items, dict) else {}
    properties = schema.get("properties", {})
    if key in properties:
        return properties[key]
    extra = schema.get("additionalProperties", {})
    return extra if isinstance(extra, dict) else {}


def mask(schema: dict, value: Any) -> Any:
    """A copy of `value` with every `writeOnly` field replaced by MASK.

    An `env:NAME` reference holds no secret (the value lives in the environment), so it is
    shown as it is: operators need to see which variable a secret comes from.
    """
    if isinstance(schema, dict) and schema.get("writeOnly"):
        return value if is_reference(value) else MASK
    if isinstance(value, dict):
        return {key: mask(subschema(schema, key), item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(subschema(schema, index), item) for index, item in enumerate(value)]
    return value


def keep_masked(schema: dict, incoming: Any, stored: Any) -> Any:
    """`incoming` with each secret sent back as MASK replaced by its stored value.

    A client that read a masked document and changed another field must not overwrite the
    secret with the mask it was shown.
    """
    if isinstance(schema, dict) and schema.get("writeOnly") and incoming == MASK:
        return stored
    if isinstance(incoming, dict):
        old = stored if isinstance(stored, dict) else {}
        return {k: keep_masked(subschema(schema, k), v, old.get(k)) for k, v in incoming.items()}
    return incoming


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and ENV_REFERENCE.match(value) is not None


def references(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (JSON path, variable name) of an `env:NAME` reference inside `value`."""
    if isinstance(value, str):
        match = ENV_REFERENCE.match(value)
        return [(path, match["name"])] if match else []
    if isinstance(value, dict):
        return [ref for k, v in value.items() for ref in references(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [ref for i, v in enumerate(value) for ref in references(v, f"{path}[{i}]")]
    return []
