"""The one ingest pipeline: both doors (the Django view and the ASGI fast path) run `ingest`.

throttle (`admit`, which each door asks first, before it even looks the platform up) → method
→ declared size → body (capped as it streams) → `verify_and_parse` → store → answer.
The doors differ only in how they read the request and write the answer, and in one choice:
`on_loop`. The ASGI fast path runs on the server's long-lived event loop, so on Postgres it
stores through that loop's async pool and group commit. The Django view may run on a loop made
for one request (WSGI, the test client), where a pool would die with the loop, so it stores
through the ORM on a worker thread. Both build the same INSERT and answer the same `Answer`.
"""

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db import DatabaseError, DataError, close_old_connections

from orchestrator.events import fast_store
from orchestrator.events.store import Stored, store_event
from orchestrator.events.throttle import throttle
from orchestrator.events.webhooks import (
    Answer,
    Delivery,
    Refusal,
    check_size,
    refuse,
    verify_and_parse,
    webhook_secret_async,
)
from orchestrator.health import metrics

logger = logging.getLogger("contexten.webhooks")
STORE_FAILED = {"error": "cannot store the event right now; retry later"}
RETRY_AFTER_S = 5  # a database restart takes a few seconds; platforms retry on their own


def unavailable() -> Answer:
    """503 with Retry-After: nothing was stored, so nothing was acknowledged."""
    return Answer(503, STORE_FAILED, {"Retry-After": str(RETRY_AFTER_S)})


@dataclass(frozen=True)
class Inbound:
    """One webhook request as either door sees it."""

    platform: str
    method: str
    headers: Mapping[str, str]  # looked up by lower-case name
    # Read the whole body; raise Refusal(413) once it passes WEBHOOK_MAX_BYTES.
    read_body: Callable[[], Awaitable[bytes]]
    client: str = ""  # the peer's address: what the bad-signature throttle counts by


def admit(platform: str, client: str) -> Answer | None:
    """The pipeline's first stage, before any body read, lookup or query: a 429 for an
    address that spent its bad-signature burst (`events/throttle.py`), else None."""
    retry_after = throttle.retry_after(client)
    if retry_after is None:
        return None
    metrics.record_delivery(platform, 429, 0.0)
    return Answer(
        429,
        {"error": "too many deliveries with a bad signature from this address; retry later"},
        {"Retry-After": str(retry_after)},
    )


async def ingest(inbound: Inbound, *, on_loop: bool) -> Answer:
    """Verify, dedupe and store one delivery; answer per SPEC §4. Never raises."""
    started = time.perf_counter()
    answer = await answer_delivery(inbound, on_loop=on_loop)
    metrics.record_delivery(inbound.platform, answer.status, time.perf_counter() - started)
    return answer


async def answer_delivery(inbound: Inbound, *, on_loop: bool) -> Answer:
    platform = inbound.platform
    if inbound.method != "POST":
        refused = refuse(platform, Refusal(405, "method-not-allowed", "use POST"))
        return Answer(405, refused.body, {"Allow": "POST"})
    try:
        check_size(platform, inbound.headers.get("content-length"))
        body = await inbound.read_body()
        secret = await webhook_secret_async(platform)
        delivery = verify_and_parse(platform, inbound.headers, body, secret=secret)
    except Refusal as refusal:
        if refusal.status == 401:  # signature or timestamp: what a forger gets
            throttle.failed(inbound.client)
        return refuse(platform, refusal)
    except DatabaseError:  # the secret lives in the configuration rows: the database is down
        logger.warning("%s.webhook.secret-unavailable", platform)
        return unavailable()
    if delivery.reply is not None:  # answered as-is, not stored (a url_verification challenge)
        return Answer(200, delivery.reply)
    try:
        if on_loop and fast_store.enabled():
            return await store_on_loop(platform, delivery)
        return await sync_to_async(store_in_thread, thread_sensitive=False)(platform, delivery)
    except Exception:  # the database or broker is down: the platform will retry
        logger.exception("%s.webhook.store-failed", platform)
        return unavailable()


async def store_on_loop(platform: str, delivery: Delivery) -> Answer:
    """Postgres: store through the loop's async pool and group commit."""
    try:
        stored = await fast_store.store_event_async(
            platform, delivery.type, delivery.delivery_id, delivery.data_json
        )
    except fast_store.UnstorablePayload as exc:
        return unstorable(platform, exc)
    return stored_answer(platform, delivery, stored)


def store_in_thread(platform: str, delivery: Delivery) -> Answer:
    """Store through the ORM from a worker thread, then hand that thread's connection back:
    Django closes connections only on the thread that finishes the request."""
    try:
        stored = store_event(platform, delivery.type, delivery.delivery_id, delivery.data_json)
    except DataError as exc:  # e.g. Postgres refuses \u0000 in jsonb
        return unstorable(platform, exc)
    finally:
        close_old_connections()
    return stored_answer(platform, delivery, stored)


def stored_answer(platform: str, delivery: Delivery, stored: Stored) -> Answer:
    metrics.record_event(platform, delivery.type, "duplicate" if stored.duplicate else "stored")
    if delivery.bare_ack:
        return Answer(200, None)
    body = {"id": stored.id, "duplicate": stored.duplicate}
    return Answer(200 if stored.duplicate else 202, body)


def unstorable(platform: str, exc: Exception) -> Answer:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return refuse(platform, Refusal(400, "unstorable-payload", f"payload refused: {reason}"))
