"""The webhook fast path: POSTs to webhook URLs are answered before Django's HTTP stack.

Why: the ingest target (SPEC §11) is half of pgbench's insert rate. Through Django's ASGI
handler a webhook pays for the whole middleware chain, and WhiteNoise's middleware is sync-only,
so every request hops onto the process's single sync thread and back (measurements in
docs/architecture.md). This wrapper runs the same pipeline (`orchestrator.events.webhooks`) on
the event loop and only the store on a worker thread. It also reads the body as it streams,
so a body without Content-Length is cut off at WEBHOOK_MAX_BYTES instead of being spooled.

Everything else, including GET/PUT on webhook URLs (answered 405 by the Django view), goes to
the wrapped application unchanged. Webhooks skip no check that matters to them: they use no
session, cookie or CSRF token, and their routes are derived from the same registry.
"""

import json
import logging
import re

from asgiref.sync import sync_to_async
from django.conf import settings

from extensions import registry
from orchestrator.events import fast_store
from orchestrator.events.webhooks import (
    Answer,
    Delivery,
    Refusal,
    check_size,
    refuse,
    store_in_thread,
    stored_answer,
    too_large_message,
    unstorable,
    verify_and_parse,
)

logger = logging.getLogger("contexten.webhooks")


# Every path a platform's webhook answers on; the platform is looked up in the registry.
WEBHOOK_PATH = re.compile(r"^/(?:webhooks/(?P<a>[-a-zA-Z0-9_]+)/?|(?P<b>[-a-zA-Z0-9_]+)/events/?)$")


async def platform_for(path: str) -> str | None:
    """The installed extension whose webhook answers on `path`, or None."""
    match = WEBHOOK_PATH.match(path)
    if match is None:
        return None
    await registry.refresh_async()
    platform = match["a"] or match["b"]
    return platform if registry.receiver(platform, refresh=False) is not None else None


class WebhookFastPath:
    """ASGI middleware: handle webhook POSTs directly, pass everything else through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        platform = await platform_for(scope.get("path", ""))
        if platform is None:
            return await self.app(scope, receive, send)
        answer = await self.handle(platform, scope, receive)
        await send_answer(send, answer)

    async def handle(self, platform: str, scope, receive) -> Answer:
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        try:
            check_size(platform, headers.get("content-length"))
            body = await read_capped(receive)
            delivery = verify_and_parse(platform, headers, body)
        except Refusal as refusal:
            return refuse(platform, refusal)
        try:
            if fast_store.enabled():
                return await store_on_loop(platform, delivery)
            return await sync_to_async(store_in_thread, thread_sensitive=False)(platform, delivery)
        except Exception:  # the database or broker is down: the platform will retry
            logger.exception("%s.webhook.store-failed", platform)
            return Answer(503, {"error": "cannot store the event right now; retry later"})


async def store_on_loop(platform: str, delivery: Delivery) -> Answer:
    """Postgres: store through the async pool, on the event loop."""
    if delivery.reply is not None:
        return Answer(200, delivery.reply)
    try:
        stored = await fast_store.store_event_async(
            platform, delivery.type, delivery.delivery_id, delivery.data_json
        )
    except fast_store.UnstorablePayload as exc:
        return unstorable(platform, exc)
    return stored_answer(delivery, stored)


async def read_capped(receive) -> bytes:
    """Collect the body as it arrives, refusing it once it passes WEBHOOK_MAX_BYTES."""
    limit = settings.WEBHOOK_MAX_BYTES
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refusal(400, "client-disconnected", "client went away mid-body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Refusal(413, "too-large", too_large_message())
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def send_answer(send, answer: Answer) -> None:
    body = b"" if answer.body is None else json.dumps(answer.body).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if answer.body is not None:
        headers.append((b"content-type", b"application/json"))
    headers += [(name.lower().encode(), value.encode()) for name, value in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
