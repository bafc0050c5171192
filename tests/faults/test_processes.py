"""Process crashes in a served stack, against the suite's own database (both CI halves).

Covered elsewhere, not repeated here:
- kill -9 of every worker mid-step, each side effect once, every run completing after a
  restart: tests/integrations/slack/test_kill_every_process.py;
- kill -9 of the `serve` supervisor takes every descendant with it and frees the port
  (PR_SET_PDEATHSIG at every level): tests/core/test_serve.py.
"""

import os
import signal

import httpx
import pytest

from orchestrator.events.models import Event
from tests.conftest import free_port
from tests.core.test_serve import child_pids, cmdline
from tests.faults.stack import SECRET, Load, served

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def stored() -> set[str]:
    return set(Event.objects.filter(source="github").values_list("delivery_id", flat=True))


def test_kill_9_of_the_web_process_mid_stream_loses_no_acknowledged_delivery(subprocess_env):
    """Promise: every delivery answered 2xx before the web process was killed with -9 is
    stored; the supervisor notices and exits; a restart on the same port finds it free, and
    the platform's retries of the unanswered deliveries are stored once each."""
    env = subprocess_env | {"WEB_CONCURRENCY": "1", "WORKFLOW_RUNNERS": "1", "Q_WORKERS": "2",
                            "GITHUB_WEBHOOK_SECRET": SECRET}  # fmt: skip
    port = free_port()
    with served(env, port=port) as (base, process):
        load = Load(base).start()
        try:
            load.wait_for(100)
            web = next(p for p in child_pids(process.pid) if b"contexten web" in cmdline(p))
            os.kill(web, signal.SIGKILL)
            assert process.wait(timeout=60) == 1  # the supervisor stops with its child
        finally:
            load.finish()
    acknowledged = load.acknowledged()
    assert len(acknowledged) >= 100
    assert acknowledged - stored() == set()
    unanswered = [d for d, status, _ in load.answers if not 200 <= status < 300]
    with served(env, port=port) as (base, _):  # the port is free again
        from integrations.github.sandbox import demo_delivery

        for delivery in unanswered + sorted(acknowledged)[:5]:  # retries, and 5 repeats
            path, body, headers = demo_delivery(SECRET, 0)
            headers["X-GitHub-Delivery"] = delivery
            answer = httpx.post(base + path, content=body, headers=headers, timeout=30)
            assert 200 <= answer.status_code < 300
    rows = Event.objects.filter(source="github")
    assert rows.count() == len(acknowledged | set(unanswered)) == len(stored())
    print(f"web crash: {len(acknowledged)} acknowledged before the kill, all stored;"
          f" {len(unanswered)} unanswered, stored once on retry")  # fmt: skip
