"""Floods of bad-signature webhooks from one address are throttled before any database work.

Promise: an address that fails verification WEBHOOK_BAD_SIGNATURE_BURST times gets 429 with
`Retry-After` for every further webhook, answered without a single query (counted on every
thread, through Django's cursors and the fast path's async psycopg ones), until its bucket
refills; other addresses, and good deliveries from an address that sends no flood, are never
throttled. Both doors (the ASGI fast path and the Django view) share the one pipeline stage.
The throttle's clock is injected, so refilling takes no sleeping.
"""

import asyncio

import psycopg
import pytest
from django.conf import settings
from django.db.backends import utils
from django.test import Client

from contexten_site.asgi import application
from orchestrator.events import fast_store
from orchestrator.events.throttle import throttle
from tests.integrations.webhooks import (
    compact,
    github_headers,
    stored_events,
    webhook_secrets,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]
FLOODER, NEIGHBOUR = "203.0.113.7", "198.51.100.2"
FORGED = "forged-secret-123456"
PATH = "/webhooks/github/"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(throttle, "clock", fake)
    return fake


@pytest.fixture
def queries(monkeypatch):
    """Every query this process sends, from any thread, sync ORM or async pool."""
    count = [0]
    sync_execute = utils.CursorWrapper._execute_with_wrappers
    async_execute = psycopg.AsyncCursor.execute

    def counted_sync(self, *args, **kwargs):
        count[0] += 1
        return sync_execute(self, *args, **kwargs)

    async def counted_async(self, *args, **kwargs):
        count[0] += 1
        return await async_execute(self, *args, **kwargs)

    monkeypatch.setattr(utils.CursorWrapper, "_execute_with_wrappers", counted_sync)
    monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted_async)
    return count


def delivery(good: bool) -> tuple[bytes, list]:
    body = compact({"zen": "Keep it logically awesome.", "hook_id": 1})
    headers = github_headers("ping", body) if good else github_headers("ping", body, FORGED)
    pairs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    pairs += [(k[5:].replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return body, pairs


async def post(client: str, good: bool) -> tuple[int, dict]:
    """One webhook through the served ASGI application; (status, headers)."""
    body, headers = delivery(good)
    sent, messages = [False], []

    async def receive():
        if sent[0]:
            await asyncio.Event().wait()
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "method": "POST", "path": PATH, "raw_path": PATH.encode(),
        "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
        "server": ("testserver", 80), "client": (client, 40000), "root_path": "",
    }  # fmt: skip
    await application(scope, receive, send)
    start = messages[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


def run(coroutine):
    async def wrapped():
        try:
            return await coroutine
        finally:
            await fast_store.close_pools()

    return asyncio.run(wrapped())


async def statuses(client: str, good: bool, n: int) -> list[int]:
    return [(await post(client, good))[0] for _ in range(n)]


def test_a_flood_is_answered_429_without_a_query_and_refills_with_time(clock, queries):
    burst, per_minute = (
        settings.WEBHOOK_BAD_SIGNATURE_BURST,
        settings.WEBHOOK_BAD_SIGNATURE_PER_MINUTE,
    )
    assert (burst, per_minute) == (20, 60)  # the documented defaults
    assert run(statuses(FLOODER, good=False, n=burst)) == [401] * burst

    queries[0] = 0

    async def flood():
        return [await post(FLOODER, good) for good in [False] * 500 + [True] * 5]

    answers = run(flood())
    assert [status for status, _ in answers] == [429] * 505
    assert {headers["retry-after"] for _, headers in answers} == {"1"}
    assert queries[0] == 0
    assert run(statuses(NEIGHBOUR, good=True, n=3)) == [202] * 3
    assert queries[0] > 0  # the counter sees the stores (so its 0 above means something)

    clock.now += 60 / per_minute  # one token back
    assert run(statuses(FLOODER, good=True, n=1)) == [202]  # and good deliveries spend none
    assert run(statuses(FLOODER, good=False, n=2)) == [401, 429]
    clock.now += 3600  # long quiet: the whole burst is back
    assert run(statuses(FLOODER, good=False, n=burst + 1)) == [401] * burst + [429]
    assert len(stored_events()) == 4


def test_good_deliveries_with_a_few_failures_are_never_throttled(clock):
    async def mixed():
        # 300 good deliveries from one address, one forged among every 20 (15 < the burst).
        return [(await post(FLOODER, good=(n % 20 != 0)))[0] for n in range(300)]

    answers = run(mixed())
    assert answers.count(202) == 285 and answers.count(401) == 15 and 429 not in answers


def test_the_django_view_shares_the_throttle(clock, queries):
    body, _ = delivery(good=False)
    client = Client(REMOTE_ADDR=FLOODER)
    forged = github_headers("ping", body, FORGED)

    def send():
        return client.post("/webhooks/github/", body, "application/json", **forged)

    burst = settings.WEBHOOK_BAD_SIGNATURE_BURST
    assert [send().status_code for _ in range(burst)] == [401] * burst
    queries[0] = 0
    answers = [send() for _ in range(50)]
    assert [a.status_code for a in answers] == [429] * 50 and answers[0]["Retry-After"] == "1"
    assert queries[0] == 0
    # The ASGI door sees the same bucket: the address is already throttled there.
    assert run(statuses(FLOODER, good=True, n=1)) == [429]


def test_a_burst_of_zero_turns_the_throttle_off(clock, settings):
    settings.WEBHOOK_BAD_SIGNATURE_BURST = 0
    assert run(statuses(FLOODER, good=False, n=30)) == [401] * 30
