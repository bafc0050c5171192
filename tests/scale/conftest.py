"""The scale-out cluster as one session fixture (see cluster.py), torn down after the run."""

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter

import pytest
from django.conf import settings

from integrations.sandbox import PlatformSandbox
from tests.conftest import BASE_DIR
from tests.scale import cluster
from tests.scale.cluster import GATEWAY, WEB_PORT, WEBHOOK_SECRET, Host

HOSTS = {"web1": "10.213.0.11", "web2": "10.213.0.12", "wrk1": "10.213.0.21",
         "wrk2": "10.213.0.22"}  # fmt: skip
PAYLOAD = (BASE_DIR / "integrations/github/fixtures/pull_request__opened.json").read_bytes()
SIGNATURE = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), PAYLOAD, hashlib.sha256).hexdigest()
WORKFLOW = {
    "name": "scale",
    "trigger": {"event": "github.pull_request.opened"},
    "steps": [{"id": "post", "action": "slack.post_message",
               "with": {"channel": "#eng", "text": "{{ event.delivery_id }}"},
               "retry": {"max_attempts": 5}}],
}  # fmt: skip
SETUP = f"""
from orchestrator.workflows import definitions
definitions.create_workflow({WORKFLOW!r})
"""
FIGURES: dict[str, object] = {}


class Cluster:
    def __init__(self, pg, redis, fake, hosts, env):
        self.pg, self.redis, self.fake, self.hosts, self.env = pg, redis, fake, hosts, env
        self.watchers: dict[str, cluster.Watcher] = {}
        self.control: cluster.Control | None = None

    # --- load -------------------------------------------------------------------------
    def post_events(self, prefix: str, count: int) -> list[str]:
        return self.post_ids([f"{prefix}-{n}" for n in range(count)])

    def post_ids(self, deliveries: list[str], threads: int = 8) -> list[str]:
        """POST signed deliveries, alternating between the web hosts; answer them once
        every one was acknowledged (202)."""
        webs = [self.hosts["web1"].address, self.hosts["web2"].address]
        todo, lock, failures = iter(enumerate(deliveries)), threading.Lock(), []

        def send() -> None:
            connections = {a: http.client.HTTPConnection(a, WEB_PORT, timeout=30) for a in webs}
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                index, delivery = item
                connection = connections[webs[index % 2]]
                connection.request("POST", "/webhooks/github/", body=PAYLOAD, headers={
                    "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": SIGNATURE,
                })  # fmt: skip
                response = connection.getresponse()
                response.read()
                if response.status != 202:
                    failures.append((delivery, response.status))

        workers = [threading.Thread(target=send) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == [], f"deliveries not acknowledged: {failures[:5]}"
        return deliveries

    # --- what the platform saw ----------------------------------------------------------
    def posted(self, prefix: str) -> Counter:
        """Messages the sandbox's Slack stored, by text (a delivery id), for one phase."""
        texts = (item["item"].get("text", "") for item in self.fake.created("slack"))
        return Counter(text for text in texts if text.startswith(prefix + "-"))

    def post_calls(self, prefix: str) -> list:
        return [
            call
            for call in self.fake.calls("slack", "chat.postMessage")
            if isinstance(call.json, dict) and str(call.json.get("text", "")).startswith(prefix)
        ]

    def runs(self, prefix: str) -> dict[str, int]:
        """Runs of the phase's events by status (from the shared database)."""
        rows = self.pg.query(
            "SELECT r.status, count(*) FROM workflows_run r JOIN events_event e"
            " ON e.id = r.event_id WHERE e.delivery_id LIKE %s GROUP BY r.status",
            prefix + "-%",
        )
        return dict(rows)


def host_env(pg, redis, fake) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    return env | fake.env() | {
        "DATABASE_URL": pg.url, "REDIS_URL": redis.url, "DEPLOYMENT_NAME": "scale",
        "SECRET_KEY": "scale-" + "k" * 50, "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "*", "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET, "PYTHONUNBUFFERED": "1",
        "WEB_CONCURRENCY": str(settings.WEB_CONCURRENCY),
        "DJANGO_SETTINGS_MODULE": "contexten_site.settings",
    }  # fmt: skip


@pytest.fixture(scope="session")
def scale_cluster():
    """Network, Postgres, Redis, the sandbox, two web hosts and worker host wrk1 (wrk2 is
    started by the throughput test, which measures one worker host first)."""
    cluster.clean_stale_network()
    shutil.rmtree(cluster.ROOT, ignore_errors=True)
    (cluster.ROOT / "logs").mkdir(parents=True)
    pg, redis = cluster.PrivatePostgres(), cluster.PrivateRedis()
    fake, made = None, None
    try:
        cluster.make_bridge()
        fake = PlatformSandbox(host=GATEWAY).start()  # on the bridge: it must exist first
        for name, address in HOSTS.items():
            cluster.make_namespace(name, address)
        pg.start()
        redis.start()
        env = host_env(pg, redis, fake)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input", "-v0"], cwd=BASE_DIR, env=env,
                       check=True)  # fmt: skip
        subprocess.run([*manage, "shell", "-c", SETUP], cwd=BASE_DIR, env=env, check=True)
        hosts = {name: Host(name, address, env) for name, address in HOSTS.items()}
        made = Cluster(pg, redis, fake, hosts, env)
        hosts["web1"].start_web()
        hosts["web2"].start_web()
        hosts["wrk1"].start_worker(settings.WORKFLOW_RUNNERS)
        for name in ("web1", "web2"):
            wait_http(hosts[name].address)
        yield made
    finally:
        print_figures()
        if made is not None and made.control is not None:
            made.control.stop()
        for name in HOSTS:
            cluster.kill_namespace(cluster.PREFIX + name)
        cluster.clean_stale_network()
        if fake is not None:
            fake.stop()
        redis.stop()
        pg.stop()


def wait_http(address: str) -> None:
    def answers() -> bool:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection(address, WEB_PORT, timeout=2)
            connection.request("GET", "/health/live")
            return connection.getresponse().status == 200
        return False

    cluster.wait_until(answers, 180, f"web host {address}")


def print_figures() -> None:
    if not FIGURES:
        return
    (cluster.ROOT / "figures.json").write_text(json.dumps(FIGURES, indent=2))
    width = max(len(name) for name in FIGURES)
    lines = ["", "scale-out figures (2 web hosts, 2 worker hosts, one Postgres, one Redis)"]
    lines += [f"  {name:<{width}}  {value}" for name, value in FIGURES.items()]
    print("\n".join(lines))
