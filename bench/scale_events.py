"""Event store at 10k, 100k and 1M stored events (`python -m bench scale_events [--quick]`).

In one run, against a fresh database (bench/scale.py), the events are bulk-loaded with COPY in
three steps (`--quick`: 1k, 10k, 100k). At each size, through the real views:
- `GET /api/events/` filtered by source, type, status and a six-day window, as an operator's
  token (p50/p95 of 30 calls), and the dead letters (`?status=dead`);
- the admin changelist, unfiltered and filtered by status, as a superuser (10 calls each);
- replay by filter of a tenth of the store (`manage.py replay --type github.push`): wall time,
  progress lines printed, and doorbell tasks queued (the ORM broker's rows);
then at the largest size the retention prune of every finished event, while four threads keep
storing deliveries: their insert rate during the prune against the rate just before it.
"""

import io
import json
import random
import threading
import time
from datetime import timedelta

from bench.results import emit
from bench.scale import analyze, copy_rows, fresh_database, options_from, summary, timed

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
COLUMNS = [
    "source", "type", "delivery_id", "received_at", "status_changed_at", "finished_at", "data",
    "status", "attempts", "last_error",
]  # fmt: skip
# (source, type, share): github.push is a tenth of the store, the replay's filter.
TYPES = [
    ("github", "github.push", 0.10),
    ("github", "github.pull_request.opened", 0.15),
    ("github", "github.pull_request.closed", 0.10),
    ("github", "github.issues.opened", 0.10),
    ("github", "github.issue_comment.created", 0.15),
    ("linear", "linear.issue.create", 0.10),
    ("linear", "linear.issue.update", 0.10),
    ("linear", "linear.comment.create", 0.05),
    ("slack", "slack.app_mention", 0.05),
    ("slack", "slack.message", 0.10),
]
STATUSES = [("done", 0.95), ("failed", 0.01), ("dead", 0.01), ("received", 0.03)]
HISTORY_DAYS = 90


def main(argv: list[str]) -> int:
    options = options_from(argv)
    sizes = QUICK_SIZES if "quick" in options else SIZES
    fresh_database()
    clients = make_clients()
    curve, loaded = [], 0
    for size in sizes:
        started = time.perf_counter()
        loaded += copy_rows("events_event", COLUMNS, event_rows(loaded, size - loaded))
        load_s = time.perf_counter() - started
        analyze()
        point = {"events": size, "copy_s": round(load_s, 1), **measure(clients, size)}
        print(json.dumps(point), flush=True)
        curve.append(point)
    prune = prune_under_ingest()
    print(json.dumps({"prune": prune}), flush=True)
    emit("scale_events", {"curve": curve, "prune": prune, "quick": "quick" in options})
    return report(curve, prune)


def make_clients():
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.authtoken.models import Token

    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-123456")
    token = Token.objects.create(user=admin).key
    browser = Client()
    browser.force_login(admin)
    return {"api": Client(HTTP_AUTHORIZATION=f"Token {token}"), "admin": browser}


def event_rows(start: int, count: int):
    from django.utils import timezone

    rng = random.Random(start)
    now = timezone.now()
    kinds = [(s, t) for s, t, _ in TYPES]
    kind_weights = [w for _, _, w in TYPES]
    states, state_weights = zip(*STATUSES, strict=True)
    for n in range(start, start + count):
        source, kind = rng.choices(kinds, kind_weights)[0]
        status = rng.choices(states, state_weights)[0]
        at = now - timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400))
        finished = at if status in ("done", "dead") else None
        data = json.dumps(
            {"n": n, "action": "opened", "repository": {"full_name": f"acme/r{n % 50}"}}
        )
        yield (source, kind, f"scale-{n}", at, at, finished, data, status, 1, "")


def api_filtered(clients) -> dict:
    from django.utils import timezone

    now = timezone.now()
    query = {
        "source": "github",
        "type": "github.pull_request.opened",
        "status": "done",
        "since": (now - timedelta(days=7)).isoformat(),
        "until": (now - timedelta(days=1)).isoformat(),
    }
    return query


def get_ok(client, path: str, query: dict | None = None):
    response = client.get(path, query or {})
    if response.status_code != 200:
        raise SystemExit(f"error: GET {path} answered {response.status_code}")
    return response


def measure(clients, size: int) -> dict:
    api, admin = clients["api"], clients["admin"]
    query = api_filtered(clients)
    filtered = timed(lambda: get_ok(api, "/api/events/", query), repeats=30)
    dead = timed(lambda: get_ok(api, "/api/events/", {"status": "dead"}), repeats=30)
    changelist = timed(lambda: get_ok(admin, "/admin/events/event/"), repeats=10)
    by_status = timed(lambda: get_ok(admin, "/admin/events/event/", {"status__exact": "dead"}), 10)
    return {
        "api_filtered": summary(filtered),
        "api_dead": summary(dead),
        "admin": summary(changelist),
        "admin_dead": summary(by_status),
        "replay": replay_tenth(),
    }


def replay_tenth() -> dict:
    from django.core.management import call_command
    from django_q.models import OrmQ

    OrmQ.objects.all().delete()
    progress, out = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    call_command("replay", "--type", "github.push", "--json", stdout=out, stderr=progress)
    seconds = time.perf_counter() - started
    outcome = json.loads(out.getvalue())
    return {
        "events": outcome["matched"],
        "seconds": round(seconds, 2),
        "progress_lines": len(progress.getvalue().splitlines()),
        "doorbell_tasks": OrmQ.objects.count(),
    }


def prune_under_ingest(seconds: float = 8) -> dict:
    """Insert rate of 4 storing threads for `seconds`, then during a prune of every
    finished event; the prune's own rate and batch count."""
    from django.conf import settings

    from orchestrator.events.dispatch import prune_events

    baseline = ingest_rate(seconds)
    settings.EVENT_RETENTION_DAYS = 0
    result = {}

    def prune():
        started = time.perf_counter()
        result["deleted"] = prune_events()
        result["seconds"] = time.perf_counter() - started

    during = ingest_rate(None, alongside=prune)
    return {
        "deleted": result["deleted"],
        "prune_s": round(result["seconds"], 1),
        "ingest_before_per_s": round(baseline),
        "ingest_during_per_s": round(during),
        "ratio": round(during / baseline, 2),
    }


def ingest_rate(seconds: float | None, alongside=None, threads: int = 4) -> float:
    """Deliveries stored per second by `threads` threads, for `seconds` or while `alongside`
    runs in its own thread."""
    from django.db import connections

    from orchestrator.events.store import store_payload

    stop, counts = threading.Event(), [0] * threads

    def store(index: int):
        try:
            n = 0
            while not stop.is_set():
                store_payload(
                    "github", "github.push", f"live-{index}-{n}-{time.time_ns()}", {"n": n}
                )
                n += 1
            counts[index] = n
        finally:
            connections.close_all()

    workers = [threading.Thread(target=store, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    if alongside is None:
        time.sleep(seconds)
    else:
        side = threading.Thread(target=alongside)
        side.start()
        side.join()
    stop.set()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - started)


def report(curve: list[dict], prune: dict) -> int:
    print(
        f"{'events':>10} {'api p95':>9} {'dead p95':>9} {'admin p50':>10} {'admin max':>10}"
        f" {'replayed':>9} {'replay s':>9} {'tasks':>6}"
    )
    for point in curve:
        print(
            f"{point['events']:>10,} {point['api_filtered']['p95_ms']:>7.1f}ms"
            f" {point['api_dead']['p95_ms']:>7.1f}ms {point['admin']['p50_ms']:>8.1f}ms"
            f" {point['admin']['max_ms']:>8.1f}ms {point['replay']['events']:>9,}"
            f" {point['replay']['seconds']:>9.1f} {point['replay']['doorbell_tasks']:>6}"
        )
    print(
        f"prune: {prune['deleted']:,} rows in {prune['prune_s']} s; ingest"
        f" {prune['ingest_before_per_s']}/s before, {prune['ingest_during_per_s']}/s during"
        f" ({prune['ratio']}x)"
    )
    top = curve[-1]
    met = top["api_filtered"]["p95_ms"] < 100 and top["admin"]["max_ms"] < 1000
    print(f"target {'met' if met else 'NOT met'}: API p95 < 100 ms and admin < 1 s at the top size")
    return 0 if met else 1
