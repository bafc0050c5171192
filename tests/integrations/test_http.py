"""The shared client layer: error classes, Retry-After, pools per loop, the lookup cache."""

import asyncio
import email.utils
import threading

import pytest

from integrations.slack.client import slack
from orchestrator.core import cache, http
from orchestrator.core.http import Answer, retry_after_seconds, status_error

NOW = 1_800_000_000.0


# --- classification ----------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_outages(status):
    error = status_error("github", Answer(status, {}, {"message": "boom"}))
    assert (error.permanent, error.outage, error.status) == (False, True, status)
    assert "boom" in str(error)


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_permanent_and_not_outages(status):
    error = status_error("github", Answer(status, {}, {"message": "nope"}))
    assert (error.permanent, error.outage) == (True, False)


def test_rate_limit_is_transient_but_not_an_outage():
    error = status_error("slack", Answer(429, {"Retry-After": "12"}, None))
    assert (error.permanent, error.outage, error.retry_after) == (False, False, 12.0)


def test_github_403_with_exhausted_budget_is_a_rate_limit():
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}
    error = status_error("github", Answer(403, headers, {"message": "API rate limit exceeded"}))
    assert not error.permanent
    assert error.retry_after > 0


def test_success_and_not_modified_are_not_errors():
    assert status_error("github", Answer(200, {}, {})) is None
    assert status_error("github", Answer(304, {}, None)) is None


# --- Retry-After and rate-limit headers ---------------------------------------------------
def test_retry_after_in_seconds():
    assert retry_after_seconds({"Retry-After": "30"}, now=NOW) == 30.0


def test_retry_after_as_http_date():
    date = email.utils.formatdate(NOW + 45, usegmt=True)
    assert retry_after_seconds({"retry-after": date}, now=NOW) == pytest.approx(45, abs=1)


def test_rate_limit_reset_counts_only_when_budget_is_spent():
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW + 60))}
    left = {"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(NOW + 60))}
    assert retry_after_seconds(spent, now=NOW) == 60.0
    assert retry_after_seconds(left, now=NOW) is None


def test_garbage_retry_after_is_ignored():
    assert retry_after_seconds({"Retry-After": "soon"}, now=NOW) is None


# --- sessions and pools -------------------------------------------------------------------
async def test_one_session_per_platform_per_loop(fake_platforms):
    first, second = await slack(), await slack()
    assert first.session is second.session
    other_loop_session = run_in_new_loop(slack)
    assert other_loop_session is not first.session
    assert other_loop_session.closed  # closed when its loop shut down


def run_in_new_loop(factory):
    found = []

    async def grab():
        found.append((await factory()).session)

    thread = threading.Thread(target=lambda: asyncio.run(grab()))
    thread.start()
    thread.join()
    return found[0]


async def test_pool_caps_connections_per_platform(fake_platforms, transactional_db, settings):
    settings.SLACK_POOL_MAX = 3
    fake_platforms.set_delay("slack", 0.3)
    client = await slack()
    await asyncio.gather(*(client.api("auth.test") for _ in range(9)))
    assert fake_platforms.peak_in_flight() == 3
    assert len(fake_platforms.calls("slack", "auth.test")) == 9


async def test_changed_settings_get_a_new_session(fake_platforms, settings):
    before = (await slack()).session
    settings.SLACK_BOT_TOKEN = "xoxb-other"
    assert (await slack()).session is not before


# --- the two-level cache ------------------------------------------------------------------
def test_lru_evicts_the_least_recently_used_beyond_its_bound():
    lru = cache.LRU(3)
    for key in "abc":
        lru.set(key, cache.Entry(key))
    lru.get("a")
    lru.set("d", cache.Entry("d"))
    assert len(lru) == 3
    assert lru.get("b") is None
    assert [lru.get(k).value for k in "acd"] == ["a", "c", "d"]


def test_local_cache_size_follows_the_setting(settings):
    settings.PLATFORM_CACHE_SIZE = 2
    for key in "abc":
        cache.local_cache().set(key, cache.Entry(key))
    assert len(cache.local_cache()) == 2


async def test_lookup_serves_from_process_then_shared_cache(transactional_db):
    fetched = []

    async def fetch(stale):
        fetched.append(stale)
        return cache.Entry({"id": "C1"}, etag='"v1"')

    assert await cache.lookup("slack:channel:test", fetch) == {"id": "C1"}
    assert await cache.lookup("slack:channel:test", fetch) == {"id": "C1"}
    cache.clear_local()  # as a second process would be: only the shared level has it
    assert await cache.lookup("slack:channel:test", fetch) == {"id": "C1"}
    assert fetched == [None]


async def test_stale_entry_is_handed_to_the_fetcher_for_revalidation(transactional_db):
    seen = []

    async def fetch(stale):
        seen.append(stale and stale.etag)
        return cache.Entry("body", etag='"v1"')

    await cache.lookup("github:repo:x", fetch, ttl=0)
    await cache.lookup("github:repo:x", fetch, ttl=0)
    assert seen == [None, '"v1"']


def test_sessions_of_closed_loops_are_forgotten():
    async def make():
        return await http.session_for("slack", "http://127.0.0.1:9", {})

    session = asyncio.run(make())
    http._forget_closed_loops()
    assert session.closed
    assert all(not loop.is_closed() for loop, _ in http._sessions.values())


def test_non_json_error_page_becomes_a_short_message():
    page = b"<html><body>502 Bad Gateway</body></html>" * 20
    error = status_error("github", Answer(502, {}, http.decode(page)))
    assert "502 Bad Gateway" in str(error)
    assert len(str(error)) < 300
