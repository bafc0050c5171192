"""Backlog figures read from the database, the source of truth: what waits, and for how long.

Shared by `/metrics` (gauges) and the dashboard snapshot. Each figure is one indexed query
(`event_status_received`, `step_status_due`), cheap enough for every scrape and push.
"""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone

from orchestrator.events.models import Event
from orchestrator.events.models import Status as EventStatus
from orchestrator.workflows.models import StepRun, StepStatus

EVENTS_WAITING = [EventStatus.RECEIVED, EventStatus.FAILED, EventStatus.DISPATCHED]
STEPS_WAITING = [StepStatus.READY, StepStatus.WAITING]


def age_seconds(oldest, now) -> float:
    return round((now - oldest).total_seconds(), 3) if oldest else 0.0


def event_backlog(now=None) -> dict:
    """Events not yet done or dead: how many, and the age of the oldest."""
    now = now or timezone.now()
    row = Event.objects.filter(status__in=EVENTS_WAITING).aggregate(
        depth=Count("pk"), oldest=Min("received_at")
    )
    return {"depth": row["depth"], "oldest_age_seconds": age_seconds(row["oldest"], now)}


def step_backlog(now=None) -> dict:
    """Steps ready or waiting (backoff, an open breaker), and the oldest of them."""
    now = now or timezone.now()
    row = StepRun.objects.filter(status__in=STEPS_WAITING).aggregate(
        depth=Count("pk"), oldest=Min("ready_at")
    )
    return {"depth": row["depth"], "oldest_age_seconds": age_seconds(row["oldest"], now)}


def steps_in_flight() -> dict[str, int]:
    """Running steps by the prefix of their action (the platform, or "core")."""
    counts: dict[str, int] = {}
    running = StepRun.objects.filter(status=StepStatus.RUNNING).values("action")
    for row in running.annotate(n=Count("pk")):
        prefix = row["action"].split(".", 1)[0]
        counts[prefix] = counts.get(prefix, 0) + row["n"]
    return counts


def backlogs() -> dict[str, dict]:
    now = timezone.now()
    return {"events": event_backlog(now), "steps": step_backlog(now)}
