"""The dashboard snapshot: every panel's data as one JSON-ready dict.

The page renders its first state from it (embedded in the HTML) and every websocket push
carries a fresh one. It only reads: stored health (state.py), the breaker store, the metric
buckets, and a few indexed queries, so building it costs a few milliseconds.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from extensions import registry
from orchestrator.flags.models import Flag
from orchestrator.health import queues, series, state
from orchestrator.health.checks import run_checks
from orchestrator.workflows.models import Run, RunStatus

RECENT_FAILURES = 8


def build_snapshot() -> dict:
    # The stored records change about once a detection round, the snapshot several times a
    # second while someone watches: between changes they cost one generation read.
    health = {**state.stored_now(), "breakers": state.breaker_snapshots()}
    _, charts, capacity_now = charts_for_last_bucket()
    in_flight = queues.steps_in_flight()
    rows = components(health)
    return {
        "time": state.iso(timezone.now()),
        "status": overall(rows),
        "components": rows,
        "breakers": health["breakers"],
        "queues": queues.backlogs(cap=queues.DASHBOARD_COUNT_CAP),
        "in_flight": in_flight,
        "charts": charts,
        "rates": current_rates(charts),
        "totals": series.totals(),
        "capacity": capacity_now,
        "failures": recent_failures(),
        "rollouts": active_rollouts(),
        "recoveries": health["recoveries"][:8],
        "alerts": health["alerts"][:8],
        "incidents": health["incidents"][:8],
        "extensions": extensions(health["breakers"], in_flight),
        "reliability": {
            "mttr_seconds": health["mttr_seconds"],
            "recovery_success_rate": health["recovery_success_rate"],
        },
    }


_charts_cache: dict[int, tuple] = {}


def charts_for_last_bucket() -> tuple:
    """Charts change only when a 5 s bucket completes: compute them once per bucket."""
    last = int(time.time() // series.metrics.SERIES_STEP_S)
    if last not in _charts_cache:
        window = series.read_window()
        charts = series.charts(window)
        _charts_cache.clear()
        _charts_cache[last] = (window, charts, capacity(window, charts))
    return _charts_cache[last]


def components(health: dict) -> list[dict]:
    """Each check's stored verdict, with the cheap local checks (database, Redis) run now
    on top: detection runs through the task queue, so while Redis (its broker) is down the
    stored verdicts stand still, and only a live check shows the outage."""
    live = {name: results[0] for name, results in run_checks(ready_only=True).items()}
    checks = {**health["checks"], **live}
    return [
        {
            "name": name,
            "status": check["status"],
            "value": check.get("observedValue"),
            "unit": check.get("observedUnit", ""),
            "output": check.get("output", ""),
            "type": check.get("componentType", ""),
        }
        for name, check in sorted(checks.items())
    ]


def overall(rows: list[dict]) -> str:
    statuses = {row["status"] for row in rows}
    return "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"


def current_rates(charts: dict) -> dict:
    """Events/s and runs/s over the last two complete buckets (10 s)."""

    def recent(values):
        tail = values[-2:]
        return round(sum(tail) / len(tail), 2) if tail else 0.0

    return {"events": recent(charts["events"]), "runs": recent(charts["runs"])}


def capacity(window, charts: dict) -> dict:
    """How far the ingest p95 is from its target now, and where its trend takes it."""
    target = float(settings.CAPACITY_P95_TARGET_MS)
    counts: dict[float, float] = {}
    for _, bucket in window:
        for bound, count in series.histogram_in(bucket, series.metrics.WEBHOOK_INGEST).items():
            counts[bound] = counts.get(bound, 0.0) + count
    p95 = series.ms(series.quantile(0.95, counts))
    points = [(t, v) for t, v in zip(charts["t"], charts["ingest_p95"], strict=True) if v]
    slope = series.slope_per_second(points)
    crossing = None
    if p95 is not None and slope and slope > 0 and p95 < target:
        crossing = round((target - p95) / slope)
    return {
        "target_ms": target,
        "p95_ms": p95,
        "headroom": None if p95 is None else round(max(0.0, 1 - p95 / target), 3),
        "trend_ms_per_min": None if slope is None else round(slope * 60, 2),
        "crossing_in_seconds": crossing,
        "load_trend_per_min": trend_per_minute(charts["t"], charts["events"]),
    }


def trend_per_minute(times: list, values: list) -> float | None:
    slope = series.slope_per_second(list(zip(times, values, strict=True)))
    return None if slope is None else round(slope * 60, 3)


def recent_failures() -> list[dict]:
    rows = (
        Run.objects.filter(status=RunStatus.FAILED)
        .select_related("workflow")
        .order_by("-finished_at", "-id")[:RECENT_FAILURES]
    )
    return [
        {
            "id": run.pk,
            "workflow": run.workflow.name,
            "error": run.error[:300],
            "finished_at": state.iso(run.finished_at),
            "url": reverse("admin:workflows_run_change", args=[run.pk]),
        }
        for run in rows
    ]


def active_rollouts() -> list[dict]:
    """Enabled flags part-way through a percentage rollout, with a ramp plan ahead, or
    paused (a guard's rollback pauses the plan at the restored percentage, often 0 %: the
    rollout an operator most needs to see)."""
    part_way = ~Q(rollout_percentage__in=[0, 100])
    planned = ~Q(rollout_plan=[]) & ~Q(rollout_percentage=100)
    flags = Flag.objects.filter(Q(enabled=True) & (part_way | planned | Q(rollout_paused=True)))
    return [
        {
            "key": flag.key,
            "percentage": float(flag.rollout_percentage),
            "paused": flag.rollout_paused,
            "guarded": bool(flag.guard),
            "next": next_step(flag.rollout_plan),
            "url": reverse("admin:flags_flag_change", args=[flag.pk]),
        }
        for flag in flags.order_by("key")[:8]
    ]


def next_step(plan: list) -> dict | None:
    upcoming = [step for step in plan or [] if step.get("at", "") > state.iso(timezone.now())]
    return min(upcoming, key=lambda step: step["at"]) if upcoming else None


def extensions(breakers: list[dict], in_flight: dict[str, int]) -> list[dict]:
    """Each installed extension: enabled, its version, its breaker and steps in flight."""
    by_platform = {row["platform"]: row for row in breakers}
    return [
        {
            "name": name,
            "enabled": item.enabled,
            "version": item.version,
            "breaker": by_platform.get(name, {}).get("state"),
            "in_flight": in_flight.get(name, 0),
        }
        for name, item in sorted(registry.installed().items())
    ]
