"""The live dashboard in a real Chromium against a served control plane: every panel renders,
webhooks move its counters, and a platform outage shows as an open breaker and a firing
alert, then clears. Waits are on what the page shows (pushed over /ws/dashboard/), never on
time."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from orchestrator.health import breakers, detect
from orchestrator.health.models import RecoveryAction
from orchestrator.workflows import definitions, engine
from tests.browser.conftest import log_in
from tests.conftest import free_port, start_served, wait_for_http
from tests.integrations.webhooks import GITHUB_SECRET, compact, github_headers, load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PANELS = ["throughput", "ingest-latency", "step-latency", "components", "breakers", "extensions",
          "queues", "alerts", "recoveries", "capacity", "failures", "rollouts"]  # fmt: skip
TILES = ["Health", "Events/s", "Runs/s", "Event queue", "Step queue", "In flight", "MTTR",
         "Recovery success", "Headroom"]  # fmt: skip
WAIT_MS = 30_000


@pytest.fixture
def dashboard(subprocess_env, fake_platforms, staff_user, browser_page):
    """A served control plane pointed at the fake platforms, and a staff browser on its
    dashboard."""
    env = {**subprocess_env, **fake_platforms.env(), "GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
           "DASHBOARD_PUSH_MS": "250", "METRICS_FLUSH_MS": "250"}  # fmt: skip
    port = free_port()
    process = start_served(env, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/health/live", timeout_s=120, process=process)
        log_in(browser_page, base_url, "operator", "operator-pass-123")
        browser_page.goto(f"{base_url}/dashboard/")
        browser_page.wait_for_selector("#ws-state:text('live as operator')", timeout=WAIT_MS)
        yield base_url, browser_page
    finally:
        process.terminate()
        process.wait(timeout=30)


def send_issue(base_url: str, number: int) -> None:
    body = compact({**load("github", "issues__opened"), "number": number})
    headers = {k[5:].replace("_", "-"): v for k, v in github_headers("issues", body).items()}
    answer = httpx.post(
        f"{base_url}/webhooks/github/", content=body, timeout=10,
        headers={**headers, "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text


def test_dashboard_shows_every_panel_moves_with_webhooks_and_follows_an_outage(
    dashboard, fake_platforms
):
    """One served control plane for all three (starting one costs most of the time)."""
    sees_every_panel(dashboard)
    counters_move_with_webhooks(dashboard)
    shows_an_outage_then_clears(dashboard, fake_platforms)


def sees_every_panel(dashboard):
    _, page = dashboard
    for panel in PANELS:
        page.wait_for_selector(f"#panel-{panel} .body > *, #panel-{panel} .chart svg")
    for name in TILES:
        assert page.inner_text(f"[data-tile='{name}'] .value").strip()
    assert page.get_attribute("#overall", "data-status") in {"pass", "warn", "fail"}
    assert page.locator("[data-breaker]").count() == len(breakers.platforms())
    assert page.locator("[data-extension]").count() >= 1
    assert page.locator("[data-component='database:responseTime']").count() == 1


def counters_move_with_webhooks(dashboard):
    base_url, page = dashboard
    before = int(page.get_attribute("[data-tile='Events/s']", "data-total"))
    for number in range(3):
        send_issue(base_url, 500 + number)
    page.wait_for_function(
        f"Number(document.querySelector(\"[data-tile='Events/s']\").dataset.total) >= {before + 3}",
        timeout=WAIT_MS,
    )
    page.wait_for_selector("[data-queue='events'] [data-depth]")


def shows_an_outage_then_clears(dashboard, fake_platforms):
    """The served workers run the steps; detection runs here, as its schedule would."""
    _, page = dashboard
    # The seeded entry, without its cooldown (transactional tests flush seeded rows away).
    RecoveryAction.objects.update_or_create(
        name="close-breaker-when-platform-answers",
        defaults={"trigger_check": "*:breaker", "trigger_status": "warn",
                  "action": "reset_breaker", "params": {"when_api_answers": True},
                  "cooldown_seconds": 0, "max_attempts": 20},
    )  # fmt: skip
    fake_platforms.set_down("slack")
    start_runs(20)
    page.wait_for_selector("[data-breaker='slack'][data-state='open']", timeout=WAIT_MS)
    for _ in range(2):  # hysteresis: two rounds before a check's verdict changes
        detect_now()
    page.wait_for_selector(
        "[data-alert='check:slack:breaker'][data-state='firing']", timeout=WAIT_MS
    )
    assert page.get_attribute("#overall", "data-status") in {"warn", "fail"}

    fake_platforms.set_down("slack", False)
    detect_now()  # the recovery catalog closes the breaker once Slack answers
    page.wait_for_selector("[data-breaker='slack'][data-state='closed']", timeout=WAIT_MS)
    for _ in range(3):
        detect_now()
    page.wait_for_selector(
        "[data-alert='check:slack:breaker'][data-state='resolved']", timeout=WAIT_MS
    )
    assert page.locator("[data-recovery]").count() >= 1


def detect_now() -> None:
    """One round of the detection job, on its own thread: it runs its own event loop, and
    Playwright's sync API holds this thread's."""
    from django.db import connection

    def run() -> None:
        try:
            detect.run_detection()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run).result()


def start_runs(n: int) -> None:
    workflow = definitions.create_workflow(
        {"name": "notify", "trigger": {"manual": True},
         "steps": [{"id": "post", "action": "slack.post_message",
                    "with": {"channel": "#eng", "text": "run {{ run.id }}"},
                    "retry": {"max_attempts": 5, "initial": "100ms", "max": "1s"}}]}
    )  # fmt: skip
    for _ in range(n):
        engine.create_run(workflow, trigger="manual")
