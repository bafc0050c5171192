"""The webhook endpoint as a Django view: `POST /webhooks/<platform>/` and the legacy aliases.

The view is async so that the request never holds the server's one sync thread: verifying
and parsing run on the event loop, and only the store (one INSERT, one broker push) runs in a
worker thread.
"""

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from extensions import registry
from orchestrator.events.webhooks import (
    Answer,
    Refusal,
    check_size,
    refuse,
    store_in_thread,
    too_large_message,
    verify_and_parse,
)

logger = logging.getLogger("contexten.webhooks")


@csrf_exempt
async def webhook(request: HttpRequest, platform: str) -> HttpResponse:
    """Verify, dedupe and store one delivery; answer per SPEC §4."""
    await registry.refresh_async()
    if registry.receiver(platform, refresh=False) is None:
        raise Http404(f"no webhook for {platform!r}")
    if request.method != "POST":
        answer = refuse(platform, Refusal(405, "method-not-allowed", "use POST"))
        return render(Answer(405, answer.body, {"Allow": "POST"}))
    try:
        check_size(platform, request.headers.get("content-length"))
        body = read_capped(request)
        delivery = verify_and_parse(platform, request.headers, body)
    except Refusal as refusal:
        return render(refuse(platform, refusal))
    try:
        answer = await sync_to_async(store_in_thread, thread_sensitive=False)(platform, delivery)
    except Exception:  # the database or broker is down: the platform will retry
        logger.exception("%s.webhook.store-failed", platform)
        answer = Answer(503, {"error": "cannot store the event right now; retry later"})
    return render(answer)


def read_capped(request: HttpRequest) -> bytes:
    """Read at most WEBHOOK_MAX_BYTES + 1, so a body without Content-Length cannot grow."""
    limit = settings.WEBHOOK_MAX_BYTES
    body = request.read(limit + 1)
    if len(body) > limit:
        raise Refusal(413, "too-large", too_large_message())
    return body


def render(answer: Answer) -> HttpResponse:
    if answer.body is None:
        response = HttpResponse(status=answer.status)
    else:
        response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response
