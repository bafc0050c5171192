"""Triggers: stored events and cron schedules start runs.

Matching must stay cheap (the simple-rule case is one step and no `needs`): each process keeps
the enabled workflows' triggers compiled, and re-reads them only when a cheap generation check
(latest save time and count, at most once a second) says a workflow changed.
"""

import fnmatch
import logging
import re
import threading
import time
from dataclasses import dataclass

from django.db.models import Count, Max
from django.utils import timezone

from orchestrator.workflows import engine
from orchestrator.workflows.models import Workflow
from orchestrator.workflows.templating import TemplateProblem, is_truthy

logger = logging.getLogger("contexten.workflows")
CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class CompiledTrigger:
    workflow_id: int
    version_id: int
    name: str
    pattern: re.Pattern
    when: str | None


class TriggerCache:
    """The enabled event triggers, recompiled when the workflow table's generation changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = None
        self.checked_at = 0.0
        self.triggers: list[CompiledTrigger] = []

    def current(self) -> list[CompiledTrigger]:
        with self.lock:
            if time.monotonic() - self.checked_at >= CHECK_EVERY_S:
                generation = Workflow.objects.aggregate(n=Count("id"), at=Max("updated_at"))
                if generation != self.generation:
                    self.triggers = compile_triggers()
                    self.generation = generation
                self.checked_at = time.monotonic()
            return self.triggers

    def invalidate(self) -> None:
        with self.lock:
            self.checked_at = 0.0
            self.generation = None


CACHE = TriggerCache()


def compile_triggers() -> list[CompiledTrigger]:
    compiled = []
    for workflow in Workflow.objects.filter(enabled=True).select_related("current_version"):
        trigger = workflow.document.get("trigger", {})
        if "event" not in trigger:
            continue
        compiled.append(
            CompiledTrigger(
                workflow_id=workflow.pk,
                version_id=workflow.current_version_id,
                name=workflow.name,
                pattern=re.compile(fnmatch.translate(trigger["event"])),
                when=trigger.get("when"),
            )
        )
    return compiled


def on_event(event) -> int:
    """Event subscriber: start one run per matching workflow (idempotent per event)."""
    started = 0
    for trigger in CACHE.current():
        if not trigger.pattern.match(event.type) or not _when_holds(trigger, event):
            continue
        # The compiled trigger is at most a second stale; a run records the version it used.
        workflow = Workflow(
            pk=trigger.workflow_id, name=trigger.name, current_version_id=trigger.version_id
        )
        if engine.create_run(workflow, event=event) is not None:
            started += 1
    return started


def _when_holds(trigger: CompiledTrigger, event) -> bool:
    if not trigger.when:
        return True
    context = {
        "event": {
            "id": event.pk,
            "source": event.source,
            "type": event.type,
            "delivery_id": event.delivery_id,
            "data": event.data,
        }
    }
    try:
        return is_truthy(trigger.when, context)
    except TemplateProblem as exc:
        logger.warning("workflows.trigger.when-failed workflow=%s: %s", trigger.name, exc)
        return False


def run_scheduled(name: str) -> int | None:
    """django-q2 schedule target: start a run of the named workflow; answer its id."""
    workflow = (
        Workflow.objects.select_related("current_version").filter(name=name, enabled=True).first()
    )
    if workflow is None:
        logger.info("workflows.schedule.skipped workflow=%s (missing or disabled)", name)
        return None
    event = {"type": "schedule", "data": {"scheduled_at": timezone.now().isoformat()}}
    run = engine.create_run(workflow, trigger="schedule", input=event)
    return run.pk
