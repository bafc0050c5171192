"""The webhook fast path: requests to webhook URLs are answered before Django's HTTP stack.

Why: the ingest target (SPEC §11) is half of pgbench's insert rate (parity the aim). Through
Django's ASGI handler a webhook pays for the whole middleware chain, whose sync-only hooks hop
onto the process's single sync thread and back (measurements in docs/architecture.md). This
wrapper runs the same pipeline as the Django view (`orchestrator.events.ingest`), on the event
loop, storing through the loop's async pool on Postgres. It reads the body as it streams, so a
body without Content-Length is cut off at WEBHOOK_MAX_BYTES instead of being spooled.

Every other path goes to the wrapped application unchanged. Webhooks skip no check that
matters to them: they use no session, cookie or CSRF token, and their paths come from the
same templates as the Django routes (`webhooks.ROUTE_TEMPLATES`). The platform is looked up
in the extension registry per request, so an extension installed while the process runs is
reachable at once; a path naming no installed receiver goes on to Django (and its 404).
"""

import json

from django.conf import settings
from django.db import DatabaseError

from extensions import registry
from orchestrator.events.ingest import Inbound, admit, ingest, unavailable
from orchestrator.events.webhooks import Answer, Refusal, platform_in, too_large_message


async def platform_for(path: str) -> str | None:
    """The installed extension whose webhook answers on `path`, or None."""
    platform = platform_in(path)
    if platform is None:
        return None
    await registry.refresh_async()
    return platform if registry.receiver(platform, refresh=False) is not None else None


class WebhookFastPath:
    """ASGI middleware: handle requests to webhook paths directly, pass the rest through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        named = platform_in(scope.get("path", "")) if scope["type"] == "http" else None
        client = (scope.get("client") or ("",))[0]
        if named is not None and (throttled := admit(named, client)) is not None:
            return await send_answer(send, throttled)  # before the registry is even read
        try:
            platform = await platform_for(scope["path"]) if named is not None else None
        except DatabaseError:  # the registry could not be read: nothing stored, say so
            return await send_answer(send, unavailable())
        if platform is None:
            return await self.app(scope, receive, send)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }

        async def read_body() -> bytes:
            return await read_capped(receive)

        inbound = Inbound(platform, scope["method"], headers, read_body, client)
        await send_answer(send, await ingest(inbound, on_loop=True))


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
