"""The ASGI webhook fast path: same answers as the Django view, group commit, streaming cap."""

import asyncio
import json
import threading

import pytest
from django.db import connection, connections

from contexten_site.asgi import application
from orchestrator.events import fast_store
from orchestrator.events.store import store_payload
from tests.events.helpers import queued_dispatches
from tests.integrations.webhooks import (
    compact,
    github_headers,
    load,
    stored_events,
    webhook_secrets,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]


def asgi_headers(django_headers: dict, body: bytes, length=True) -> list:
    """Test-client style HTTP_X_FOO headers → raw ASGI header pairs."""
    pairs = [(b"content-type", b"application/json")]
    if length:
        pairs.append((b"content-length", str(len(body)).encode()))
    for name, value in django_headers.items():
        pairs.append((name[5:].replace("_", "-").lower().encode(), value.encode()))
    return pairs


async def call(path: str, body: bytes, headers: list, method="POST", chunks=None) -> tuple:
    """Drive the ASGI application once; return (status, body bytes)."""
    pending = list(chunks or [body])
    messages = []

    async def receive():
        if not pending:  # the client stays connected until the answer is sent
            await asyncio.Event().wait()
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": headers, "http_version": "1.1", "scheme": "http",
        "server": ("testserver", 80), "client": ("127.0.0.1", 1234), "root_path": "",
    }  # fmt: skip
    await application(scope, receive, send)
    status = messages[0]["status"]
    return status, b"".join(m.get("body", b"") for m in messages[1:])


def run(coroutine):
    """Run on a fresh loop, then close that loop's pool and doorbell client."""

    async def wrapped():
        try:
            return await coroutine
        finally:
            await fast_store.close_pools()

    return asyncio.run(wrapped())


def signed_post(payload: dict, delivery: str | None = None, event="pull_request"):
    body = compact(payload)
    return call(
        "/webhooks/github/",
        body,
        asgi_headers(github_headers(event, body, delivery=delivery), body),
    )


def test_fast_path_stores_a_signed_delivery_and_rings_the_doorbell():
    status, body = run(signed_post(load("github", "pull_request__opened"), "fast-1"))
    assert status == 202
    [event] = stored_events()
    assert json.loads(body) == {"id": event.id, "duplicate": False}
    assert (event.type, event.delivery_id) == ("github.pull_request.opened", "fast-1")
    assert queued_dispatches() == [event.id]


def test_concurrent_duplicates_store_one_row_and_answer_duplicate_to_the_rest():
    payload = load("github", "push__main")

    async def burst():
        return await asyncio.gather(
            *[signed_post(payload, "same-delivery", "push") for _ in range(24)]
        )

    answers = run(burst())
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 23 + [202]
    [event] = stored_events()
    assert {json.loads(body)["id"] for _, body in answers} == {event.id}


def test_concurrent_distinct_deliveries_are_all_stored():
    payload = load("github", "push__main")

    async def burst():
        return await asyncio.gather(*[signed_post(payload, f"d-{n}", "push") for n in range(40)])

    answers = run(burst())
    assert [status for status, _ in answers] == [202] * 40
    assert len({json.loads(body)["id"] for _, body in answers}) == 40
    assert sorted(queued_dispatches()) == sorted(e.id for e in stored_events())


def test_unstorable_payload_fails_alone_in_a_burst():
    good = load("github", "push__main")
    bad = {**good, "note": "nul \u0000"}

    async def burst():
        calls = [signed_post(good, f"ok-{n}", "push") for n in range(5)]
        return await asyncio.gather(*calls, signed_post(bad, "bad", "push"))

    answers = run(burst())
    expected_bad = 400 if connection.vendor == "postgresql" else 202
    assert [status for status, _ in answers] == [202] * 5 + [expected_bad]
    assert len(stored_events()) == (5 if expected_bad == 400 else 6)


def test_streamed_body_without_length_is_cut_off_at_the_limit(settings):
    settings.WEBHOOK_MAX_BYTES = 10_000
    body = compact({"padding": "x" * 50_000})
    headers = asgi_headers(github_headers("push", body), body, length=False)
    chunks = [body[i : i + 4096] for i in range(0, len(body), 4096)]
    status, reply = run(call("/webhooks/github/", body, headers, chunks=chunks))
    assert status == 413
    assert b"WEBHOOK_MAX_BYTES" in reply
    assert stored_events() == []


def test_refusals_match_the_django_view():
    body = compact(load("github", "ping__default"))
    bad = asgi_headers(github_headers("ping", body, secret="wrong"), body)
    assert run(call("/webhooks/github/", body, bad))[0] == 401
    assert (
        run(call("/github/events", b"[1]", asgi_headers(github_headers("ping", b"[1]"), b"[1]")))[0]
        == 400
    )


def test_other_methods_and_paths_pass_through_to_django():
    assert run(call("/webhooks/github/", b"", [], method="GET"))[0] == 405
    assert run(call("/health/live", b"", [], method="GET"))[0] == 200


def test_store_failure_answers_503_so_the_platform_retries(monkeypatch):
    async def broken(*args):
        raise ConnectionError("database is down")

    def broken_in_thread(*args):
        raise ConnectionError("database is down")

    monkeypatch.setattr(fast_store, "store_event_async", broken)
    monkeypatch.setattr("orchestrator.events.ingest.store_in_thread", broken_in_thread)
    status, reply = run(signed_post(load("github", "ping__default"), "down-1", "ping"))
    assert status == 503
    assert b"retry" in reply


def test_racing_threads_store_one_row_through_the_unique_constraint():
    """Real concurrency on the database: every thread has its own connection."""
    barrier = threading.Barrier(8)
    outcomes = []

    def deliver():
        barrier.wait()
        try:
            outcomes.append(store_payload("github", "github.push", "raced", {"n": 1}).duplicate)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] + [True] * 7
    assert len(stored_events()) == 1
