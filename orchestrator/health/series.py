"""Time series for the dashboard, read from the 5-second metric buckets (metrics.py).

Rates are a bucket's count over its width; quantiles are interpolated inside the histogram
bucket that holds them, as Prometheus' `histogram_quantile` does; trends are least-squares
slopes, as the forecast in `baseline.py` uses.
"""

from __future__ import annotations

import json
import time
from functools import lru_cache

from orchestrator.health import metrics
from orchestrator.health.metric_stores import current_store

WINDOW_S = 300  # the charts show the last five minutes


def read_window(seconds: int = WINDOW_S, now: float | None = None) -> list[tuple[int, dict]]:
    """Complete buckets of the last `seconds`, oldest first, empty ones included."""
    step = metrics.SERIES_STEP_S
    last = int((time.time() if now is None else now) // step) - 1  # the current one is partial
    first = last - seconds // step + 1
    stored = current_store().series(first, last)
    return [(bucket * step, stored.get(bucket, {})) for bucket in range(first, last + 1)]


@lru_cache(maxsize=4096)
def parsed(key: str) -> tuple:
    """A bucket key decoded once: the same few keys recur in every bucket."""
    return tuple(json.loads(key))


def totals() -> dict[str, float]:
    """Running totals for the tiles: events stored, runs by status."""
    answer = {"events_stored": 0.0, "runs_succeeded": 0.0, "runs_failed": 0.0}
    for key, value in current_store().totals().items():
        name, _, labels, _ = metrics.parse_key(key)
        if name == metrics.EVENTS.name and labels[-1] == "stored":
            answer["events_stored"] += value
        elif name == metrics.RUNS.name and f"runs_{labels[0]}" in answer:
            answer[f"runs_{labels[0]}"] += value
    return {key: int(value) for key, value in answer.items()}


def counter_in(bucket: dict, metric: metrics.Metric, **labels) -> float:
    """Sum a counter's increments in one bucket, filtered by series labels."""
    total = 0.0
    for key, value in bucket.items():
        name, part, kept, _ = parsed(key)
        if name != metric.name or part != "":
            continue
        values = dict(zip(metric.series_labels, kept, strict=True))
        if all(values.get(k) == v for k, v in labels.items()):
            total += value
    return total


def histogram_in(bucket: dict, metric: metrics.Metric) -> dict[float, float]:
    """A histogram's bucket counts (non-cumulative) in one time bucket, by upper bound."""
    counts: dict[float, float] = {}
    for key, value in bucket.items():
        name, part, _, le = parsed(key)
        if name == metric.name and part == "bucket":
            bound = float("inf") if le == "+Inf" else float(le)
            counts[bound] = counts.get(bound, 0.0) + value
    return counts


def quantile(q: float, counts: dict[float, float]) -> float | None:
    """Interpolated quantile from bucket counts; None without observations."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank, seen, lower = q * total, 0.0, 0.0
    for bound in sorted(counts):
        count = counts[bound]
        if seen + count >= rank and count > 0:
            if bound == float("inf"):
                return lower  # beyond the last bound: report the bound, as Prometheus does
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        lower = bound if bound != float("inf") else lower
    return lower


def slope_per_second(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (time, value) points; None with fewer than three."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def charts(window: list[tuple[int, dict]]) -> dict:
    """Per-bucket events/s, runs/s and p50/p95 latencies (ms) for the charts."""
    step = metrics.SERIES_STEP_S
    rows = {"t": [], "events": [], "runs": [], "failed_runs": []}
    latency = {"ingest_p50": [], "ingest_p95": [], "step_p50": [], "step_p95": []}
    for start, bucket in window:
        rows["t"].append(start)
        rows["events"].append(round(counter_in(bucket, metrics.EVENTS, status="stored") / step, 2))
        rows["runs"].append(round(counter_in(bucket, metrics.RUNS) / step, 2))
        rows["failed_runs"].append(
            round(counter_in(bucket, metrics.RUNS, status="failed") / step, 2)
        )
        ingest = histogram_in(bucket, metrics.WEBHOOK_INGEST)
        steps = histogram_in(bucket, metrics.STEP_DURATION)
        latency["ingest_p50"].append(ms(quantile(0.5, ingest)))
        latency["ingest_p95"].append(ms(quantile(0.95, ingest)))
        latency["step_p50"].append(ms(quantile(0.5, steps)))
        latency["step_p95"].append(ms(quantile(0.95, steps)))
    return {**rows, **latency}
