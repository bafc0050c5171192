"""Webhook routes, from the same paths the ASGI fast path answers (`webhooks.route_paths`):
`/webhooks/<platform>/` with and without the trailing slash, plus the legacy
`/<platform>/events` alias each built-in platform had."""

from django.urls import path

from orchestrator.events.views import webhook
from orchestrator.events.webhooks import route_paths, webhook_platforms


def platform_routes(platform: str) -> list:
    canonical, *aliases = route_paths(platform)
    kwargs = {"platform": platform}
    routes = [path(canonical.lstrip("/"), webhook, kwargs, name=f"webhook-{platform}")]
    return routes + [path(alias.lstrip("/"), webhook, kwargs) for alias in aliases]


webhook_urlpatterns = [route for name in webhook_platforms() for route in platform_routes(name)]
