"""What the `config`, `rollout config` and `rollback config` commands share.

Each function answers a plain dict (printed as one JSON line with `--json`, or as short
lines) and raises CommandError with one line on any refusal, so the exit status is 1.
"""

import getpass
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from extensions.config import store


def author() -> str:
    return f"cli:{getpass.getuser()}"


def refused(exc: Exception) -> CommandError:
    return CommandError(str(exc))


def get(namespace: str, *, effective: bool) -> dict:
    try:
        store.require_schema(namespace)
        data = store.effective(namespace) if effective else store.stored(namespace)
    except store.ConfigError as exc:
        raise refused(exc) from None
    version = store.current_version(namespace)
    return {"namespace": namespace, "version": version, "data": store.masked(namespace, data)}


def document_from(namespace: str, *, file: str | None, data: str | None, sets: list[str]) -> dict:
    """The new document: a file, a JSON text, or the stored one with `path=value` edits."""
    if sum(bool(x) for x in (file, data, sets)) != 1:
        raise CommandError("give exactly one of --file, --data or --set path=value")
    try:
        if file:
            return json.loads(Path(file).read_text())
        if data:
            return json.loads(data)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the document: {exc}") from None
    document = json.loads(json.dumps(store.stored(namespace)))
    for item in sets:
        assign(document, item)
    return document


def assign(document: dict, item: str) -> None:
    """`shared.region=eu` or `shared.tier=2` (a JSON value, else the text) into `document`."""
    where, sep, raw = item.partition("=")
    if not sep or not where:
        raise CommandError(f"--set {item!r}: expected path=value, e.g. team=infra")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    *parents, leaf = where.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise CommandError(f"--set {item!r}: {part} is not an object")
    node[leaf] = value


def set_document(namespace: str, document: Any, *, reason: str, dry_run: bool) -> dict:
    try:
        if dry_run:
            outcome = store.preview(namespace, document)
        else:
            outcome = store.save(namespace, document, author=author(), reason=reason)
    except store.ConfigError as exc:
        raise refused(exc) from None
    return summary(outcome, dry_run)


def rollback(namespace: str, version: int | None, *, reason: str, dry_run: bool) -> dict:
    if version is None:
        raise CommandError("give the version to roll back to: --version N")
    try:
        if dry_run:
            target = store.version_row(namespace, version)
            outcome = store.preview(namespace, target.data)
        else:
            outcome = store.rollback(namespace, version, author=author(), reason=reason)
    except store.ConfigError as exc:
        raise refused(exc) from None
    return summary(outcome, dry_run)


def diff(namespace: str, from_version: int, to_version: int) -> dict:
    try:
        patch = store.diff(namespace, from_version, to_version)
    except store.ConfigError as exc:
        raise refused(exc) from None
    return {"namespace": namespace, "from": from_version, "to": to_version, "patch": patch}


def summary(outcome: store.Saved, dry_run: bool) -> dict:
    return {
        "namespace": outcome.namespace,
        "dry_run": dry_run,
        "version": outcome.version,
        "patch": outcome.patch,
        "warnings": outcome.warnings,
    }


def write(command, result: dict, *, as_json: bool) -> None:
    """One JSON line, or short lines for people; warnings go to stderr either way."""
    for warning in result.get("warnings", []):
        command.stderr.write(f"warning: {warning}")
    if as_json:
        command.stdout.write(json.dumps(result, default=str))
        return
    if "data" in result:
        command.stdout.write(f"{result['namespace']} version {result['version']}")
        command.stdout.write(json.dumps(result["data"], indent=2))
        return
    for op in result["patch"]:
        value = f" {json.dumps(op['value'])}" if "value" in op else ""
        command.stdout.write(f"{op['op']} {op['path']}{value}")
    if not result["patch"]:
        command.stdout.write("no change")
    if "dry_run" in result:
        state = "would be version" if result["dry_run"] else "now version"
        number = result["version"] + 1 if result["dry_run"] else result["version"]
        command.stdout.write(f"{result['namespace']}: {state} {number}")
