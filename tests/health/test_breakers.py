"""Circuit breakers: the state machine, the shared store, the clients, health and processes."""

import asyncio
import json
import subprocess
import sys

import pytest
from django.conf import settings

from orchestrator.health import breakers
from orchestrator.health.breakers import BreakerConfig, BreakerRecord
from orchestrator.workflows.actions import ActionError, BreakerOpen

CONFIG = BreakerConfig(failure_rate=50, window=10, min_calls=4, open_seconds=30, probes=2)
SMALL = {  # settings for a breaker that opens after 4 calls and waits a moment
    "BREAKER_WINDOW": 4,
    "BREAKER_MIN_CALLS": 4,
    "BREAKER_FAILURE_RATE": 50,
    "BREAKER_OPEN_SECONDS": 0.5,
    "BREAKER_HALF_OPEN_PROBES": 1,
    "BREAKER_SYNC_MS": 0,
}


@pytest.fixture
def small_breakers(settings):
    for name, value in SMALL.items():
        setattr(settings, name, value)
    breakers.reset_local()
    yield settings
    breakers.reset_local()


# --- the pure state machine ------------------------------------------------------------
def test_breaker_stays_closed_below_minimum_calls_even_when_all_fail():
    record = BreakerRecord()
    record.apply(0, 3, now=0, config=CONFIG)
    assert record.state == "closed"


def test_breaker_opens_when_failure_rate_reaches_threshold_over_minimum_calls():
    record = BreakerRecord()
    record.apply(2, 2, now=100, config=CONFIG)
    assert record.state == "open"
    assert record.open_until == 130


def test_breaker_stays_closed_below_failure_rate():
    record = BreakerRecord()
    record.apply(7, 3, now=0, config=CONFIG)
    assert record.state == "closed"


def test_sliding_window_forgets_old_failures():
    record = BreakerRecord()
    record.apply(0, 3, now=0, config=CONFIG)
    record.apply(10, 0, now=1, config=CONFIG)
    record.apply(0, 3, now=2, config=CONFIG)
    assert record.state == "closed"  # 3 failures out of the last 10


def test_open_breaker_half_opens_after_wait_and_limits_probes():
    record = BreakerRecord(state="open", open_until=50)
    assert not record.claim_probe(now=49, config=CONFIG)
    assert [record.claim_probe(now=50, config=CONFIG) for _ in range(3)] == [True, True, False]
    assert record.state == "half_open"


def test_half_open_closes_when_probes_succeed():
    record = BreakerRecord(state="open", open_until=50)
    record.claim_probe(now=51, config=CONFIG)
    record.apply(2, 0, now=52, config=CONFIG)
    assert record.state == "closed"
    assert record.window == ""


def test_half_open_reopens_when_probes_fail():
    record = BreakerRecord(state="open", open_until=50)
    record.claim_probe(now=51, config=CONFIG)
    record.apply(1, 1, now=52, config=CONFIG)
    assert record.state == "open"
    assert record.open_until == 82


def test_half_open_reissues_probes_that_never_reported():
    record = BreakerRecord(state="open", open_until=50)
    record.claim_probe(now=51, config=CONFIG)
    record.claim_probe(now=51, config=CONFIG)
    assert not record.claim_probe(now=60, config=CONFIG)
    assert record.claim_probe(now=51 + CONFIG.open_seconds, config=CONFIG)


# --- through the clients, against the fake platforms --------------------------------------
async def post(run_action):
    return await run_action("slack.post_message", {"channel": "#eng", "text": "x"})


async def test_breaker_opens_after_outage_and_holds_calls_back(
    run_action, fake_platforms, small_breakers
):
    small_breakers.BREAKER_OPEN_SECONDS = 30
    fake_platforms.set_down("slack")
    for _ in range(4):
        with pytest.raises(ActionError):
            await post(run_action)
    with pytest.raises(BreakerOpen) as caught:
        await post(run_action)
    assert 0 < caught.value.retry_after <= 30
    assert len(fake_platforms.calls("slack")) == 4  # the fifth never left the process
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "open"


async def test_breaker_closes_after_a_successful_half_open_probe(
    run_action, fake_platforms, small_breakers
):
    fake_platforms.set_down("slack")
    for _ in range(4):
        with pytest.raises(ActionError):
            await post(run_action)
    fake_platforms.set_down("slack", False)
    await asyncio.sleep(0.6)  # the open wait
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "half_open"
    output = await post(run_action)
    assert output["ts"]
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "closed"


async def test_client_errors_and_rate_limits_do_not_open_the_breaker(
    run_action, fake_platforms, small_breakers
):
    fake_platforms.rate_limit_next("slack", 2, retry_after=1)
    for channel in ("#a", "#b", "#c", "#d"):
        with pytest.raises(ActionError):
            await run_action("slack.post_message", {"channel": channel, "text": "x"})
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "closed"


# --- health ------------------------------------------------------------------------------
def open_breaker(platform: str) -> None:
    config = BreakerConfig.from_settings()
    store = breakers._store()
    store.apply(platform, 0, config.window, config)


def test_health_reports_open_breaker_as_warn_and_closed_as_pass(client, db, small_breakers):
    small_breakers.BREAKER_OPEN_SECONDS = 30
    open_breaker("github")
    checks = json.loads(client.get("/health/").content)["checks"]
    assert checks["github:breaker"][0]["status"] == "warn"
    assert checks["github:breaker"][0]["observedValue"] == "open"
    assert checks["slack:breaker"][0]["status"] == "pass"


def test_reset_closes_an_open_breaker(db, small_breakers):
    open_breaker("linear")
    breakers.reset("linear")
    assert breakers.breaker_state("linear") == "closed"


# --- across processes --------------------------------------------------------------------
CHILD = """
import asyncio, os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contexten_site.settings")
django.setup()
from orchestrator.health import breakers
async def fail_four():
    for _ in range(4):
        await breakers.record("slack", success=False)
if sys.argv[1] == "open":
    asyncio.run(fail_four())
print(breakers.breaker_state("slack"))
"""


def run_child(env: dict, command: str) -> str:
    child_env = {**env, **{name: str(value) for name, value in SMALL.items()}}
    child_env["BREAKER_OPEN_SECONDS"] = "30"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, command], env=child_env, capture_output=True,
        text=True, timeout=60, cwd=str(settings.BASE_DIR),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_breaker_opened_in_another_process_is_open_here(subprocess_env, small_breakers):
    small_breakers.BREAKER_OPEN_SECONDS = 30
    assert run_child(subprocess_env, "open") == "open"
    assert breakers.breaker_state("slack") == "open"
    with pytest.raises(BreakerOpen):
        asyncio.run(breakers.before_call("slack"))


def test_breaker_reset_here_is_closed_in_another_process(subprocess_env, small_breakers):
    small_breakers.BREAKER_OPEN_SECONDS = 30
    open_breaker("slack")
    assert run_child(subprocess_env, "read") == "open"
    breakers.reset("slack")
    assert run_child(subprocess_env, "read") == "closed"


# --- settings ------------------------------------------------------------------------------
def test_default_breaker_settings_pass_the_system_check():
    assert breakers.check_settings() == []


def test_min_calls_above_window_fails_the_system_check(settings):
    settings.BREAKER_MIN_CALLS = 50
    settings.SLACK_POOL_MAX = 0
    messages = [error.msg for error in breakers.check_settings()]
    assert messages == [
        "BREAKER_MIN_CALLS exceeds BREAKER_WINDOW: the breaker could never open",
        "SLACK_POOL_MAX must be at least 1",
    ]


# --- admin ---------------------------------------------------------------------------------
def test_admin_lists_breakers_with_live_state_and_resets_them(client, staff_user, small_breakers):
    from orchestrator.health.models import BreakerState

    # The 0002 migration seeds these; transactional tests flush them, so make sure here.
    slack_row, _ = BreakerState.objects.get_or_create(platform="slack")
    BreakerState.objects.get_or_create(platform="github")
    small_breakers.BREAKER_OPEN_SECONDS = 30
    open_breaker("slack")
    client.force_login(staff_user)
    page = client.get("/admin/health/breakerstate/")
    assert page.status_code == 200
    assert b'<td class="field-live_state">open</td>' in page.content
    assert b'<td class="field-live_state">closed</td>' in page.content
    answer = client.post(
        "/admin/health/breakerstate/",
        {"action": "reset_breakers", "_selected_action": [slack_row.pk]},
        follow=True,
    )
    assert b"Closed: slack." in answer.content
    assert breakers.breaker_state("slack") == "closed"


async def test_half_open_lets_only_the_permitted_probes_through(
    run_action, fake_platforms, small_breakers
):
    fake_platforms.set_down("slack")
    for _ in range(4):
        with pytest.raises(ActionError):
            await post(run_action)
    fake_platforms.set_down("slack", False)
    fake_platforms.set_delay("slack", 0.5)  # the probe is still in flight while others try
    await asyncio.sleep(0.6)
    outcomes = await asyncio.gather(*(post(run_action) for _ in range(3)), return_exceptions=True)
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert sum(isinstance(o, BreakerOpen) for o in outcomes) == 2
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 5


# --- while failures mount (closed, but the last outcome failed) ---------------------------
async def test_after_a_failure_only_the_probe_count_of_calls_may_be_in_flight(
    transactional_db, small_breakers
):
    small_breakers.BREAKER_HALF_OPEN_PROBES = 2
    small_breakers.BREAKER_MIN_CALLS = 4
    await breakers.before_call("slack")
    await breakers.record("slack", success=False)
    breakers.release("slack")
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "closed"  # not open yet
    await breakers.before_call("slack")
    await breakers.before_call("slack")
    with pytest.raises(BreakerOpen) as caught:
        await breakers.before_call("slack")
    assert caught.value.retry_after <= 1.5
    assert breakers.in_flight("slack") == 2
    await breakers.record("slack", success=True)  # the platform answers again: cap lifted
    breakers.release("slack")
    for _ in range(3):
        await breakers.before_call("slack")
    assert breakers.in_flight("slack") == 4


async def test_a_call_cancelled_by_its_timeout_is_released(run_action, fake_platforms, settings):
    settings.PLATFORM_HTTP_TIMEOUT = 30
    fake_platforms.set_delay("slack", 2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            run_action("slack.post_message", {"channel": "#eng", "text": "x"}), 0.3
        )
    assert breakers.in_flight("slack") == 0


async def test_outcomes_are_kept_when_the_shared_store_fails_to_fold_them(
    transactional_db, small_breakers, monkeypatch
):
    from orchestrator.health import breaker_stores

    store = breaker_stores.current_store()
    real_apply = store.apply

    def locked(*args):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(store, "apply", locked)
    await breakers.record("slack", success=False)  # the fold fails: the failure waits
    monkeypatch.setattr(store, "apply", real_apply)
    for _ in range(3):
        await breakers.record("slack", success=False)
    assert await asyncio.to_thread(breakers.breaker_state, "slack") == "open"  # all 4 counted
