"""Saving workflow documents: validate, store a new immutable version, sync the schedule."""

from datetime import datetime

from croniter import croniter
from django.db import transaction
from django.utils import timezone

from orchestrator.workflows import dsl
from orchestrator.workflows.models import Workflow, WorkflowVersion

SCHEDULE_PREFIX = "workflow:"


def create_workflow(document: dict, *, source: str = "", user=None) -> Workflow:
    """Store a new workflow; InvalidWorkflow if it is invalid or the name is taken."""
    dsl.validate(document)
    name = document["name"]
    with transaction.atomic():
        if Workflow.objects.filter(name=name).exists():
            raise dsl.InvalidWorkflow(
                f"name: workflow {name!r} already exists; PUT /api/workflows/{name}/ changes it"
            )
        workflow = Workflow.objects.create(name=name)
        return _store_version(workflow, document, source, user)


def update_workflow(workflow: Workflow, document: dict, *, source: str = "", user=None):
    """Store the document as the workflow's next version."""
    dsl.validate(document)
    if document["name"] != workflow.name:
        raise dsl.InvalidWorkflow(
            f"name: the document says {document['name']!r} but this is workflow "
            f"{workflow.name!r}; names cannot change"
        )
    with transaction.atomic():
        locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
        return _store_version(locked, document, source, user)


def restore_version(version: WorkflowVersion, *, user=None) -> Workflow:
    """Make an old version's document current again, as a new version."""
    return update_workflow(version.workflow, version.document, source=version.source, user=user)


def set_enabled(workflow: Workflow, enabled: bool) -> None:
    with transaction.atomic():
        Workflow.objects.filter(pk=workflow.pk).update(enabled=enabled, updated_at=timezone.now())
        workflow.enabled = enabled
        sync_schedule(workflow)


def _store_version(workflow: Workflow, document: dict, source: str, user) -> Workflow:
    last = workflow.versions.order_by("-number").values_list("number", flat=True).first()
    version = WorkflowVersion.objects.create(
        workflow=workflow,
        number=(last or 0) + 1,
        document=document,
        source=source,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    workflow.current_version = version
    workflow.enabled = document.get("enabled", True)
    workflow.updated_at = timezone.now()
    workflow.save(update_fields=["current_version", "enabled", "updated_at"])
    sync_schedule(workflow)
    return workflow


def sync_schedule(workflow: Workflow) -> None:
    """One django-q2 cron Schedule per enabled workflow with a schedule trigger."""
    from django_q.models import Schedule

    cron = workflow.document.get("trigger", {}).get("schedule")
    name = SCHEDULE_PREFIX + workflow.name
    if not (workflow.enabled and cron):
        Schedule.objects.filter(name=name).delete()
        return
    Schedule.objects.update_or_create(
        name=name,
        defaults={
            "func": "orchestrator.workflows.triggers.run_scheduled",
            "args": repr(workflow.name),
            "schedule_type": Schedule.CRON,
            "cron": cron,
            "repeats": -1,
            "next_run": croniter(cron, timezone.now()).get_next(datetime),
        },
    )
