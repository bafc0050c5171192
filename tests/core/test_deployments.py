"""Two deployments on one Redis: each one's django-q2 tasks run only in its own cluster.

Promise: the queue is named after DEPLOYMENT_NAME (default: the database name), so a
deployment's cluster never takes, and drops for a bad signature, another deployment's tasks.
Real processes: a private redis-server, two `manage.py qcluster` with different
DEPLOYMENT_NAME and SECRET_KEY on the same Redis db, and each deployment queueing tasks.
"""

import subprocess
import sys
import time

import pytest

from tests.conftest import BASE_DIR, free_port, kill_tree

TASKS = 20
ENQUEUE = (
    "from django_q.tasks import async_task\n"
    "for n in range({n}):\n"
    "    async_task('tests.core.deployment_tasks.mark', {path!r}, n, save=False)\n"
)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of our own on a spare port (the shared one is never touched)."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def deployment_env(base: dict, name: str, redis_url: str) -> dict:
    return base | {
        "DEPLOYMENT_NAME": name,
        "SECRET_KEY": f"{name}-" + "k" * 50,
        "REDIS_URL": redis_url,
        "Q_WORKERS": "1",
    }


def test_two_deployments_on_one_redis_run_only_their_own_tasks(
    subprocess_env, private_redis, tmp_path
):
    envs = {name: deployment_env(subprocess_env, name, private_redis) for name in ("blue", "red")}
    marks = {name: tmp_path / f"{name}.marks" for name in envs}
    clusters = [start_qcluster(env) for env in envs.values()]
    try:
        for name, env in envs.items():
            code = ENQUEUE.format(n=TASKS, path=str(marks[name]))
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", code],
                cwd=BASE_DIR, env=env, check=True, capture_output=True,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(done(path) for path in marks.values()):
            time.sleep(0.2)
    finally:
        for cluster in clusters:  # nothing of theirs outlives the test; no need to be gentle
            kill_tree(cluster)
    for name, path in marks.items():
        lines = path.read_text().splitlines() if path.exists() else []
        assert sorted(lines) == sorted(f"{name} {n}" for n in range(TASKS)), name


def start_qcluster(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=BASE_DIR, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def done(path) -> bool:
    return path.exists() and len(path.read_text().splitlines()) >= TASKS


@pytest.fixture
def on_private_redis(private_redis, settings):
    """This process on the private redis-server (both CI legs: SQLite has no Redis)."""
    from orchestrator.core import backends
    from orchestrator.core.redis import redis_client

    settings.REDIS_URL = private_redis
    redis_client.cache_clear()
    backends._chosen.clear()
    yield
    # The chosen stores hold a client of this private server, which stops after the test:
    # kept, they would fail every later test's lease and generation calls (Redis "down").
    redis_client.cache_clear()
    backends._chosen.clear()
    backends.health.reset()


def test_two_deployments_on_one_redis_db_do_not_see_each_others_keys(
    on_private_redis, settings, db
):
    """Leases, presences, wake lists, breakers, metrics and generations are all prefixed
    with DEPLOYMENT_NAME (orchestrator/core/redis.key), so one deployment's state is invisible
    to another on the same Redis db."""
    from orchestrator.core import generations
    from orchestrator.core.redis import redis_client
    from orchestrator.health import breaker_stores, breakers, metric_stores
    from orchestrator.workflows import doorbell

    settings.DEPLOYMENT_NAME = "blue"
    doorbell.keep_presence("proc:blue", "blue-runner", 30)
    assert doorbell.take_lease("doorbell", "blue", 30)
    doorbell.wake_runner_processes()
    breaker_stores.RedisStore().force_open("slack", breakers.BreakerConfig.from_settings())
    metric_stores.RedisStore().add({"calls": 1.0}, {"calls": 1.0}, bucket=1)
    generations.bump("flags")
    blue_keys = {k.decode() for k in redis_client().keys("contexten:*")}
    assert blue_keys and all(k.startswith("contexten:blue:") for k in blue_keys), blue_keys

    settings.DEPLOYMENT_NAME = "red"
    assert doorbell.runner_processes_alive() == 0
    assert doorbell.lease_holder("doorbell") is None
    assert doorbell.take_lease("doorbell", "red", 30), "red has its own doorbell lease"
    assert breaker_stores.RedisStore().read("slack").state == "closed"
    assert metric_stores.RedisStore().totals() == {}
    assert generations.read("flags") is None
    assert not doorbell.wait_for_wake(0.1), "blue's ring does not wake red's runners"
