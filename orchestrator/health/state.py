"""Read side of health: plain dicts for `/api/health/`, the dashboard snapshot and the guard.

Everything here reads the stored results and records; nothing runs a check or calls a
platform, so it is cheap enough for every dashboard push.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from orchestrator.core import generations
from orchestrator.health.models import (
    Alert,
    CheckResult,
    CheckState,
    Escalation,
    Incident,
    RecoveryExecution,
)

RECENT = 20
# Moves whenever a stored health record changes, so a reader can keep `stored_state()` and
# reload it only then (the dashboard builds a snapshot several times a second).
GENERATION = "health"
RECORDS = (CheckState, Incident, RecoveryExecution, Alert, Escalation)


def announce_changes() -> None:
    """Every save or delete of a health record moves the generation once it commits. (A
    queryset .update() sends no signal: its callers call `changed()` themselves.)"""
    for model in RECORDS:
        post_save.connect(_on_change, sender=model, dispatch_uid=f"health-gen-save-{model}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"health-gen-del-{model}")


def _on_change(sender=None, **kwargs) -> None:
    changed()


def changed() -> None:
    """Announce now and once committed; this process's own cache forgets at once. Inside
    `one_announcement()` the announcement waits for the block's end."""
    if getattr(_batch, "depth", 0):
        _batch.dirty = True
        return
    generations.announce(GENERATION, stored)


_batch = threading.local()


@contextlib.contextmanager
def one_announcement():
    """A detection round saves every check's state: announce once for all of them, not
    twice per row."""
    _batch.depth = getattr(_batch, "depth", 0) + 1
    try:
        yield
    finally:
        _batch.depth -= 1
        if _batch.depth == 0 and getattr(_batch, "dirty", False):
            _batch.dirty = False
            generations.announce(GENERATION, stored)


def stored_now() -> dict:
    """`stored_state()` as this process last loaded it, reloaded when the generation moved
    (checked at most every half push interval): one generation read between changes."""
    return stored.get()


def iso(moment) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def check_states() -> dict[str, dict]:
    """Each check's current verdict (after baseline and hysteresis), by name."""
    return {row.name: check_state_dict(row) for row in CheckState.objects.all()}


def check_state_dict(row: CheckState) -> dict:
    return {
        "status": row.status,
        "raw_status": row.raw_status,
        "componentType": row.component_type,
        "observedValue": row.observed_value,
        "observedUnit": row.observed_unit,
        "output": row.output,
        "baseline": {"mean": row.mean, "deviation": row.deviation, "samples": row.samples},
        "since": iso(row.since),
        "time": iso(row.updated_at),
    }


def history(name: str, limit: int = 60) -> list[dict]:
    """A check's latest results, oldest first (what a chart draws)."""
    rows = CheckResult.objects.filter(name=name).order_by("-time", "-id")[:limit]
    return [result_dict(row) for row in reversed(rows)]


def histories(limit: int = 30) -> dict[str, list[dict]]:
    names = CheckState.objects.values_list("name", flat=True)
    return {name: history(name, limit) for name in names}


def result_dict(row: CheckResult) -> dict:
    return {
        "status": row.status,
        "observedValue": row.observed_value,
        "observedUnit": row.observed_unit,
        "output": row.output,
        "time": iso(row.time),
    }


def incident_dict(row: Incident) -> dict:
    return {
        "id": row.pk,
        "key": row.key,
        "title": row.title,
        "severity": row.severity,
        "state": row.state,
        "cause": row.cause,
        "opened_at": iso(row.opened_at),
        "resolved_at": iso(row.resolved_at),
    }


def execution_dict(row: RecoveryExecution) -> dict:
    return {
        "id": row.pk,
        "recovery": row.recovery.name,
        "action": row.recovery.action,
        "check": row.check_name,
        "incident": row.incident_id,
        "outcome": row.outcome,
        "detail": row.detail,
        "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at),
    }


def alert_dict(row: Alert) -> dict:
    return {
        "id": row.pk,
        "key": row.key,
        "group": row.group,
        "severity": row.severity,
        "state": row.state,
        "summary": row.summary,
        "labels": row.labels,
        "starts_at": iso(row.starts_at),
        "last_notified_at": iso(row.last_notified_at),
        "notifications": row.notifications,
        "resolved_at": iso(row.resolved_at),
    }


def escalation_dict(row: Escalation) -> dict:
    return {
        "id": row.pk,
        "kind": row.kind,
        "channel": row.channel,
        "subject": row.subject,
        "run": row.run_id,
        "outcome": row.outcome,
        "error": row.error,
        "created_at": iso(row.created_at),
    }


def incidents(limit: int = RECENT) -> list[dict]:
    return [incident_dict(row) for row in Incident.objects.all()[:limit]]


def executions(limit: int = RECENT) -> list[dict]:
    rows = RecoveryExecution.objects.select_related("recovery")[:limit]
    return [execution_dict(row) for row in rows]


def alerts(limit: int = RECENT) -> list[dict]:
    firing = list(Alert.objects.filter(state=Alert.State.FIRING)[:limit])
    recent = list(Alert.objects.filter(state=Alert.State.RESOLVED)[: max(limit - len(firing), 0)])
    return [alert_dict(row) for row in firing + recent]


def escalations(limit: int = RECENT) -> list[dict]:
    return [escalation_dict(row) for row in Escalation.objects.all()[:limit]]


def mttr_seconds(days: int = 30) -> float | None:
    """Mean time to recovery over resolved incidents opened in the last `days`."""
    since = timezone.now() - timedelta(days=days)
    duration = ExpressionWrapper(F("resolved_at") - F("opened_at"), output_field=DurationField())
    mean = (
        Incident.objects.filter(state=Incident.State.RESOLVED, opened_at__gte=since)
        .annotate(took=duration)
        .aggregate(mean=Avg("took"))["mean"]
    )
    return round(mean.total_seconds(), 1) if mean is not None else None


def recovery_success_rate(days: int = 30) -> float | None:
    """Succeeded / (succeeded + failed) recovery executions; skips do not count."""
    since = timezone.now() - timedelta(days=days)
    counts = RecoveryExecution.objects.filter(started_at__gte=since).aggregate(
        ok=Count("pk", filter=Q(outcome=RecoveryExecution.Outcome.SUCCEEDED)),
        failed=Count("pk", filter=Q(outcome=RecoveryExecution.Outcome.FAILED)),
    )
    attempted = counts["ok"] + counts["failed"]
    return round(counts["ok"] / attempted, 4) if attempted else None


def overall(states: dict[str, dict]) -> str:
    statuses = {state["status"] for state in states.values()}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def current_state() -> dict:
    """Everything health knows now, as plain JSON-ready data (`/api/health/`)."""
    return {**stored_state(), "breakers": breaker_snapshots(), "time": iso(timezone.now())}


def breaker_snapshots() -> list[dict]:
    """Live, from the breaker store (not a health record: it moves on every call outcome)."""
    from orchestrator.health import breakers

    return [breakers.breaker_snapshot(p) for p in breakers.platforms()]


def stored_state() -> dict:
    """What the stored health records say: changes only when `GENERATION` moves."""
    states = check_states()
    return {
        "status": overall(states),
        "checks": states,
        "incidents": incidents(),
        "recoveries": executions(),
        "alerts": alerts(),
        "escalations": escalations(),
        "mttr_seconds": mttr_seconds(),
        "recovery_success_rate": recovery_success_rate(),
    }


stored = generations.Cached(GENERATION, stored_state, lambda: settings.DASHBOARD_PUSH_MS / 2000)
