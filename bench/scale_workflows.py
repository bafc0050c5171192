"""Trigger matching at 10, 1,000 and 10,000 workflows (`python -m bench scale_workflows`).

In one run, against a fresh database (bench/scale.py), workflows are bulk-created in three
steps (`--quick`: 10, 100, 1,000), each triggered by its own event type (a third exact, a
third `<platform>.<kind>.*` globs, a third `<platform>.<kind>*` globs), and one more,
`bench-target`, on `github.pull_request.opened`. At each size:
- **stored → first step ready**: store a delivery and dispatch it as the worker does
  (`dispatch_events`, the doorbell task: claim, match the triggers, create the run and its
  ready step); p50/p95 of 200 events. The runner's half (claim, start) does not depend on
  the workflow count; it is measured served in `bench workflows`;
- **matching alone**: the trigger index's candidates for the event, then the regex checks,
  against the reference in the same run: trying every compiled trigger in turn (the matcher
  before the index), per event, in microseconds.
Target: the stored → first step p95 at 10,000 workflows within 2x of the 10-workflow figure.
"""

import json
import time

from bench.results import emit
from bench.scale import fresh_database, options_from, summary

SIZES = (10, 1_000, 10_000)
QUICK_SIZES = (10, 100, 1_000)
EVENTS = 200
STEP = {"id": "notify", "action": "core.log", "with": {"message": "{{ event.type }}"}}


def main(argv: list[str]) -> int:
    options = options_from(argv)
    sizes = QUICK_SIZES if "quick" in options else SIZES
    fresh_database()
    make_workflows(0, 1, target=True)
    curve, made = [], 0
    for size in sizes:
        make_workflows(made, size - made)
        made = size
        point = {"workflows": size, **measure(size)}
        print(json.dumps(point), flush=True)
        curve.append(point)
    emit("scale_workflows", {"curve": curve, "quick": "quick" in options})
    return report(curve)


def trigger_glob(n: int) -> str:
    platform = ("github", "linear", "slack")[n % 3]
    kind = f"kind{n}"
    return [f"{platform}.{kind}.done", f"{platform}.{kind}.*", f"{platform}.{kind}*"][n // 3 % 3]


def make_workflows(first: int, count: int, target: bool = False) -> None:
    """Bulk-create workflows with their first version, as `create_workflow` would store them."""
    from django.db import transaction

    from orchestrator.workflows.models import Workflow, WorkflowVersion

    names = ["bench-target"] if target else [f"wf-{n}" for n in range(first, first + count)]
    with transaction.atomic():
        workflows = Workflow.objects.bulk_create(Workflow(name=name) for name in names)
        versions = WorkflowVersion.objects.bulk_create(
            WorkflowVersion(workflow=workflow, number=1, document=document(workflow.name, n))
            for n, workflow in enumerate(workflows, start=first)
        )
        for workflow, version in zip(workflows, versions, strict=True):
            workflow.current_version = version
        Workflow.objects.bulk_update(workflows, ["current_version"])


def document(name: str, n: int) -> dict:
    glob = "github.pull_request.opened" if name == "bench-target" else trigger_glob(n)
    return {"name": name, "trigger": {"event": glob}, "steps": [STEP]}


def measure(size: int) -> dict:
    from orchestrator.events.dispatch import dispatch_events
    from orchestrator.events.store import store_payload
    from orchestrator.workflows import triggers
    from orchestrator.workflows.models import StepRun

    triggers.CACHE.invalidate()
    index = triggers.CACHE.current()  # compile once, as a process does after a change
    samples = []
    for n in range(EVENTS):
        started = time.perf_counter()
        stored = store_payload("github", "github.pull_request.opened", f"s{size}-{n}", {"n": n})
        if dispatch_events([stored.id]) != {"done": 1}:  # the doorbell task
            raise SystemExit("error: dispatch failed")
        samples.append((time.perf_counter() - started) * 1000)
    ready = StepRun.objects.filter(run__event__delivery_id__startswith=f"s{size}-", status="ready")
    if ready.count() != EVENTS:
        raise SystemExit(f"error: {ready.count()} of {EVENTS} events started their run")
    return {"stored_to_ready": summary(samples), **matching_cost(index)}


def matching_cost(index) -> dict:
    """Microseconds per event: the index, and every trigger in turn (the reference)."""
    kind = "github.pull_request.opened"
    everything = [trigger for pairs in index.exact.values() for _, trigger in pairs]
    everything += [trigger for pairs in index.by_prefix.values() for _, trigger in pairs]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        indexed = [t for t in index.candidates(kind) if t.pattern.match(kind)]
    indexed_us = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        scanned = [t for t in everything if t.pattern.match(kind)]
    scan_us = (time.perf_counter() - started) / rounds * 1e6
    if {t.name for t in indexed} != {t.name for t in scanned}:
        raise SystemExit("error: the index and the full scan disagree")
    return {"match_indexed_us": round(indexed_us, 1), "match_scan_us": round(scan_us, 1)}


def report(curve: list[dict]) -> int:
    print(f"{'workflows':>10} {'ready p50':>10} {'ready p95':>10} {'index us':>9} {'scan us':>9}")
    for point in curve:
        ready = point["stored_to_ready"]
        print(
            f"{point['workflows']:>10,} {ready['p50_ms']:>8.2f}ms {ready['p95_ms']:>8.2f}ms"
            f" {point['match_indexed_us']:>9.1f} {point['match_scan_us']:>9.1f}"
        )
    base, top = curve[0]["stored_to_ready"]["p95_ms"], curve[-1]["stored_to_ready"]["p95_ms"]
    met = top <= 2 * base
    print(f"target {'met' if met else 'NOT met'}: p95 at the top {top:.2f} ms <= 2x {base:.2f} ms")
    return 0 if met else 1
