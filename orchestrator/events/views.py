"""The webhook endpoint as a Django view: `POST /webhooks/<platform>/` and the legacy aliases.

It runs the one ingest pipeline (`orchestrator.events.ingest`), as the ASGI fast path does;
under uvicorn webhook requests reach the fast path first, so this door serves WSGI, the test
client, and any stack without the fast path installed.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from extensions import registry
from orchestrator.events.ingest import Inbound, admit, ingest
from orchestrator.events.webhooks import Answer, Refusal, too_large_message


@csrf_exempt
async def webhook(request: HttpRequest, platform: str) -> HttpResponse:
    """Verify, dedupe and store one delivery; answer per SPEC §4."""
    client = request.META.get("REMOTE_ADDR") or ""
    if (throttled := admit(platform, client)) is not None:
        return render(throttled)
    await registry.refresh_async()
    if registry.receiver(platform, refresh=False) is None:
        raise Http404(f"no webhook for {platform!r}")

    async def read_body() -> bytes:
        return read_capped(request)

    inbound = Inbound(platform, request.method, request.headers, read_body, client)
    return render(await ingest(inbound, on_loop=False))


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
