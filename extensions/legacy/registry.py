"""Persist legacy handler registrations and keep one generated workflow per key in step.

A registration is a row (provider, key, `module:qualname`). The workflow for a key has one
`legacy.handler` step per registered function, so several handlers per key all run, each
retried on its own. Workflows are regenerated from the rows, never edited by hand.
"""

from dataclasses import dataclass, field

from django.db import transaction

from extensions.legacy import keys
from extensions.legacy.app import HandlerRef
from extensions.legacy.models import LegacyHandler
from orchestrator.operations.sections import Section
from orchestrator.workflows import definitions
from orchestrator.workflows.models import Workflow

BACKUP_SECTION = Section(models=("legacy.LegacyHandler",))
RETRY = {"max_attempts": 3, "backoff": "exponential", "initial": "2s", "max": "60s"}
# A handler runs in a thread that cannot be interrupted; give it the longest step timeout.
TIMEOUT = "60s"


@dataclass
class Registered:
    """What `register` did: new rows, and the workflows it created or changed."""

    created: list[HandlerRef] = field(default_factory=list)
    kept: list[HandlerRef] = field(default_factory=list)
    workflows: dict[str, str] = field(default_factory=dict)  # name -> created | updated | kept


def register(refs: list[HandlerRef], *, app_name: str = "") -> Registered:
    """Store the registrations (idempotent) and regenerate their workflows, atomically."""
    outcome = Registered()
    with transaction.atomic():
        for ref in refs:
            _, created = LegacyHandler.objects.get_or_create(
                provider=ref.provider,
                key=ref.key,
                handler=ref.path,
                defaults={
                    "app_name": app_name,
                    "workflow": keys.workflow_name(ref.provider, ref.key),
                    "position": position_after(ref),
                },
            )
            (outcome.created if created else outcome.kept).append(ref)
        for provider, key in dict.fromkeys((ref.provider, ref.key) for ref in refs):
            name, what = sync_workflow(provider, key)
            outcome.workflows[name] = what
    return outcome


def unregister(rows: list[LegacyHandler]) -> int:
    """Delete registrations; a key left without handlers has its workflow disabled."""
    with transaction.atomic():
        keys_touched = dict.fromkeys((row.provider, row.key) for row in rows)
        LegacyHandler.objects.filter(pk__in=[row.pk for row in rows]).delete()
        for provider, key in keys_touched:
            if LegacyHandler.objects.filter(provider=provider, key=key).exists():
                sync_workflow(provider, key)
                continue
            workflow = Workflow.objects.filter(name=keys.workflow_name(provider, key)).first()
            if workflow is not None:
                definitions.set_enabled(workflow, False)
    return len(rows)


def position_after(ref: HandlerRef) -> int:
    return LegacyHandler.objects.filter(provider=ref.provider, key=ref.key).count()


def sync_workflow(provider: str, key: str) -> tuple[str, str]:
    """Create or update the key's workflow from its rows; answer (name, what happened)."""
    rows = list(LegacyHandler.objects.filter(provider=provider, key=key))
    document = workflow_document(provider, key, rows)
    existing = Workflow.objects.filter(name=document["name"]).select_related("current_version")
    workflow = existing.first()
    if workflow is None:
        definitions.create_workflow(document)
        return document["name"], "created"
    if workflow.document == document:
        return document["name"], "kept"
    definitions.update_workflow(workflow, document)
    return document["name"], "updated"


def workflow_document(provider: str, key: str, rows: list[LegacyHandler]) -> dict:
    return {
        "name": keys.workflow_name(provider, key),
        "description": (
            f"Legacy {provider} handlers for {key!r}, generated from their registrations "
            "(manage.py migrate_legacy); change the handlers, not this document."
        ),
        "trigger": {"event": keys.event_pattern(provider, key)},
        "steps": [step(row, index) for index, row in enumerate(rows, start=1)],
    }


def step(row: LegacyHandler, index: int) -> dict:
    function = row.handler.rpartition(":")[2].replace(".", "_")
    step_id = "".join(c if c.isalnum() or c == "_" else "_" for c in f"h{index}_{function}")
    return {
        "id": step_id[:100],
        "action": "legacy.handler",
        "with": {
            "handler": row.handler,
            "provider": row.provider,
            "key": row.key,
            "payload": "{{ event.data }}",
        },
        "retry": RETRY,
        "timeout": TIMEOUT,
    }
