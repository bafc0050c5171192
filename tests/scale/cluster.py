"""The scale-out cluster: hosts in network namespaces on one private Postgres and Redis.

A bridge (`ctxs-br`, 10.213.0.1/24) joins one veth per namespace. On the bridge address, in
this (root) namespace: a private Postgres (initdb/pg_ctl under /tmp, trust auth), a private
redis-server and the platform sandbox. Each "host" is a namespace with its own address and
loopback, running the product's own commands: web hosts uvicorn (the command `serve` runs),
worker hosts `qcluster` plus WORKFLOW_RUNNERS `runworkflows`. Needs root (CAP_NET_ADMIN for
`ip netns add`); without it the run fails, it never skips.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from orchestrator.core.supervisor import runner_command, web_command, worker_command
from tests.conftest import BASE_DIR
from tests.waiting import wait_until

PREFIX = "ctxs-"
BRIDGE = f"{PREFIX}br"
GATEWAY = "10.213.0.1"
ROOT = Path("/tmp/ctxs")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT, REDIS_PORT, WEB_PORT = 55433, 56379, 8000
WEBHOOK_SECRET = "scale-webhook-secret"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


# --- network ---------------------------------------------------------------------------
def clean_stale_network() -> None:
    """Remove what a crashed earlier run left: its namespaces (and their processes)."""
    for line in sh("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(PREFIX):
            kill_namespace(name)
            sh("ip", "netns", "delete", name, check=False)
    # A namespace goes once its last process has died, taking its veth pair; delete the
    # host ends too, in case it has not gone yet.
    for line in sh("ip", "-o", "link", "show").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            sh("ip", "link", "delete", name, check=False)


def make_bridge() -> None:
    try:
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"`ip link add {BRIDGE} type bridge` was refused ({exc.stderr.strip()}): the "
            "scale-out run needs root with CAP_NET_ADMIN"
        ) from None
    sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
    sh("ip", "link", "set", BRIDGE, "up")


def make_namespace(name: str, address: str) -> None:
    """A namespace with loopback and one veth on the bridge."""
    ns, veth = PREFIX + name, f"{PREFIX}{name}h"
    try:
        sh("ip", "netns", "add", ns)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"`ip netns add {ns}` was refused ({exc.stderr.strip()}): the scale-out run "
            "needs root with CAP_NET_ADMIN (a container needs --cap-add NET_ADMIN)"
        ) from None
    sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("ip", "link", "set", veth, "master", BRIDGE, "up")
    sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "link", "set", "lo", "up")


def kill_namespace(ns: str) -> list[int]:
    """SIGKILL every process in the namespace (a host pulled from the rack)."""
    pids = [int(p) for p in sh("ip", "netns", "pids", ns, check=False).stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


# --- shared services -------------------------------------------------------------------
class PrivatePostgres:
    """A throwaway cluster owned by the postgres user (initdb refuses root)."""

    def __init__(self):
        self.data = ROOT / "pg"
        self.url = f"postgres://root@{GATEWAY}:{PG_PORT}/scale"

    def start(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True)
        shutil.chown(self.data, "postgres", "postgres")
        self.as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "root")
        with (self.data / "pg_hba.conf").open("a") as hba:  # initdb trusts loopback only
            hba.write(f"host all all {GATEWAY.rsplit('.', 1)[0]}.0/24 trust\n")
        options = (
            f"-c listen_addresses={GATEWAY} -p {PG_PORT} -c unix_socket_directories={self.data}"
            " -c max_connections=400 -c fsync=off -c shared_buffers=256MB"
        )
        self.as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-o", options,
                         "-l", self.data / "log", "-w", "start")  # fmt: skip
        sh("psql", f"postgres://root@{GATEWAY}:{PG_PORT}/postgres", "-c", "CREATE DATABASE scale")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "stop",
                             check=False)  # fmt: skip

    def as_postgres(self, *argv, check: bool = True) -> None:
        sh("runuser", "-u", "postgres", "--", *map(str, argv), check=check)

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()


class PrivateRedis:
    def __init__(self):
        self.url = f"redis://{GATEWAY}:{REDIS_PORT}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", GATEWAY, "--port", str(REDIS_PORT), "--save", "",
             "--appendonly", "no", "--protected-mode", "no", "--dir", str(ROOT)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        wait_until(lambda: _pings(redis.Redis.from_url(self.url)), 20, "the private Redis")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _pings(client) -> bool:
    try:
        return client.ping()
    except Exception:
        return False


# --- hosts -----------------------------------------------------------------------------
class Host:
    """One namespace and the product processes it runs."""

    def __init__(self, name: str, address: str, env: dict):
        self.name, self.ns, self.address = name, PREFIX + name, address
        self.env = env
        self.processes: list[subprocess.Popen] = []

    def spawn(self, argv: list[str], log_name: str, **kwargs) -> subprocess.Popen:
        log = open(ROOT / "logs" / f"{self.name}-{log_name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *argv], cwd=BASE_DIR, env=self.env,
            stdout=kwargs.pop("stdout", log), stderr=log, start_new_session=True, **kwargs,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def start_web(self) -> None:
        self.spawn(web_command(self.address, WEB_PORT, int(self.env["WEB_CONCURRENCY"])), "web")

    def start_worker(self, runners: int) -> None:
        self.spawn(worker_command(), "qcluster")
        for index in range(runners):
            self.spawn(runner_command(), f"runner{index}")

    def pids(self) -> list[int]:
        return [int(p) for p in sh("ip", "netns", "pids", self.ns, check=False).stdout.split()]

    def kill(self) -> list[int]:
        pids = kill_namespace(self.ns)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        return pids


# --- watchers and the control process ----------------------------------------------------
WATCHER = """
import django, json, time
django.setup()
from extensions import registry
from extensions.config import store
from orchestrator.flags.cache import store as flags
from orchestrator.health import breakers
seen = {}
print(json.dumps({"ready": True}), flush=True)
last_breaker = 0.0
while True:
    flag = flags.get("probe")
    now = {"config": store.stored("core").get("team"),
           "flag": flag.evaluate({}).value if flag else None,
           "extension": "disabled" if registry.is_disabled("linear") else "enabled"}
    if time.monotonic() - last_breaker >= 0.05:
        now["breaker"] = breakers.breaker_state("slack")
        last_breaker = time.monotonic()
    for kind, value in now.items():
        if value != seen.get(kind):
            seen[kind] = value
            print(json.dumps({"kind": kind, "value": value, "t": time.monotonic()}), flush=True)
    time.sleep(0.005)
"""

CONTROL = """
import django, json, sys, time
django.setup()
from django.db import transaction
from extensions import lifecycle
from extensions.config import store
from orchestrator.flags.services import Actor, save_flag
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    kind, value = json.loads(line)
    committed = []
    if kind == "extension":
        lifecycle.set_enabled("linear", value == "enabled", actor="scale")
        committed.append(time.monotonic())  # set_enabled commits before it returns
    else:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(time.monotonic()))
            if kind == "config":
                store.save("core", {"team": value}, author="scale")
            else:
                save_flag({"key": "probe", "enabled": True, "variants": {"v": value},
                           "default_variant": "v"}, actor=Actor("scale"))
    print(json.dumps({"t": committed[0]}), flush=True)
"""


class Watcher:
    """A plain `django.setup()` process in a host's namespace (as web and workers are): it
    reports each new value of a flag, the `core` configuration, an extension's state and
    the slack breaker, with CLOCK_MONOTONIC (one clock for every namespace)."""

    def __init__(self, host: Host):
        self.host = host
        self.process = host.spawn([sys.executable, "-c", WATCHER], "watcher",
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.seen: dict[tuple[str, object], float] = {}
        self.ready = threading.Event()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        for line in self.process.stdout:
            report = json.loads(line)
            if report.get("ready"):
                self.ready.set()
            else:
                self.seen.setdefault((report["kind"], report["value"]), report["t"])


class Control:
    """Makes a change and answers the monotonic moment it committed."""

    def __init__(self, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-c", CONTROL], cwd=BASE_DIR, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def change(self, kind: str, value: str) -> float:
        self.process.stdin.write(json.dumps([kind, value]) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["t"]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
