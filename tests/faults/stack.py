"""Real processes on loopback for the fault scenarios: a private Postgres cluster (initdb +
pg_ctl under /tmp on a spare port), a private redis-server, a served control plane
(`manage.py serve`) and signed webhook load. Never the machine's shared Postgres or Redis.

A missing binary fails the test loudly: these scenarios never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import BASE_DIR, free_port, wait_for_http

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET = "fault-test-secret"


def binary(path: str | Path) -> str:
    found = shutil.which(str(path))
    if found is None:
        pytest.fail(f"{path} is missing: the fault scenarios need it and never skip")
    return found


def as_owner(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return command
    return [binary("runuser"), "-u", "postgres", "--", *command]


class PrivatePostgres:
    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
        self.url = f"postgres://{user}@127.0.0.1:{self.port}/contexten"
        self._run(binary(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                  "-U", user, "--no-sync", "-E", "UTF8")  # fmt: skip

    def _run(self, *command: str) -> None:
        subprocess.run(as_owner(list(command)), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c max_connections=200")  # fmt: skip
        self._run(binary(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                  "-l", str(self.dir / "log"), "start")  # fmt: skip

    def create_database(self) -> None:
        self._run(binary(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", self.url.split("//")[1].split("@")[0], "contexten")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(binary(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()


class PrivateRedis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis.from_url(self.url, socket_connect_timeout=1).ping():
                    return
            time.sleep(0.1)
        raise AssertionError("the private redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def stack_env(postgres: PrivatePostgres, redis_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SQLITE_PATH",)}
    env.update(
        DATABASE_URL=postgres.url, REDIS_URL=redis_url, PYTHONUNBUFFERED="1",
        WEB_CONCURRENCY="1", WORKFLOW_RUNNERS="1", Q_WORKERS="2",
        GITHUB_WEBHOOK_SECRET=SECRET, EVENT_STUCK_AFTER_SECONDS="2",
        WEBHOOK_POOL_TIMEOUT="1", DATABASE_POOL_TIMEOUT="2", **extra,
    )  # fmt: skip
    return env


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@contextlib.contextmanager
def served(env: dict, log: Path | None = None, port: int | None = None):
    """`manage.py serve` with its output in a file (a pipe nobody reads would fill and
    stall the server under load)."""
    port = port or free_port()
    log = log or Path(tempfile.mkstemp(prefix="faults-serve-", suffix=".log")[1])
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health/live", 150, process=process)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        print(f"serve log: {log}")


@dataclass
class Load:
    """Signed GitHub deliveries posted one after another from a thread, every answer kept."""

    base: str
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> Load:
        self.thread = threading.Thread(target=self._post_until_stopped, daemon=True)
        self.thread.start()
        return self

    def _post_until_stopped(self) -> None:
        from integrations.github.sandbox import demo_delivery

        n = 0
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                path, body, headers = demo_delivery(SECRET, n)
                delivery = f"fault-{n}"
                headers["X-GitHub-Delivery"] = delivery
                try:
                    response = client.post(self.base + path, content=body, headers=headers)
                    self.answers.append(
                        (delivery, response.status_code, response.headers.get("Retry-After"))
                    )
                except httpx.HTTPError:
                    self.answers.append((delivery, 0, None))  # no answer: not acknowledged
                    time.sleep(0.05)
                n += 1

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(30)

    def acknowledged(self) -> set[str]:
        return {d for d, status, _ in self.answers if 200 <= status < 300}

    def statuses(self) -> set[int]:
        return {status for _, status, _ in self.answers}

    def wait_for(self, n: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.answers) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.answers) >= n, f"only {len(self.answers)} answers"


def staff_client(env: dict, base: str) -> httpx.Client:
    """A staff session on the served stack, logged in through the admin's own form."""
    manage(env | {"DJANGO_SUPERUSER_PASSWORD": "fault-pass-123"}, "createsuperuser",
           "--noinput", "--username", "ops", "--email", "ops@example.com")  # fmt: skip
    return log_in(base, "ops", "fault-pass-123")


def log_in(base: str, username: str, password: str) -> httpx.Client:
    """A session logged in through the admin's own form (CSRF cookie and token)."""
    import re

    client = httpx.Client(base_url=base, timeout=30)
    page = client.get("/admin/login/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    answer = client.post("/admin/login/?next=/admin/", data={
        "csrfmiddlewaretoken": token, "username": username, "password": password,
        "next": "/admin/"}, headers={"Referer": f"{base}/admin/login/"})  # fmt: skip
    assert answer.status_code == 302, answer.text[:300]  # a refused login shows the form again
    return client


class DashboardSocket(threading.Thread):
    """A staff browser's `/ws/dashboard/` connection, kept open (reconnecting if it drops):
    it records the Redis component's status from every snapshot it is pushed."""

    def __init__(self, base: str, client: httpx.Client):
        super().__init__(daemon=True)
        self.url = base.replace("http://", "ws://") + "/ws/dashboard/"
        self.headers = {"Origin": base, "Cookie": "; ".join(f"{k}={v}" for k, v in
                                                            client.cookies.items())}  # fmt: skip
        self.seen: list[str] = []  # "pass"/"fail" per snapshot, "dropped" per lost connection
        self.updates: list[dict] = []  # the payloads of relayed `dashboard.update` messages
        self.stopping = threading.Event()

    def run(self) -> None:
        asyncio.run(self.watch())

    async def watch(self) -> None:
        import websockets

        while not self.stopping.is_set():
            try:
                connecting = websockets.connect(
                    self.url, additional_headers=self.headers, max_size=None, open_timeout=10
                )
                async with connecting as socket:
                    while not self.stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            self.record(json.loads(await asyncio.wait_for(socket.recv(), 0.5)))
            except (OSError, websockets.WebSocketException):
                self.seen.append("dropped")
                await asyncio.sleep(0.5)

    def record(self, message: dict) -> None:
        if message.get("type") == "update":
            self.updates.append(message["payload"])
        if message.get("type") != "snapshot":
            return
        components = {row["name"]: row["status"] for row in message["data"]["components"]}
        self.seen.append(components.get("redis:responseTime", "missing"))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)
