"""Triggers: stored events and cron schedules start runs.

Matching must stay cheap (the simple-rule case is one step and no `needs`): each process keeps
the enabled workflows' triggers compiled, and re-reads them only when a cheap generation check
(latest save time and count, at most once a second) says a workflow changed. The compiled
triggers are indexed by event type (exact patterns) and by the literal prefix of each glob,
so an event tries only the triggers that could match it, not all ten thousand.
"""

import fnmatch
import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from orchestrator.workflows import doorbell, engine, fastpath
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


GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass
class TriggerIndex:
    """Compiled triggers by exact event type, and globs by their literal prefix (the text
    before the first wildcard). `candidates` keeps the workflows' order."""

    exact: dict[str, list[tuple[int, CompiledTrigger]]] = field(default_factory=dict)
    by_prefix: dict[str, list[tuple[int, CompiledTrigger]]] = field(default_factory=dict)
    prefix_lengths: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, triggers: list[tuple[str, CompiledTrigger]]) -> "TriggerIndex":
        exact, by_prefix = defaultdict(list), defaultdict(list)
        for position, (glob, trigger) in enumerate(triggers):
            wildcard = GLOB_CHARS.search(glob)
            if wildcard is None:
                exact[glob].append((position, trigger))
            else:
                by_prefix[glob[: wildcard.start()]].append((position, trigger))
        lengths = sorted({len(prefix) for prefix in by_prefix})
        return cls(dict(exact), dict(by_prefix), lengths)

    def candidates(self, event_type: str) -> list[CompiledTrigger]:
        found = list(self.exact.get(event_type, ()))
        for length in self.prefix_lengths:
            if length > len(event_type):
                break
            found += self.by_prefix.get(event_type[:length], ())
        return [trigger for _, trigger in sorted(found, key=lambda pair: pair[0])]


class TriggerCache:
    """The enabled event triggers, recompiled when the workflow table's generation changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.generation = None
        self.checked_at = 0.0
        self.triggers = TriggerIndex()

    def current(self, max_age_s: float = CHECK_EVERY_S) -> TriggerIndex:
        """The index, its generation checked if the last check is `max_age_s` old."""
        with self.lock:
            if time.monotonic() - self.checked_at >= max_age_s:
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


def compile_triggers() -> TriggerIndex:
    compiled = []
    for workflow in Workflow.objects.filter(enabled=True).select_related("current_version"):
        trigger = workflow.document.get("trigger", {})
        if "event" not in trigger:
            continue
        glob = trigger["event"]
        compiled.append(
            (
                glob,
                CompiledTrigger(
                    workflow_id=workflow.pk,
                    version_id=workflow.current_version_id,
                    name=workflow.name,
                    pattern=re.compile(fnmatch.translate(glob)),
                    when=trigger.get("when"),
                ),
            )
        )
    return TriggerIndex.build(compiled)


def on_events(events) -> int:
    """Event subscriber: start one run per matching workflow and event (idempotent per
    event). On Postgres, runs of workflows without a concurrency cap are written for the
    whole batch in one statement per FAST_CHUNK runs; the others one by one."""
    index = CACHE.current()
    fast, started = [], 0
    for event in events:
        for trigger in index.candidates(event.type):
            if not trigger.pattern.match(event.type) or not _when_holds(trigger, event):
                continue
            plan = engine.plan_for(trigger.version_id)
            if fastpath.usable(plan, event):
                fast.append((trigger.workflow_id, trigger.version_id, event.pk, plan))
            elif _create_one(trigger, event):
                started += 1
    if fast:
        created = fastpath.insert_running_runs(fast)
        if created:
            transaction.on_commit(doorbell.ring)
        started += created
    return started


def on_event(event) -> int:
    """One event's triggers (tests, and callers holding a single event)."""
    return on_events([event])


def _create_one(trigger: CompiledTrigger, event) -> bool:
    # The compiled trigger is at most a second stale; a run records the version it used.
    workflow = Workflow(
        pk=trigger.workflow_id, name=trigger.name, current_version_id=trigger.version_id
    )
    return engine.create_run(workflow, event=event) is not None


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
