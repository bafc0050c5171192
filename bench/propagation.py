"""Propagation: how long a configuration change takes to reach other processes (SPEC §11: 2 s),
beside a flag change (1 s) and an API token revocation (1 s), measured in the same run through
the same generation mechanism.

Watcher processes (plain `django.setup()` processes, as web and workers are) read the `core`
document, a flag and a token's state (OFREP's token cache) in a loop and report the moment
each new value appears. This process makes a change, notes the moment its transaction
committed, and waits until every watcher saw it. Clocks are comparable: CLOCK_MONOTONIC is
one clock for every process on the machine. Rounds alternate between the kinds (a token
round revokes the probe token or makes it again), so drift on a shared machine hits all.

    python -m bench propagation [--rounds 20] [--watchers 4]
"""

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PROBE = "bench0propagation0probe0token0000000000"  # a 40-character token key
KINDS = ("config", "flag", "token")
DB_PATH = BASE_DIR / "var" / "bench_propagation.sqlite3"
WATCHER = """
import django, json, sys, time
django.setup()
from extensions.config import store
from orchestrator.core import tokens
from orchestrator.flags.cache import store as flags
seen = {"config": None, "flag": None, "token": None}
store.stored("core"), flags.get("probe"), tokens.state(PROBE)  # warm first: ready means warm
print(json.dumps({"ready": True}), flush=True)
while True:
    flag = flags.get("probe")
    now = {"config": store.stored("core").get("team"),
           "flag": flag.evaluate({}).value if flag else None,
           "token": "active" if tokens.state(PROBE) else "revoked"}
    for kind, value in now.items():
        if value != seen[kind]:
            seen[kind] = value
            print(json.dumps({"kind": kind, "value": value, "t": time.monotonic()}), flush=True)
    time.sleep(0.002)
"""


def bench_env() -> dict:
    """The embedded default unless DATABASE_URL / REDIS_URL say otherwise."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "contexten_site.settings", "LOG_LEVEL": "ERROR"}
    if not env.get("DATABASE_URL"):
        env["SQLITE_PATH"] = str(DB_PATH)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{DB_PATH}{suffix}").unlink(missing_ok=True)
    return env


class Watcher:
    """One watcher process; a thread collects what it reports."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-c", f"PROBE = {PROBE!r}\n" + WATCHER],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.seen: dict[tuple[str, object], float] = {}
        self.ready = threading.Event()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        for line in self.process.stdout:
            report = json.loads(line)
            if report.get("ready"):
                self.ready.set()
            else:
                self.seen[(report["kind"], report["value"])] = report["t"]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def change(kind: str, value: str) -> float:
    """Make one change; answer the monotonic moment its transaction committed."""
    from django.db import transaction

    from extensions.config import store
    from orchestrator.flags.services import Actor, save_flag

    committed = []
    with transaction.atomic():
        # Registered first, so it runs first at the commit (before the change's own callbacks).
        transaction.on_commit(lambda: committed.append(time.monotonic()))
        if kind == "config":
            store.save("core", {"team": value}, author="bench")
        elif kind == "token":
            toggle_token(value)
        else:
            doc = {
                "key": "probe",
                "enabled": True,
                "variants": {"v": value},
                "default_variant": "v",
            }
            save_flag(doc, actor=Actor("bench"))
    return committed[0]


def toggle_token(value: str) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    if value == "revoked":
        Token.objects.filter(key=PROBE).delete()
    else:
        user, _ = get_user_model().objects.get_or_create(username="bench-probe")
        Token.objects.get_or_create(key=PROBE, user=user)


def wait_seen(watchers: list[Watcher], key: tuple[str, str], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(key in w.seen for w in watchers):
        if time.monotonic() > deadline:
            raise SystemExit(f"error: {key} not seen by every watcher within {timeout_s}s")
        time.sleep(0.005)


def measure(watchers: list[Watcher], rounds: int) -> dict[str, list[float]]:
    delays: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for index in range(rounds):
        for kind in KINDS:
            value = f"{kind}-{index}"
            if kind == "token":  # alternate, and forget the moments of earlier rounds
                value = "revoked" if index % 2 == 0 else "active"
                for watcher in watchers:
                    watcher.seen.pop((kind, value), None)
            committed = change(kind, value)
            wait_seen(watchers, (kind, value))
            delays[kind] += [w.seen[(kind, value)] - committed for w in watchers]
    return delays


def describe(kind: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (
        f"{kind:7} median {statistics.median(ordered) * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms"
        f"  max {ordered[-1] * 1000:6.0f} ms  (n={len(ordered)})"
    )


def main(argv: list[str]) -> int:
    rounds = int(next((a.split("=")[1] for a in argv if a.startswith("--rounds=")), 20))
    count = int(next((a.split("=")[1] for a in argv if a.startswith("--watchers=")), 4))
    env = bench_env()
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0", "--skip-checks"], env=env, cwd=BASE_DIR, check=True)
    os.environ.update(env)
    import django

    django.setup()
    change("config", "start")
    change("flag", "start")
    change("token", "active")
    watchers = [Watcher(env) for _ in range(count)]
    try:
        for watcher in watchers:
            watcher.ready.wait(60)
        delays = measure(watchers, rounds)
    finally:
        for watcher in watchers:
            watcher.stop()
    print(f"{count} watcher processes, {rounds} changes of each kind")
    for kind in KINDS:
        print(describe(kind, delays[kind]))
    ratio = statistics.median(delays["config"]) / statistics.median(delays["flag"])
    print(f"config / flag median: {ratio:.2f}  (targets: config 2 s, flags and tokens 1 s)")
    return 0
