"""The liveness probe on the event loop: `GET /health/live` never queues behind other work.

Through Django every request crosses the process's one sync thread (the middleware chain is
sync), so a probe waited behind whatever else the process was serving, and a busy process
could look dead to its orchestrator. The liveness answer consults nothing, so this wrapper
sends it straight from the loop (the same body as `health.views.live`, which serves it under
WSGI and the test client). Readiness stays in Django: it queries the database and Redis.
"""

from django.utils.http import http_date

from orchestrator.health.views import HEALTH_JSON, liveness

LIVE_PATHS = {"/health/live", "/health/live/"}
# What Django's never_cache sets, so no proxy serves a stale "alive".
NEVER_CACHE = b"max-age=0, no-cache, no-store, must-revalidate, private"


class ProbeFastPath:
    """ASGI middleware: answer GET /health/live directly, pass the rest through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        live = scope["type"] == "http" and scope["path"] in LIVE_PATHS
        if not live or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        status, body = liveness()
        headers = [
            (b"content-type", HEALTH_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", NEVER_CACHE),
            (b"expires", http_date().encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
