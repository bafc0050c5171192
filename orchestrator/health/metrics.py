"""Counters and histograms recorded in any process and served by every web process.

Why not prometheus-client's multiprocess mode: it shares numbers through mmap files in one
directory, so it only reaches processes on the same host, and SPEC §2 runs workers and web
on separate hosts. Here each process adds to plain in-memory deltas (a dict under a lock,
about 0.3 µs a call), and a daemon thread folds them every METRICS_FLUSH_MS into one shared
store: Redis hashes when REDIS_URL is set, two tables otherwise (metric_stores.py). The same
flush adds the deltas into 5-second buckets, which the dashboard draws its rates and
latency charts from. `/metrics` folds its own process in first, then renders the store
through prometheus-client's exposition (scrape.py). A process that dies loses at most one
flush interval of counts; Prometheus treats that as any counter's lost increments.

This module imports nothing from the rest of the project, so events, workflows and flags can
record into it without an arrow pointing back at them.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

logger = logging.getLogger("contexten.metrics")

SERIES_STEP_S = 5  # width of one dashboard bucket
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Metric:
    """One metric family. `series_labels` are the labels kept in the dashboard buckets."""

    name: str
    kind: str  # "counter" or "histogram"
    help: str
    labels: tuple[str, ...]
    series_labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    in_series: bool = True


WEBHOOK_INGEST = Metric(
    "contexten_webhook_ingest_seconds",
    "histogram",
    "Time from a webhook request to its answer (verify, dedupe, store, doorbell).",
    ("source", "code"),
    buckets=LATENCY_BUCKETS,
)
EVENTS = Metric(
    "contexten_events",
    "counter",
    "Events by source, type and the status they reached (stored, duplicate, done, failed, dead).",
    ("source", "type", "status"),
    series_labels=("status",),
)
RUNS = Metric(
    "contexten_workflow_runs",
    "counter",
    "Workflow runs finished, by status.",
    ("status",),
    series_labels=("status",),
)
STEP_DURATION = Metric(
    "contexten_step_duration_seconds",
    "histogram",
    "Time from a step's claim to its recorded outcome, by action and status.",
    ("action", "status"),
    buckets=STEP_BUCKETS,
)
FLAG_EVALUATIONS = Metric(
    "contexten_flag_evaluations",
    "counter",
    "Flag evaluations served, by flag and reason.",
    ("flag", "reason"),
    in_series=False,
)
METRICS = (WEBHOOK_INGEST, EVENTS, RUNS, STEP_DURATION, FLAG_EVALUATIONS)
BY_NAME = {metric.name: metric for metric in METRICS}

# Pending deltas of this process: (metric name, part, label values, le) -> amount.
# part is "" for a counter, or "bucket", "sum", "count" for a histogram.
_pending: defaultdict[tuple, float] = defaultdict(float)
_lock = threading.Lock()
_flusher = {"enabled": False, "pid": 0, "allowed": True}


def inc(metric: Metric, labels: tuple[str, ...], amount: float = 1.0) -> None:
    """Add to a counter (label values in the order of `metric.labels`)."""
    with _lock:
        _pending[(metric.name, "", labels, None)] += amount
    _ensure_flusher()


def observe(metric: Metric, labels: tuple[str, ...], seconds: float) -> None:
    """Record one observation into a histogram."""
    index = bisect.bisect_left(metric.buckets, seconds)
    le = metric.buckets[index] if index < len(metric.buckets) else "+Inf"
    with _lock:
        _pending[(metric.name, "bucket", labels, le)] += 1
        _pending[(metric.name, "sum", labels, None)] += seconds
        _pending[(metric.name, "count", labels, None)] += 1
    _ensure_flusher()


# --- what the rest of the project calls ------------------------------------------------
def record_delivery(source: str, code: int, seconds: float) -> None:
    observe(WEBHOOK_INGEST, (source, str(code)), seconds)


def record_event(source: str, event_type: str, status: str) -> None:
    inc(EVENTS, (source, event_type, status))


def record_runs(status: str, count: int = 1) -> None:
    if count:
        inc(RUNS, (status,), count)


def record_step(action: str, status: str, seconds: float) -> None:
    observe(STEP_DURATION, (action, status), seconds)


def record_flag_evaluation(flag: str, reason: str) -> None:
    inc(FLAG_EVALUATIONS, (flag, reason or "UNKNOWN"))


def disable() -> None:
    """Make every record_* call a no-op in this process (METRICS_ENABLED=false)."""

    def ignore(*args, **kwargs) -> None:
        return None

    names = ("record_delivery", "record_event", "record_runs", "record_step")
    for name in (*names, "record_flag_evaluation"):
        globals()[name] = ignore


def take_pending() -> dict[tuple, float]:
    """Hand over this process's deltas and start afresh."""
    global _pending
    with _lock:
        taken, _pending = _pending, defaultdict(float)
    return taken


def restore_pending(deltas: dict[tuple, float]) -> None:
    """Put deltas back after a failed flush, so the next one carries them."""
    with _lock:
        for key, amount in deltas.items():
            _pending[key] += amount


# --- the shared store's keys ------------------------------------------------------------
def total_key(name: str, part: str, labels: tuple, le) -> str:
    return json.dumps([name, part, list(labels), le])


def series_key(name: str, part: str, labels: tuple, le) -> str | None:
    """The dashboard bucket key, keeping only the metric's series labels (None: not kept)."""
    metric = BY_NAME[name]
    if not metric.in_series:
        return None
    kept = [labels[metric.labels.index(label)] for label in metric.series_labels]
    return json.dumps([name, part, kept, le])


def parse_key(key: str) -> tuple[str, str, tuple, object]:
    name, part, labels, le = json.loads(key)
    return name, part, tuple(labels), le


def current_bucket(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // SERIES_STEP_S)


def fold(deltas: dict[tuple, float], now: float | None = None):
    """Turn deltas into (totals, series) increments for the store."""
    totals: dict[str, float] = {}
    series: dict[str, float] = defaultdict(float)
    for (name, part, labels, le), amount in deltas.items():
        totals[total_key(name, part, labels, le)] = amount
        key = series_key(name, part, labels, le)
        if key is not None:
            series[key] += amount
    return totals, dict(series), current_bucket(now)


def flush() -> bool:
    """Fold this process's deltas into the shared store; answer whether anything was sent."""
    from orchestrator.health.metric_stores import current_store

    deltas = take_pending()
    if not deltas:
        return False
    try:
        current_store().add(*fold(deltas))
    except Exception:  # the store is down: keep the counts for the next flush
        restore_pending(deltas)
        logger.warning("metrics.flush-failed", exc_info=True)
        return False
    return True


# --- the background flusher -------------------------------------------------------------
def enable_background_flush() -> None:
    """Flush from a daemon thread in this process (web and workers call it; tests do not,
    they flush explicitly). A forked child starts its own thread on its first record."""
    _flusher["enabled"] = _flusher["allowed"]
    _ensure_flusher()


def forbid_background_flush() -> None:
    """Keep this process from flushing on its own (the test suite: it flushes explicitly,
    so no thread writes outside a test's transaction)."""
    _flusher["allowed"] = _flusher["enabled"] = False


def flush_from_workers() -> None:
    """Start the flusher in each django-q2 worker, on the first task it runs."""
    from django_q.signals import pre_execute

    pre_execute.connect(_on_task, dispatch_uid="contexten.metrics.flush")


def _on_task(sender=None, **kwargs) -> None:
    if _flusher["pid"] != os.getpid():
        enable_background_flush()


def _ensure_flusher() -> None:
    if not _flusher["enabled"] or _flusher["pid"] == os.getpid():
        return
    with _lock:
        if _flusher["pid"] == os.getpid():
            return
        _flusher["pid"] = os.getpid()
    threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True).start()


def _flush_forever() -> None:
    from django.conf import settings
    from django.db import close_old_connections

    interval = settings.METRICS_FLUSH_MS / 1000
    while True:
        time.sleep(interval)
        flush()
        close_old_connections()


atexit.register(lambda: _flusher["enabled"] and flush())
