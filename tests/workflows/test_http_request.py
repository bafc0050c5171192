"""core.http_request: the SSRF guard, Retry-After in both forms, a breaker per upstream host,
and a pool whose waiting never eats a step's timeout. Every call goes to the real fake
platform server on loopback, which the fixture allows explicitly (HTTP_REQUEST_ALLOWLIST)."""

import asyncio
import email.utils

import pytest

from orchestrator.core.retry_after import retry_after_seconds
from orchestrator.health import breakers
from orchestrator.workflows import outbound
from orchestrator.workflows.actions import ActionError, BreakerOpen
from orchestrator.workflows.models import Run

pytestmark = pytest.mark.django_db(transaction=True)
NOW = 1_800_000_000.0


def post(url: str, token: str) -> dict:
    return {
        "method": "POST",
        "url": url,
        "headers": {"Authorization": f"Bearer {token}"},
        "json": {"channel": "#eng", "text": "hello"},
    }


def slack(fake, host: str = "127.0.0.1") -> dict:
    url = f"http://{host}:{fake.port}/slack/api/chat.postMessage"
    return post(url, fake.SLACK_TOKEN)


# --- the SSRF guard -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/slack/api/chat.postMessage",  # loopback
        "http://localhost:{port}/slack/api/chat.postMessage",  # a name resolving to loopback
        "http://[::1]:{port}/slack/api/chat.postMessage",  # IPv6 loopback
        "http://169.254.169.254/latest/meta-data/",  # link-local: cloud metadata
        "http://10.1.2.3/",  # private
        "http://0.0.0.0:{port}/",  # unspecified, which connects to this host
    ],
)
async def test_internal_addresses_are_refused_before_any_connection_unless_allowed(
    run_action, fake_platforms, settings, url
):
    settings.HTTP_REQUEST_ALLOWLIST = []
    with pytest.raises(ActionError) as caught:
        await run_action("core.http_request", {"url": url.format(port=fake_platforms.port)})
    assert caught.value.permanent
    assert "HTTP_REQUEST_ALLOWLIST" in str(caught.value)
    assert fake_platforms.calls() == []


@pytest.mark.parametrize("allowlist", [["127.0.0.1"], ["127.0.0.0/8"], ["localhost"]])
async def test_an_allowlisted_host_or_network_is_reached(
    run_action, fake_platforms, settings, allowlist
):
    settings.HTTP_REQUEST_ALLOWLIST = allowlist
    host = "localhost" if allowlist == ["localhost"] else "127.0.0.1"
    output = await run_action("core.http_request", slack(fake_platforms, host))
    assert output["status"] == 200
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 1


def test_public_addresses_pass_and_mapped_or_shared_internal_ones_do_not(settings):
    settings.HTTP_REQUEST_ALLOWLIST = []
    assert outbound.permitted("example.com", "93.184.215.14")
    assert outbound.permitted("example.com", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert not outbound.permitted("evil.example", "::ffff:127.0.0.1")
    assert not outbound.permitted("evil.example", "100.64.0.1")
    assert not outbound.permitted("evil.example", "fe80::1")
    assert not outbound.permitted("evil.example", "192.168.0.10")


# --- Retry-After --------------------------------------------------------------------------
def test_retry_after_reads_seconds_and_http_dates_and_refuses_nonsense():
    later = email.utils.formatdate(NOW + 90, usegmt=True)
    assert retry_after_seconds({"Retry-After": "120"}, now=NOW) == 120.0
    assert retry_after_seconds({"retry-after": later}, now=NOW) == pytest.approx(90, abs=1)
    past = email.utils.formatdate(NOW - 90, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, now=NOW) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}, now=NOW) is None
    assert retry_after_seconds({"Retry-After": "inf"}, now=NOW) is None


async def test_a_429_is_transient_with_the_upstreams_retry_after(run_action, fake_platforms):
    fake_platforms.rate_limit_next("slack", 1, retry_after=7)
    with pytest.raises(ActionError) as caught:
        await run_action("core.http_request", slack(fake_platforms))
    assert not caught.value.permanent
    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0


# --- a breaker per upstream host ----------------------------------------------------------
async def test_a_failing_host_opens_its_own_breaker_and_other_hosts_still_pass(
    run_action, fake_platforms, settings
):
    settings.HTTP_REQUEST_ALLOWLIST = ["127.0.0.1", "localhost"]
    settings.BREAKER_MIN_CALLS = settings.BREAKER_WINDOW = 3
    settings.BREAKER_SYNC_MS = 0
    fake_platforms.set_down("slack")
    for _ in range(3):
        with pytest.raises(ActionError):
            await run_action("core.http_request", slack(fake_platforms))
    sent = len(fake_platforms.calls())
    with pytest.raises(BreakerOpen):
        await run_action("core.http_request", slack(fake_platforms))
    assert len(fake_platforms.calls()) == sent, "an open breaker sends nothing"
    down = outbound.breaker_key("127.0.0.1", fake_platforms.port)
    assert await asyncio.to_thread(breakers.breaker_state, down) == "open"
    fake_platforms.set_down("slack", False)
    output = await run_action("core.http_request", slack(fake_platforms, "localhost"))
    assert output["status"] == 200, "another host has its own breaker"


def test_a_long_host_name_still_gets_a_breaker_key_that_fits_its_column():
    key = outbound.breaker_key("a" * 200 + ".example.com", 443)
    assert key.startswith("http:") and len(key) <= outbound.BREAKER_KEY_MAX
    assert key != outbound.breaker_key("b" * 200 + ".example.com", 443)


# --- the pool -----------------------------------------------------------------------------
def test_steps_waiting_for_a_connection_do_not_time_out_into_duplicate_calls(
    save_workflow, drive, fake_platforms, settings
):
    # One connection, 0.3 s per call: the last of six calls starts after 1.5 s. Each step's
    # 1.2 s timeout must count from when it holds a connection, or late calls time out after
    # they were sent and their retries call the upstream twice. (A call has 0.9 s to spare,
    # so a loaded machine does not make it time out on its own.)
    settings.HTTP_REQUEST_POOL_MAX = 1
    fake_platforms.set_delay("slack", 0.3)
    step = {"id": "hook", "action": "core.http_request", "with": slack(fake_platforms),
            "timeout": "1200ms", "retry": {"max_attempts": 3, "initial": "100ms"}}  # fmt: skip
    save_workflow({"name": "hooks", "trigger": {"manual": True}, "steps": [step]})
    from orchestrator.workflows import engine
    from orchestrator.workflows.models import StepRun, Workflow

    workflow = Workflow.objects.select_related("current_version").get()
    for n in range(6):
        engine.create_run(workflow, trigger="manual", input={"n": n})
    drive()
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(StepRun.objects.values_list("attempts", flat=True)) == {1}
    keys = [call.headers.get("Idempotency-Key") for call in fake_platforms.calls("slack")]
    assert len(keys) == 6 and len(set(keys)) == 6
    assert fake_platforms.peak_in_flight() == 1
