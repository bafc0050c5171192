"""Shared fixtures: API clients, the services CI promises, and a served control plane."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from orchestrator.health import metrics

BASE_DIR = Path(settings.BASE_DIR)

pytest_plugins = ["tests.fakes.fixtures"]
# The scale-out run (network namespaces, root, minutes) is its own target: `make test-scale`.
collect_ignore = [] if os.environ.get("CONTEXTEN_TEST_SCALE") else ["scale"]

# Tests flush metrics explicitly; a background thread would write outside their transactions.
metrics.forbid_background_flush()


def pytest_sessionstart(session):
    """A service CI promises is a failure when missing, never a skip."""
    if os.environ.get("REDIS_URL"):
        import redis

        try:
            redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            pytest.exit(f"REDIS_URL is set but Redis does not answer: {exc}", returncode=3)


@pytest.fixture(autouse=True)
def _fresh_cache_and_redis():
    """Each test starts with an empty cache (and Redis db, when REDIS_URL is set)."""
    from django.core.cache import cache

    from orchestrator.core import backends
    from orchestrator.events.throttle import throttle
    from orchestrator.health import state as health_state
    from orchestrator.workflows import engine, triggers

    backends.health.reset()  # an outage one test made does not follow the next
    backends._chosen.clear()  # stores built for another test's Redis (a private one) go too
    health_state.stored.invalidate()  # another test's health records were rolled back
    # Plans are cached by version id, and a flushed SQLite database hands the ids out again.
    engine.plan_for.cache_clear()
    triggers.CACHE.invalidate()  # compiled triggers too, for the same reason
    cache.clear()
    throttle.reset()  # the bad-signature buckets are per process, like the cache
    metrics.take_pending()  # counts recorded by an earlier test stay with it
    if settings.REDIS_URL:
        from orchestrator.core.redis import redis_client

        redis_client().flushdb()
    yield


@pytest.fixture(autouse=True)
def _fresh_registry(request):
    """Each test sees the registry of its own database; a test without a database sees the
    discovered extensions (the registry's answer before any row exists), frozen."""
    from extensions import registry

    registry.view.invalidate()
    database = {"db", "transactional_db", "django_db_reset_sequences"} & set(request.fixturenames)
    if not database and request.node.get_closest_marker("django_db") is None:
        registry.view.value, registry.view.loaded = registry.default_table(), True
        registry.view.next_check = float("inf")
    yield
    registry.view.invalidate()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        "operator", "operator@example.com", "operator-pass-123", is_staff=True, is_superuser=True
    )


@pytest.fixture
def api_token(staff_user):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=staff_user).key


@pytest.fixture
def api_client(api_token):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token}")
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVED_TEST_SIZES = {"WEB_CONCURRENCY": "1", "WORKFLOW_RUNNERS": "1", "Q_WORKERS": "2"}


@pytest.fixture
def subprocess_env(transactional_db):
    """Environment for a child process that must see this test's database and Redis."""
    # The test database's name differs from the one settings derived DEPLOYMENT_NAME from:
    # children must use this process's queue, or tasks it queues would wait in another.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEPLOYMENT_NAME": settings.DEPLOYMENT_NAME}
    # The per-core production defaults would start a web process and a runner per core for
    # every served test. One of each (and two django-q workers) proves the same behaviour;
    # tests about concurrency set their own counts on top.
    for name, value in SERVED_TEST_SIZES.items():
        env.setdefault(name, value)
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = db["NAME"]
    else:
        env["DATABASE_URL"] = (
            f"postgres://{db['USER'] or 'root'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        )
    return env


def wait_for_http(
    url: str, timeout_s: float = 150, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - http to loopback
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


def start_served(env: dict, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), *extra],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def served(subprocess_env):
    """`manage.py serve` (web + workers) on a free port against the test database."""
    port = free_port()
    process = start_served(subprocess_env, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        # Web (one process per core), workers and runners import Django at once: on a loaded
        # 2-core machine that took 76 s.
        wait_for_http(f"{base_url}/health/live", timeout_s=150, process=process)
        yield base_url, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Release every session on the test database before pytest-django drops it."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        connection = connections["default"]
        if connection.vendor == "postgresql":
            # Pool threads (sync_to_async, the webhook pool) may still hold a session.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        for conn in connections.all():
            if hasattr(conn, "close_pool"):
                conn.close_pool()


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants (read from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a child and everything under it, even what left its process group."""
    import signal

    for pid in process_tree(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
