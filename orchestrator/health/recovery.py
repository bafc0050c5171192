"""Automatic recovery (SPEC §9 level 2): the catalog's actions, and running them.

The catalog is admin data (`RecoveryAction` rows). Each detection round, for every open
incident, the enabled entries whose `trigger_check` glob matches the incident's check and
whose `trigger_status` it has reached are candidates. One runs when:
- its preconditions hold (`{"checks": {name: status}}` with `{component}` standing for the
  incident's component, and `{"open_for_seconds": N}`);
- its cooldown has passed since its last execution for any incident;
- it has run fewer than `max_attempts` times for this incident.
Every execution is recorded with its outcome; a failed one is escalated, a successful one
announced. Actions are plain data: a key mapped to a function taking (params, Target);
extensions and configuration go through their own services (lifecycle, config store).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.module_loading import import_string

from orchestrator.health import breakers
from orchestrator.health.checks import one_line
from orchestrator.health.escalation import Notice, escalate
from orchestrator.health.evaluate import matching
from orchestrator.health.models import (
    SEVERITY,
    CheckState,
    Incident,
    RecoveryAction,
    RecoveryExecution,
)

logger = logging.getLogger("contexten.health.recovery")


class RecoveryFailed(Exception):
    """The action ran and did not help; the message says why, in one line."""


@dataclass(frozen=True)
class Target:
    check: str  # the incident's check, "component:measurement"
    incident_id: int | None

    @property
    def component(self) -> str:
        return self.check.split(":", 1)[0]


ACTIONS: dict[str, str] = {
    "reset_breaker": "orchestrator.health.recovery.reset_breaker",
    "force_breaker_open": "orchestrator.health.recovery.force_breaker_open",
    "redrive_stuck_runs": "orchestrator.health.recovery.redrive_stuck_runs",
    "replay_dead_events": "orchestrator.health.recovery.replay_dead_events",
    "disable_extension": "orchestrator.health.recovery.disable_extension",
    "rollback_flag": "orchestrator.health.recovery.rollback_flag",
    "rollback_config": "orchestrator.health.recovery.rollback_config",
    "pause_workflow": "orchestrator.health.recovery.pause_workflow",
}


# --- the actions ------------------------------------------------------------------------
def reset_breaker(params: dict, target: Target) -> str:
    """Close the breaker of `params.platform` (default: the incident's component). With
    `when_api_answers`, only once the platform's own health probe answers: the backlog then
    drains at once instead of waiting out the open period."""
    platform = params.get("platform") or target.component
    if platform not in breakers.platforms():
        raise RecoveryFailed(f"no breaker for {platform!r}")
    if params.get("when_api_answers", True):
        from orchestrator.health.detectors import probe_platform

        problem = probe_platform(platform)
        if problem:
            raise RecoveryFailed(f"{platform} still failing: {problem}")
    if breakers.breaker_state(platform) == breakers.CLOSED:
        return f"{platform} breaker already closed"
    breakers.reset(platform)
    return f"{platform} breaker closed; {wake_steps_held_by(platform)} waiting steps woken"


def wake_steps_held_by(platform: str) -> int:
    """Steps waiting out the breaker are due now, not when the open period would have ended."""
    from django.db import transaction

    from orchestrator.workflows import doorbell
    from orchestrator.workflows.actions import BreakerOpen
    from orchestrator.workflows.models import StepRun, StepStatus

    held = str(BreakerOpen(platform, retry_after=0))
    with transaction.atomic():
        woken = StepRun.objects.filter(status=StepStatus.WAITING, error=held).update(
            next_attempt_at=timezone.now()
        )
        transaction.on_commit(doorbell.ring)
    return woken


def force_breaker_open(params: dict, target: Target) -> str:
    """Open the breaker of `params.platform` (default: the incident's component) for
    `params.seconds`: the platform's own API check fails, so hold calls now rather than
    let the window fill with failures."""
    platform = params.get("platform") or target.component
    if platform not in breakers.platforms():
        raise RecoveryFailed(f"no breaker for {platform!r}")
    breakers.force_open(platform, params.get("seconds"))
    return f"{platform} breaker forced open"


def redrive_stuck_runs(params: dict, target: Target) -> str:
    """The workflow sweeper, now: re-drive steps of dead workers, advance stalled runs."""
    from orchestrator.workflows import sweeper

    counts = sweeper.sweep()
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def replay_dead_events(params: dict, target: Target) -> str:
    """Replay events that died, newest first, at most `params.limit` (default 100)."""
    from orchestrator.events.dispatch import replay
    from orchestrator.events.models import Event, Status

    limit = int(params.get("limit", 100))
    dead = Event.objects.filter(status=Status.DEAD).order_by("-received_at")
    ids = list(dead.values_list("id", flat=True)[:limit])
    return f"replayed {replay(Event.objects.filter(id__in=ids))} dead events"


def disable_extension(params: dict, target: Target) -> str:
    """Disable `params.extension` (default: the incident's component) through the lifecycle
    service, as the admin and API do; its webhooks keep being stored, its steps wait."""
    from extensions import lifecycle

    name = params.get("extension") or target.component
    try:
        lifecycle.set_enabled(name, False, actor="recovery")
    except Exception as exc:  # unknown extension, or one the lifecycle refuses to disable
        raise RecoveryFailed(f"extension {name}: {one_line(exc)}") from None
    return f"extension {name} disabled"


def rollback_flag(params: dict, target: Target) -> str:
    """Roll `params.flag` back to its previous version (or `params.version`)."""
    from orchestrator.flags import services

    key = params.get("flag")
    if not key:
        raise RecoveryFailed("params.flag names no flag")
    try:
        flag = services.rollback(key, params.get("version"), actor=services.Actor("recovery"),
                                 reason=f"recovery: {target.check} incident")  # fmt: skip
    except (services.FlagNotFound, services.FlagDocumentError) as exc:
        raise RecoveryFailed(one_line(exc)) from None
    return f"flag {key} now at version {flag.version}"


def rollback_config(params: dict, target: Target) -> str:
    """Roll configuration `params.namespace` back to `params.version` (a new version)."""
    from extensions.config import store

    namespace, version = params.get("namespace"), params.get("version")
    if not namespace or version is None:
        raise RecoveryFailed("params need a namespace and a version")
    try:
        saved = store.rollback(namespace, int(version), author="recovery",
                               reason=f"recovery: {target.check} incident")  # fmt: skip
    except store.ConfigError as exc:
        raise RecoveryFailed(one_line(exc)) from None
    return f"configuration {namespace}: version {version} restored as version {saved.version}"


def pause_workflow(params: dict, target: Target) -> str:
    """Disable `params.workflow`: no new runs until an operator enables it again."""
    from orchestrator.workflows import definitions
    from orchestrator.workflows.models import Workflow

    workflow = Workflow.objects.filter(name=params.get("workflow", "")).first()
    if workflow is None:
        raise RecoveryFailed(f"no workflow {params.get('workflow')!r}")
    definitions.set_enabled(workflow, False)
    return f"workflow {workflow.name} paused"


# --- running the catalog -------------------------------------------------------------------
def run_recoveries(now: datetime | None = None) -> list[RecoveryExecution]:
    """Run every due catalog entry for every open incident; answer the executions."""
    now = now or timezone.now()
    catalog = list(RecoveryAction.objects.filter(enabled=True))
    states = {s.name: s.status for s in CheckState.objects.all()}
    done = []
    for incident in Incident.objects.filter(state=Incident.State.OPEN):
        for entry in catalog:
            if due(entry, incident, states, now):
                done.append(execute(entry, incident, now))
    return done


def due(entry: RecoveryAction, incident: Incident, states: dict[str, str], now) -> bool:
    status = states.get(incident.key, incident.severity)
    if not matching(entry.trigger_check, incident.key):
        return False
    if SEVERITY[status] < SEVERITY[entry.trigger_status]:
        return False
    return preconditions_hold(entry, incident, states, now) and not held_back(entry, incident, now)


def preconditions_hold(entry, incident: Incident, states: dict[str, str], now) -> bool:
    conditions = entry.preconditions or {}
    if now - incident.opened_at < timedelta(seconds=conditions.get("open_for_seconds", 0)):
        return False
    component = incident.key.split(":", 1)[0]
    for name, wanted in (conditions.get("checks") or {}).items():
        if states.get(name.replace("{component}", component)) != wanted:
            return False
    return True


def held_back(entry: RecoveryAction, incident: Incident, now) -> bool:
    """Cooling down, or out of attempts for this incident."""
    runs = RecoveryExecution.objects.filter(recovery=entry)
    last = runs.order_by("-started_at").values_list("started_at", flat=True).first()
    if last is not None and now - last < timedelta(seconds=entry.cooldown_seconds):
        return True
    return runs.filter(incident=incident).count() >= entry.max_attempts


def execute(entry: RecoveryAction, incident: Incident, now) -> RecoveryExecution:
    """Run one action, record its outcome, and tell people either way."""
    target = Target(incident.key, incident.pk)
    try:
        detail = import_string(ACTIONS[entry.action])(entry.params or {}, target)
        outcome = RecoveryExecution.Outcome.SUCCEEDED
    except KeyError:
        detail, outcome = f"unknown action {entry.action!r}", RecoveryExecution.Outcome.FAILED
    except Exception as exc:  # the action failed: record and escalate, never raise
        detail, outcome = one_line(exc), RecoveryExecution.Outcome.FAILED
        if isinstance(exc, RecoveryFailed):
            detail = str(exc)
    execution = RecoveryExecution.objects.create(
        recovery=entry, incident=incident, check_name=incident.key, outcome=outcome,
        detail=detail[:2000], started_at=now, finished_at=timezone.now(),
    )  # fmt: skip
    logger.log(logging.INFO if outcome == "succeeded" else logging.WARNING,
               "health.recovery.%s action=%s check=%s %s", outcome, entry.name, incident.key,
               detail)  # fmt: skip
    verb = "succeeded" if outcome == RecoveryExecution.Outcome.SUCCEEDED else "failed"
    escalate(Notice(f"recovery.{verb}", f"Recovery {entry.name} {verb}",
                    f"Recovery `{entry.name}` for {incident.key} {verb}: {detail}",
                    {"recovery": entry.name, "check": incident.key}))  # fmt: skip
    return execution
