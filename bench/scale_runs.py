"""Run history at 10k, 100k and 1M step rows (`python -m bench scale_runs [--quick]`).

In one run, against a fresh database (bench/scale.py): 20 workflows, then runs of four steps
each bulk-loaded with COPY in three steps (`--quick`: 1k, 10k, 100k step rows), finished over
the last 90 days. At each size, through the real view, as an operator's token:
`GET /api/runs/?workflow=&status=` for a rare status (failed) and a common one (succeeded),
p50/p95 of 30 calls each. At the largest size, the retention prune (`workflows.prune`) of the
runs finished more than 30 days ago, with their steps.
"""

import json
import random
import time
from datetime import timedelta

from bench.results import emit
from bench.scale import analyze, copy_rows, fresh_database, options_from, summary, timed

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
STEPS_PER_RUN = 4
WORKFLOWS = 20
RUN_COLUMNS = [
    "id", "workflow_id", "version_id", "trigger", "input", "status", "error", "created_at",
    "started_at", "finished_at",
]  # fmt: skip
STEP_COLUMNS = [
    "run_id", "step_id", "action", "extension", "extension_version", "position", "status",
    "attempts", "output", "error", "claimed_by", "ready_at", "started_at", "finished_at",
]  # fmt: skip
RUN_STATUSES = [("succeeded", 0.9), ("failed", 0.05), ("cancelled", 0.05)]


def main(argv: list[str]) -> int:
    options = options_from(argv)
    sizes = QUICK_SIZES if "quick" in options else SIZES
    fresh_database()
    workflows = make_workflows()
    api = api_client()
    curve, runs = [], 0
    for size in sizes:
        wanted = size // STEPS_PER_RUN
        started = time.perf_counter()
        load(workflows, runs, wanted - runs)
        runs = wanted
        analyze()
        point = {"steps": size, "runs": runs, "copy_s": round(time.perf_counter() - started, 1)}
        point.update(measure(api))
        print(json.dumps(point), flush=True)
        curve.append(point)
    prune = prune_old()
    print(json.dumps({"prune": prune}), flush=True)
    emit("scale_runs", {"curve": curve, "prune": prune, "quick": "quick" in options})
    return report(curve, prune)


def make_workflows() -> list[tuple[int, int]]:
    """(workflow id, version id) of WORKFLOWS four-step workflows."""
    from orchestrator.workflows.definitions import create_workflow

    made = []
    for n in range(WORKFLOWS):
        steps = [{"id": f"s{i}", "action": "core.log", "with": {"message": "x"}} for i in range(4)]
        for i in range(1, 4):
            steps[i]["needs"] = [f"s{i - 1}"]
        workflow = create_workflow(
            {"name": f"wf-{n}", "trigger": {"event": f"github.kind{n}"}, "steps": steps}
        )
        made.append((workflow.pk, workflow.current_version_id))
    return made


def api_client():
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-123456")
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")


def load(workflows, first: int, count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(first)
    now = timezone.now()
    states, weights = zip(*RUN_STATUSES, strict=True)
    runs, steps = [], []
    for n in range(first + 1, first + count + 1):
        workflow, version = workflows[n % len(workflows)]
        status = rng.choices(states, weights)[0]
        at = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
        done = at + timedelta(seconds=2)
        runs.append((n, workflow, version, "event", "{}", status, "", at, at, done))
        for i in range(STEPS_PER_RUN):
            state = "succeeded" if status == "succeeded" or i < 3 else status
            output = json.dumps({"ok": True, "n": n})
            steps.append(
                (n, f"s{i}", "core.log", "core", "", i, state, 1, output, "", "", at, at, done)
            )
    copy_rows("workflows_run", RUN_COLUMNS, runs)
    copy_rows("workflows_steprun", STEP_COLUMNS, steps)
    with connection.cursor() as cursor:
        sequence = "pg_get_serial_sequence('workflows_run', 'id')"
        cursor.execute(f"SELECT setval({sequence}, max(id)) FROM workflows_run")  # noqa: S608


def get_ok(client, path: str, query: dict):
    response = client.get(path, query)
    if response.status_code != 200:
        raise SystemExit(f"error: GET {path} answered {response.status_code}")
    return response


def measure(api) -> dict:
    rare = {"workflow": "wf-3", "status": "failed"}
    common = {"workflow": "wf-3", "status": "succeeded"}
    return {
        "api_failed": summary(timed(lambda: get_ok(api, "/api/runs/", rare), repeats=30)),
        "api_succeeded": summary(timed(lambda: get_ok(api, "/api/runs/", common), repeats=30)),
    }


def prune_old() -> dict:
    from orchestrator.workflows.retention import prune_runs

    started = time.perf_counter()
    counts = prune_runs()
    return {**counts, "seconds": round(time.perf_counter() - started, 1)}


def report(curve: list[dict], prune: dict) -> int:
    print(f"{'steps':>10} {'runs':>9} {'failed p95':>11} {'succeeded p95':>14}")
    for point in curve:
        print(
            f"{point['steps']:>10,} {point['runs']:>9,} {point['api_failed']['p95_ms']:>9.1f}ms"
            f" {point['api_succeeded']['p95_ms']:>12.1f}ms"
        )
    print(f"prune: {prune['runs']:,} runs and {prune['steps']:,} steps in {prune['seconds']} s")
    top = curve[-1]
    met = max(top["api_failed"]["p95_ms"], top["api_succeeded"]["p95_ms"]) < 100
    print(f"target {'met' if met else 'NOT met'}: /api/runs/?workflow=&status= p95 < 100 ms")
    return 0 if met else 1
