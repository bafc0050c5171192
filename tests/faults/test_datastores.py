"""Datastore faults in a served stack (`manage.py serve`: web, workers, a runner) on a PRIVATE
Postgres cluster and a PRIVATE redis-server, never the machine's shared ones. Each test makes
its own instances on spare ports, whatever the suite's DATABASE_URL, and removes them.

Load is signed GitHub deliveries posted one after another; every answer is kept, and the
claims are counted against the rows in the private database.
"""

import html
import re
import time

import httpx
import pytest

from tests.faults.stack import (
    DashboardSocket,
    Load,
    PrivatePostgres,
    PrivateRedis,
    manage,
    served,
    stack_env,
    staff_client,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.private_datastores]


@pytest.fixture
def postgres():
    cluster = PrivatePostgres()
    try:
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def redis_server():
    server = PrivateRedis()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def stored_deliveries(postgres: PrivatePostgres) -> set[str]:
    rows = postgres.query("SELECT delivery_id FROM events_event WHERE source = 'github'")
    return {row[0] for row in rows}


def answers_since(load: Load, start: int) -> list[tuple[str, int, str | None]]:
    return load.answers[start:]


def test_postgres_restart_under_load_503s_while_down_and_recovers_without_a_restart(postgres):
    """Promise: while Postgres is down, ingest answers 503 with Retry-After and never a 2xx
    it did not store; when Postgres is back the same processes (their pools reconnect) store
    again, with no restart. Counted: every 2xx-acknowledged delivery is a row, exactly."""
    env = stack_env(postgres)
    manage(env, "migrate", "--noinput")
    with served(env) as (base, process):
        load = Load(base).start()
        try:
            load.wait_for(50)
            postgres.stop("fast")
            down_from = len(load.answers)
            load.wait_for(down_from + 12, timeout_s=90)  # each waits out the pool timeouts
            down = answers_since(load, down_from + 2)  # the ones in flight at the stop
            postgres.start()
            back_from = len(load.answers)
            ok_after = lambda: sum(200 <= s < 300 for _, s, _ in load.answers[back_from:])  # noqa: E731
            wait_until(lambda: ok_after() >= 50, 90, "ingest to store again")
        finally:
            load.finish()
        assert process.poll() is None, "the served stack must recover without a restart"
    refused = [(status, retry) for _, status, retry in down]
    assert refused and all(status == 503 and retry == "5" for status, retry in refused), refused
    assert 500 not in load.statuses()
    acknowledged, stored = load.acknowledged(), stored_deliveries(postgres)
    assert acknowledged - stored == set()  # no 2xx without its row
    unanswered = {d for d, status, _ in load.answers if status == 0}
    assert stored - acknowledged <= unanswered  # a row without a 2xx only if no answer came
    print(f"postgres restart: {len(load.answers)} answers, {len(acknowledged)} acknowledged"
          f" and stored, {len(refused)} refused with 503 while down")  # fmt: skip


def health(base: str) -> dict:
    return httpx.get(f"{base}/health/", timeout=10).json()


def redis_status(document: dict) -> str | None:
    entries = [e for name, results in document.get("checks", {}).items() if "redis" in name
               for e in results]  # fmt: skip
    return entries[0]["status"] if entries else None


def dashboard_redis(staff) -> str | None:
    """The Redis component's status in the snapshot the dashboard page embeds."""
    page = staff.get("/dashboard/")
    assert page.status_code == 200
    found = re.search(r'"name": "redis:responseTime", "status": "(\w+)"', html.unescape(page.text))
    return found and found[1]


def relayed(env: dict, socket: DashboardSocket) -> bool:
    """Send a `dashboard.update` to the group from another process; answer whether `socket`
    has received one (sent now or by an earlier call)."""
    manage(env, "shell", "-c", "from asgiref.sync import async_to_sync;"
           " from channels.layers import get_channel_layer;"
           " async_to_sync(get_channel_layer().group_send)('dashboard',"
           " {'type': 'dashboard.update', 'payload': {'probe': 'after-outage'}})")  # fmt: skip
    time.sleep(0.5)
    return {"probe": "after-outage"} in socket.updates


def sweep(env: dict) -> None:
    """What the sweeper schedule does each minute, run now (the test does not wait for it)."""
    manage(env, "shell", "-c", "from orchestrator.events.dispatch import sweep_events;"
           " sweep_events()")  # fmt: skip


def wait_until_all_dispatched(env: dict, postgres: PrivatePostgres) -> None:
    def all_done() -> bool:
        sweep(env)
        rows = postgres.query(
            "SELECT count(*) FROM events_event WHERE source = 'github' AND status <> 'done'"
        )
        return rows[0][0] == 0

    wait_until(all_done, 90, "every stored event to be dispatched")


def test_redis_down_under_load_ingest_stays_durable_health_degrades_and_recovers(
    postgres, redis_server, tmp_path
):
    """Promise: with Redis stopped, ingest still answers 2xx only for stored rows (the
    doorbell falls back: the rows are in Postgres, the sweeper re-drives them), health says
    Redis fails and recovers on its own once Redis is back, and every acknowledged event is
    dispatched in the end. Nothing lost, no process restarted. A dashboard left open keeps
    receiving pushes through the outage, which show Redis failing, then passing again; one
    opened during the outage connects at once and sees the same."""
    env = stack_env(postgres, redis_server.url)
    manage(env, "migrate", "--noinput")
    log = tmp_path / "serve.log"
    with served(env, log) as (base, process):
        assert redis_status(health(base)) == "pass"
        staff = staff_client(env, base)
        assert dashboard_redis(staff) == "pass"
        live = DashboardSocket(base, staff)
        live.start()
        opened_down = DashboardSocket(base, staff)  # opened during the outage: no Redis needed
        wait_until(lambda: "pass" in live.seen, 30, "the open dashboard's first push")
        load = Load(base).start()
        try:
            load.wait_for(50)
            redis_server.stop()
            down_from, pushed_before = len(load.answers), len(live.seen)
            load.wait_for(down_from + 100)
            wait_until(lambda: "fail" in live.seen[pushed_before:], 30, "a push showing Redis down")
            opened_down.start()
            wait_until(lambda: opened_down.seen, 30, "the socket opened while Redis is down")
            down = answers_since(load, down_from)
            degraded = health(base)
            dashboard_degraded = dashboard_redis(staff)
            redis_server.start()
            wait_until(lambda: redis_status(health(base)) == "pass", 60, "health to recover")
            wait_until(lambda: dashboard_redis(staff) == "pass", 60, "the dashboard to recover")
            pushed_down = len(live.seen)
            wait_until(lambda: "pass" in live.seen[pushed_down:], 30, "a push showing it back")
            wait_until(lambda: "pass" in opened_down.seen, 30, "the later socket seeing it back")
            # and it has joined the layer since: a message from another process reaches it
            wait_until(lambda: relayed(env, opened_down), 30, "a relayed message on that socket")
            back_from = len(load.answers)
            load.wait_for(back_from + 50)
        finally:
            load.finish()
            live.stop()
            if opened_down.is_alive():
                opened_down.stop()
        assert opened_down.seen[0] == "fail", opened_down.seen[:5]  # not "dropped": it opened
        assert "dropped" not in opened_down.seen, opened_down.seen
        assert redis_status(degraded) == "fail"
        assert dashboard_degraded == "fail"
        assert degraded["status"] in ("warn", "fail")
        assert {status for _, status, _ in down} <= {200, 202}, "the database is up: store"
        acknowledged = load.acknowledged()
        assert acknowledged - stored_deliveries(postgres) == set()
        wait_until_all_dispatched(env, postgres)
        assert process.poll() is None
    lines = log.read_text().splitlines()
    down_seen = sum("backends.redis-down" in line for line in lines)
    back_seen = sum("backends.redis-back" in line for line in lines)
    assert down_seen >= 1 and back_seen >= 1  # processes fell back to the database, and returned
    done = postgres.query("SELECT count(*) FROM events_event WHERE status = 'done'")[0][0]
    assert done == len(stored_deliveries(postgres)) >= len(acknowledged)
    print(f"redis down: {len(load.answers)} answers, {len(down)} while Redis was down (all"
          f" 2xx), {len(acknowledged)} acknowledged, {done} dispatched")  # fmt: skip


def test_redis_killed_then_postgres_under_load_loses_no_acknowledged_event(postgres, redis_server):
    """Promise: Redis stops, then Postgres stops too, under one stream of deliveries; both
    come back (Postgres first). Every delivery answered 2xx at any point is stored and, in
    the end, dispatched; while Postgres was down every answer was a 503, never a 2xx; no
    process restarted."""
    env = stack_env(postgres, redis_server.url)
    manage(env, "migrate", "--noinput")
    with served(env) as (base, process):
        load = Load(base).start()
        try:
            load.wait_for(40)
            redis_server.stop()
            load.wait_for(len(load.answers) + 40)  # stored, doorbells skipped
            postgres.stop("fast")
            both_down_from = len(load.answers)
            load.wait_for(both_down_from + 8, timeout_s=90)
            both_down = answers_since(load, both_down_from + 2)  # past those in flight
            postgres.start()
            back_from = len(load.answers)
            ok_after = lambda: sum(200 <= s < 300 for _, s, _ in load.answers[back_from:])  # noqa: E731
            wait_until(lambda: ok_after() >= 30, 90, "ingest to store again, Redis still down")
            redis_server.start()
            load.wait_for(len(load.answers) + 30)
        finally:
            load.finish()
        assert {status for _, status, _ in both_down} == {503}, both_down
        assert 500 not in load.statuses()
        acknowledged = load.acknowledged()
        assert acknowledged - stored_deliveries(postgres) == set()
        wait_until_all_dispatched(env, postgres)
        assert process.poll() is None, "recovered without a restart"
    print(f"redis then postgres: {len(load.answers)} answers, {len(acknowledged)} acknowledged,"
          f" all stored and dispatched; {len(both_down)} refused with 503 while both were"
          " down")  # fmt: skip
