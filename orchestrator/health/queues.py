"""Backlog figures read from the database, the source of truth: what waits, and for how long.

Shared by `/metrics` (gauges), the detection job and the dashboard snapshot. The counts are
exact for a scrape and a detection round; the dashboard, which looks several times a second,
counts up to DASHBOARD_COUNT_CAP and shows "10,000+" beyond it (`count_up_to`).
"""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone

from orchestrator.events.models import Event
from orchestrator.events.models import Status as EventStatus
from orchestrator.workflows.models import StepRun, StepStatus

EVENTS_WAITING = [EventStatus.RECEIVED, EventStatus.FAILED, EventStatus.DISPATCHED]
STEPS_WAITING = [StepStatus.READY, StepStatus.WAITING]
# The dashboard's counts stop here: HEALTH_BACKLOG_FAIL's default, past which the number no
# longer changes what anyone does, and a count of it costs about 3 ms on Postgres.
DASHBOARD_COUNT_CAP = 10_000


def age_seconds(oldest, now) -> float:
    return round((now - oldest).total_seconds(), 3) if oldest else 0.0


def event_backlog(now=None, cap: int | None = None) -> dict:
    """Events not yet done or dead: how many (at most `cap`), and the age of the oldest."""
    now = now or timezone.now()
    depth, at_least = count_up_to(Event.objects.filter(status__in=EVENTS_WAITING), cap)
    # One index lookup per status on (status, received_at); a MIN over the IN list would
    # read every waiting row.
    oldest = [
        Event.objects.filter(status=status).aggregate(oldest=Min("received_at"))["oldest"]
        for status in EVENTS_WAITING
    ]
    oldest = min((moment for moment in oldest if moment is not None), default=None)
    return {"depth": depth, "at_least": at_least, "oldest_age_seconds": age_seconds(oldest, now)}


def step_backlog(now=None, cap: int | None = None) -> dict:
    """Steps ready or waiting (backoff, an open breaker), and the oldest of them."""
    now = now or timezone.now()
    waiting = StepRun.objects.filter(status__in=STEPS_WAITING)
    depth, at_least = count_up_to(waiting, cap)
    oldest = waiting.aggregate(oldest=Min("ready_at"))["oldest"]
    return {"depth": depth, "at_least": at_least, "oldest_age_seconds": age_seconds(oldest, now)}


def count_up_to(rows, cap: int | None) -> tuple[int, bool]:
    """The count, or `cap` and True once there are more: a count reads every row it counts,
    so an exact one costs most when the backlog is deepest (59 ms at 240k waiting events)."""
    if cap is None:
        return rows.count(), False
    depth = rows.order_by()[: cap + 1].count()  # SELECT COUNT(*) FROM (... LIMIT cap + 1)
    return min(depth, cap), depth > cap


def steps_in_flight() -> dict[str, int]:
    """Running steps by the prefix of their action (the platform, or "core")."""
    counts: dict[str, int] = {}
    running = StepRun.objects.filter(status=StepStatus.RUNNING).values("action")
    for row in running.annotate(n=Count("pk")):
        prefix = row["action"].split(".", 1)[0]
        counts[prefix] = counts.get(prefix, 0) + row["n"]
    return counts


def backlogs(cap: int | None = None) -> dict[str, dict]:
    now = timezone.now()
    return {"events": event_backlog(now, cap), "steps": step_backlog(now, cap)}
