"""Recovery benchmark (SPEC §11): 200 runs into a 20 s Slack outage, then the drain.

`python -m bench outage [--runs=200] [--outage=20]`

Against a fresh Postgres database (`bench_outage`) and Redis, `manage.py serve` at the
product defaults (breaker, pools, detection schedule, recovery catalog), the platform URLs
pointed at the fake platform server in this process. Each run has one `slack.post_message`
step to `#eng` (a channel name, the case that used to lose messages) with the default retry.
1. reference: the same runs with Slack up, time from the first run to the last message;
2. outage: Slack answers 503 to everything; the runs start; after `--outage` s it answers
   again. Measured: calls that reached Slack while it was down (the detection job's one
   `auth.test` a round counted apart), seconds from recovery to the last message, messages
   delivered, messages posted twice, runs failed.
"""

import os
import subprocess
import sys
import time

from bench.workflows import psql, start_server, stop_server

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_HOST = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB_NAME = "bench_outage"
REDIS_URL = os.environ.get("BENCH_OUTAGE_REDIS_URL", "redis://127.0.0.1:6379/13")
DETECTION_CALLS = ("auth.test",)


def main(argv: list[str]) -> int:
    options = dict(arg.lstrip("-").split("=", 1) for arg in argv if "=" in arg)
    runs, outage_s = int(options.get("runs", 200)), float(options.get("outage", 20))
    database_url = prepare_database()
    setup_django(database_url)
    from tests.fakes.platforms import FakePlatforms

    fake = FakePlatforms().start()
    server, _ = start_server(server_env(database_url, fake))
    try:
        reference = reference_phase(fake, runs)
        outage = outage_phase(fake, runs, outage_s)
    finally:
        stop_server(server)
        fake.stop()
    return report(reference, outage, runs, outage_s)


def prepare_database() -> str:
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB_NAME}")
    database_url = f"{PG_HOST}/{DB_NAME}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=BASE_DIR,
                   env=env, check=True)  # fmt: skip
    return database_url


def setup_django(database_url: str) -> None:
    """This process starts runs and reads results through the ORM, like an operator."""
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=REDIS_URL, LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="contexten_site.settings")  # fmt: skip
    sys.path.insert(0, BASE_DIR)
    import django
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    django.setup()


def server_env(database_url: str, fake) -> dict:
    return {**os.environ, **fake.env(), "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
            "DEBUG": "false", "SECRET_KEY": "bench-" + "k" * 40,
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}  # fmt: skip


def workflow(name: str):
    from orchestrator.workflows import definitions

    return definitions.create_workflow(
        {"name": name, "trigger": {"manual": True},
         "steps": [{"id": "post", "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": name + " {{ run.id }}"}}]}
    )  # fmt: skip


def start_runs(name: str, runs: int) -> None:
    from orchestrator.workflows import engine

    flow = workflow(name)
    for _ in range(runs):
        engine.create_run(flow, trigger="manual")


def delivered(fake, name: str) -> list[str]:
    return [m["item"]["text"] for m in fake.created("slack") if m["item"]["text"].startswith(name)]


def wait_delivered(fake, name: str, runs: int, timeout_s: float = 300) -> float:
    """Answer the time the last message arrived (or raise after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(set(delivered(fake, name))) >= runs:
            return time.monotonic()
        time.sleep(0.1)
    raise SystemExit(f"error: only {len(set(delivered(fake, name)))} of {runs} delivered")


def reference_phase(fake, runs: int) -> dict:
    started = time.monotonic()
    start_runs("reference", runs)
    return {"elapsed_s": wait_delivered(fake, "reference", runs) - started}


def outage_phase(fake, runs: int, outage_s: float) -> dict:
    from orchestrator.workflows.models import Run

    before = {call_id(c) for c in fake.calls("slack")}
    fake.set_down("slack")
    down_at = time.monotonic()
    start_runs("outage", runs)
    time.sleep(max(outage_s - (time.monotonic() - down_at), 0))
    during = [c for c in fake.calls("slack") if call_id(c) not in before]
    fake.set_down("slack", False)
    up_at = time.monotonic()
    last = wait_delivered(fake, "outage", runs, timeout_s=300)
    texts = delivered(fake, "outage")
    failed = Run.objects.filter(workflow__name="outage", status="failed").count()
    return {
        "calls_while_down": sum(c.name not in DETECTION_CALLS for c in during),
        "detection_calls": sum(c.name in DETECTION_CALLS for c in during),
        "drain_s": last - up_at,
        "delivered": len(set(texts)),
        "twice": len(texts) - len(set(texts)),
        "failed_runs": failed,
    }


def call_id(call) -> int:
    return id(call)


def report(reference: dict, outage: dict, runs: int, outage_s: float) -> int:
    print(f"reference: {runs} runs with Slack up, all delivered in {reference['elapsed_s']:.1f} s")
    print(f"outage: {runs} runs into a {outage_s:g} s Slack outage (503)")
    print(f"  calls to Slack while down: {outage['calls_while_down']} "
          f"({outage['calls_while_down'] / runs:.3f} per run; detection probes apart: "
          f"{outage['detection_calls']})")  # fmt: skip
    print(f"  drained {outage['delivered']}/{runs} in {outage['drain_s']:.1f} s after recovery"
          f" (reference drain {reference['elapsed_s']:.1f} s); posted twice: {outage['twice']};"
          f" runs failed: {outage['failed_runs']}")  # fmt: skip
    ok = (outage["delivered"] == runs and outage["twice"] == 0 and outage["drain_s"] <= 60
          and outage["calls_while_down"] < runs / 4)  # fmt: skip
    print(
        "target met" if ok else "TARGET MISSED: all delivered within 60 s, none twice, calls ≪ runs"
    )
    return 0 if ok else 1
