"""`/metrics`: Prometheus text that promtool accepts, behind a token or an IP allowlist, with
counts recorded in worker processes visible at every web process."""

import re
import subprocess
import time

import httpx
import pytest

from orchestrator.health import metrics
from tests.conftest import free_port, start_served, wait_for_http
from tests.integrations.webhooks import GITHUB_SECRET, compact, github_headers, load

pytestmark = pytest.mark.django_db(transaction=True)


def post_issue(client, number: int):
    body = compact({**load("github", "issues__opened"), "number": number})
    return client.post(
        "/webhooks/github/", body, content_type="application/json",
        **github_headers("issues", body),
    )  # fmt: skip


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one sample in exposition text, matched by name and labels."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.rindex("}")]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture(autouse=True)
def loopback_scrapes(settings):
    """Scrapes from the test client's address are let in, as an operator would configure."""
    import ipaddress

    settings.METRICS_ALLOWED_IPS = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def github_secret(settings):
    settings.GITHUB_WEBHOOK_SECRET = GITHUB_SECRET


def test_scrape_counts_webhooks_and_passes_promtool(client, github_secret, tmp_path):
    for number in (1, 2):
        assert post_issue(client, number).status_code == 202
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    stored = sample(text, "contexten_events_total", source="github", status="stored")
    assert stored == 2
    count = sample(text, "contexten_webhook_ingest_seconds_count", source="github", code="202")
    assert count == 2
    assert sample(text, "contexten_breaker_state", platform="slack", state="closed") == 1
    assert sample(text, "contexten_queue_depth", queue="events") == 2
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=response.content, capture_output=True
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_flag_evaluations_are_counted_per_flag_and_reason(api_client, api_token):
    from orchestrator.flags.services import Actor, save_flag

    save_flag({"key": "beta", "enabled": True}, actor=Actor("test"), reason="test")
    for _ in range(3):
        answer = api_client.post(
            "/ofrep/v1/evaluate/flags/beta", {"context": {"targetingKey": "u1"}}, format="json"
        )
        assert answer.status_code == 200
    text = api_client.get("/metrics").content.decode()
    assert sample(text, "contexten_flag_evaluations_total", flag="beta", reason="STATIC") == 3


def test_address_outside_the_allowlist_is_refused_with_a_reason(client):
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert "METRICS_ALLOWED_IPS" in response.json()["error"]


def test_by_default_only_staff_and_the_token_are_let_in(client, settings, staff_user):
    settings.METRICS_ALLOWED_IPS = ()
    assert client.get("/metrics").status_code == 403
    client.force_login(staff_user)
    assert client.get("/metrics").status_code == 200


def test_token_admits_any_address_and_a_wrong_one_does_not(client, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    bearer = "Bearer scrape-token-123"
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=bearer)
    assert ok.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def test_a_failed_flush_keeps_the_counts_for_the_next(monkeypatch):
    from orchestrator.health import metric_stores

    metrics.record_runs("succeeded", 4)
    store = metric_stores.current_store()
    monkeypatch.setattr(store, "add", lambda *a: (_ for _ in ()).throw(OSError("store down")))
    assert metrics.flush() is False
    monkeypatch.undo()
    assert metrics.flush() is True
    totals = metric_stores.current_store().totals()
    assert totals[metrics.total_key(metrics.RUNS.name, "", ("succeeded",), None)] == 4


def test_worker_counts_reach_every_web_process(subprocess_env):
    """Dispatch (status "done") is only ever counted in a django-q2 worker process, and runs
    and steps only in a runner process; two uvicorn processes must both answer them."""
    from orchestrator.workflows import definitions

    definitions.create_workflow({
        "name": "log-issue", "trigger": {"event": "github.issues.opened"},
        "steps": [{"id": "note", "action": "core.log", "with": {"message": "seen"}}],
    })  # fmt: skip
    port = free_port()
    env = {**subprocess_env, "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET, "METRICS_FLUSH_MS": "200"}
    env["METRICS_ALLOWED_IPS"] = "127.0.0.1/32"
    process = start_served(env, port, "--web-workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health/live", timeout_s=120, process=process)
        body = compact(load("github", "issues__opened"))
        headers = {k[5:].replace("_", "-"): v for k, v in github_headers("issues", body).items()}
        answer = httpx.post(
            f"{base}/webhooks/github/", content=body, timeout=10,
            headers={**headers, "Content-Type": "application/json"},
        )  # fmt: skip
        assert answer.json()["duplicate"] is False
        done = wait_for_done(base)
        assert done == 1
        # Each scrape may land on either web process; every one must say the same.
        answers = {scrape_done(base) for _ in range(8)}
        assert answers == {1.0}
        assert wait_for(base, "contexten_workflow_runs_total", status="succeeded") == 1
        steps = sample(httpx.get(f"{base}/metrics", timeout=10).text,
                       "contexten_step_duration_seconds_count", action="core.log")  # fmt: skip
        assert steps == 1
    finally:
        process.terminate()
        process.wait(timeout=30)


def scrape_done(base: str) -> float | None:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sample(text, "contexten_events_total", source="github", status="done")


def wait_for_done(base: str, timeout_s: float = 60) -> float | None:
    return wait_for(base, "contexten_events_total", timeout_s, source="github", status="done")


def wait_for(base: str, name: str, timeout_s: float = 60, **labels) -> float | None:
    """The sample's value once it is non-zero (None if it never is)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = sample(httpx.get(f"{base}/metrics", timeout=10).text, name, **labels)
        if value:
            return value
        time.sleep(0.3)
    return None
