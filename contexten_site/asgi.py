"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contexten_site.settings")
# Build the Django app first: it sets up the app registry the websocket routes import from.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from contexten_site.routing import websocket_urlpatterns  # noqa: E402
from orchestrator.core import heap  # noqa: E402
from orchestrator.events.asgi import WebhookFastPath  # noqa: E402
from orchestrator.flags.asgi import OfrepFastPath  # noqa: E402
from orchestrator.health import metrics  # noqa: E402
from orchestrator.health.asgi import ProbeFastPath  # noqa: E402

metrics.enable_background_flush()

application = ProtocolTypeRouter(
    {
        # Webhooks, warm OFREP evaluations and the liveness probe skip Django's HTTP stack and
        # its one sync thread (measured: docs/performance.md, "The HTTP surface").
        "http": ProbeFastPath(OfrepFastPath(WebhookFastPath(django_asgi_app))),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
heap.freeze_startup_heap()
