"""Every flag change, made explicitly: the new state and its version row in one transaction.

The REST API, the admin, the management commands and the guard all call these functions, so
a change is validated, versioned (who, when, what, why) and announced to every process the
same way wherever it comes from.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from orchestrator.flags.cache import announce_change
from orchestrator.flags.models import Flag, FlagVersion
from orchestrator.flags.schema import FlagDocumentError, parse_flag, to_document


class FlagNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who made a change: a user, or a named system part ("guard", "cli")."""

    name: str
    user: Any = None

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(user.get_username(), user)


def save_flag(data: dict, *, actor: Actor, reason: str = "", action: str | None = None) -> Flag:
    """Create or replace a flag from its document, writing a version row with the change."""
    doc = to_document(parse_flag(data))
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(key=doc["key"]).first()
        action = action or ("update" if flag else "create")
        return apply(flag or Flag(key=doc["key"]), doc, actor=actor, reason=reason, action=action)


def apply(flag: Flag, doc: dict, *, actor: Actor, reason: str, action: str) -> Flag:
    """Write `doc` onto the locked `flag`, then its version row; caller holds the transaction."""
    before = flag.document() if flag.pk else {}
    set_columns(flag, doc)
    flag.version += 1
    flag.save()
    FlagVersion.objects.create(
        flag=flag,
        version=flag.version,
        action=action,
        snapshot=doc,
        diff=diff(before, doc),
        actor=actor.name,
        changed_by=actor.user,
        reason=reason,
    )
    announce_change()
    return flag


def set_columns(flag: Flag, doc: dict) -> None:
    rollout = doc["rollout"]
    flag.description = doc["description"]
    flag.enabled = doc["enabled"]
    flag.variants = doc["variants"]
    flag.default_variant = doc["default_variant"]
    flag.rules = doc["rules"]
    flag.rollout_variant = rollout["variant"] or ""
    flag.rollout_percentage = Decimal(str(rollout["percentage"]))
    flag.rollout_plan = rollout["plan"]
    flag.rollout_paused = rollout["paused"]
    flag.guard = doc["guard"]


def diff(before: dict, after: dict, prefix: str = "") -> dict[str, list]:
    """`{"rollout.percentage": [25.0, 50.0], ...}` for every leaf that changed."""
    changes = {}
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        path = f"{prefix}{name}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes.update(diff(old, new, f"{path}."))
        elif old != new:
            changes[path] = [old, new]
    return changes


def change(key: str, edit, *, actor: Actor, reason: str, action: str) -> Flag:
    """Lock the flag, let `edit(doc)` change its document, validate, and apply."""
    with transaction.atomic():
        flag = locked(key)
        doc = flag.document()
        edit(doc)
        validated = to_document(parse_flag(doc))
        return apply(flag, validated, actor=actor, reason=reason, action=action)


def locked(key: str) -> Flag:
    flag = Flag.objects.select_for_update().filter(key=key).first()
    if flag is None:
        raise FlagNotFound(f"no flag {key!r}")
    return flag


def ramp(key: str, percentage: float, *, actor: Actor, reason: str = "") -> Flag:
    """Set the rollout percentage (0..100, to 0.001)."""

    def edit(doc):
        doc["rollout"]["percentage"] = percentage

    return change(
        key, edit, actor=actor, reason=reason or f"ramp to {percentage}%", action="rollout"
    )


def set_enabled(key: str, enabled: bool, *, actor: Actor, reason: str = "") -> Flag:
    def edit(doc):
        doc["enabled"] = enabled

    action = "enable" if enabled else "disable"
    return change(key, edit, actor=actor, reason=reason or action, action=action)


def set_paused(key: str, paused: bool, *, actor: Actor, reason: str = "") -> Flag:
    """Pause or resume the ramp plan (and the guard's watch over it)."""

    def edit(doc):
        doc["rollout"]["paused"] = paused

    action = "pause" if paused else "resume"
    return change(key, edit, actor=actor, reason=reason or f"plan {action}d", action=action)


def rollback(key: str, version: int | None = None, *, actor: Actor, reason: str = "") -> Flag:
    """Restore version N's snapshot (default: the one before the current) as a new version."""
    with transaction.atomic():
        flag = locked(key)
        row = rollback_target(flag, version)
        doc = to_document(parse_flag(row.snapshot))
        why = reason or f"roll back to version {row.version}"
        return apply(flag, doc, actor=actor, reason=why, action="rollback")


def preview_rollback(key: str, version: int | None = None) -> tuple[Flag, FlagVersion]:
    """What `rollback` would restore, without changing anything (for --dry-run)."""
    flag = Flag.objects.filter(key=key).first()
    if flag is None:
        raise FlagNotFound(f"no flag {key!r}")
    return flag, rollback_target(flag, version)


def rollback_target(flag: Flag, version: int | None) -> FlagVersion:
    """The version row to restore: N, or the one before the current; never the current."""
    target = flag.version - 1 if version is None else version
    row = flag.versions.filter(version=target).first() if target < flag.version else None
    if row is None:
        raise FlagDocumentError(
            f"flag {flag.key!r} has no earlier version {target}; current is {flag.version}"
        )
    return row


def preview_ramp(key: str, percentage: float) -> tuple[Flag, dict]:
    """Validate a ramp and answer the diff it would make, without changing anything."""
    flag = Flag.objects.filter(key=key).first()
    if flag is None:
        raise FlagNotFound(f"no flag {key!r}")
    doc = flag.document()
    doc["rollout"]["percentage"] = percentage
    return flag, diff(flag.document(), to_document(parse_flag(doc)))
