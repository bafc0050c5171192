"""`GET /metrics`: the shared counters plus gauges read at scrape time, in Prometheus' text format.

Counters and histograms come from the shared store every process flushes into (metrics.py);
gauges (breakers, backlogs, steps in flight) are read now from where they live, so every web
process answers the same numbers for the whole deployment.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections import defaultdict

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import CollectorRegistry

from orchestrator.health import breakers, metrics, queues
from orchestrator.health.metric_stores import current_store

logger = logging.getLogger("contexten.metrics")
BREAKER_STATES = ("closed", "half_open", "open")


def counter_families(totals: dict[str, float]) -> list:
    """Group the store's flat totals into one family per metric."""
    grouped: dict[str, dict] = defaultdict(lambda: defaultdict(dict))
    for key, value in totals.items():
        name, part, labels, le = metrics.parse_key(key)
        if name in metrics.BY_NAME:
            grouped[name][labels][(part, le)] = value
    families = []
    for metric in metrics.METRICS:
        samples = grouped.get(metric.name, {})
        if metric.kind == "counter":
            families.append(counter_family(metric, samples))
        else:
            families.append(histogram_family(metric, samples))
    return families


def counter_family(metric: metrics.Metric, samples: dict) -> CounterMetricFamily:
    family = CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
    for labels, parts in sorted(samples.items()):
        family.add_metric(list(labels), parts.get(("", None), 0.0))
    return family


def histogram_family(metric: metrics.Metric, samples: dict) -> HistogramMetricFamily:
    family = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
    for labels, parts in sorted(samples.items()):
        cumulative, buckets = 0.0, []
        for bound in metric.buckets:
            cumulative += parts.get(("bucket", bound), 0.0)
            buckets.append((repr(float(bound)), cumulative))
        buckets.append(("+Inf", parts.get(("count", None), 0.0)))
        family.add_metric(list(labels), buckets, sum_value=parts.get(("sum", None), 0.0))
    return family


def gauge_families() -> list:
    state = GaugeMetricFamily(
        "contexten_breaker_state",
        "Circuit breaker state per platform: 1 for the state it is in, 0 for the others.",
        labels=["platform", "state"],
    )
    for platform in breakers.platforms():
        current = breakers.breaker_state(platform)
        for name in BREAKER_STATES:
            state.add_metric([platform, name], 1.0 if name == current else 0.0)
    depth = GaugeMetricFamily(
        "contexten_queue_depth", "Events and steps waiting to be worked on.", labels=["queue"]
    )
    age = GaugeMetricFamily(
        "contexten_queue_oldest_age_seconds",
        "Age of the oldest event or step waiting.",
        labels=["queue"],
    )
    for queue, figures in queues.backlogs().items():
        depth.add_metric([queue], figures["depth"])
        age.add_metric([queue], figures["oldest_age_seconds"])
    in_flight = GaugeMetricFamily(
        "contexten_steps_in_flight",
        "Workflow steps running now (calls in flight), by action prefix.",
        labels=["integration"],
    )
    for prefix, count in sorted(queues.steps_in_flight().items()):
        in_flight.add_metric([prefix], count)
    return [state, depth, age, in_flight]


class SharedCollector:
    """A prometheus-client collector over the shared store and the live gauges."""

    def collect(self):
        yield from counter_families(current_store().totals())
        yield from gauge_families()


def exposition() -> bytes:
    """Fold this process's own counts in, then render everything."""
    metrics.flush()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SharedCollector())
    return generate_latest(registry)


def allowed(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        logger.warning("metrics.refused remote=%s", request.META.get("REMOTE_ADDR"))
        return JsonResponse(
            {"error": "/metrics needs a staff login, METRICS_TOKEN as a Bearer token, or an"
             " address in METRICS_ALLOWED_IPS"},
            status=403,
        )  # fmt: skip
    # 0.0.4: the text format every Prometheus 2.x scrapes (the client's 'latest' says 1.0.0).
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
